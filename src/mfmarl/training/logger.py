"""Per-episode metrics to ``metrics.csv`` and TensorBoard, under namespaced keys."""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mfmarl.training.rundir import write_text_atomic

STEP_COLUMN = "episode"
GLOBAL_STEP = "charts/global_step"
"""The environment steps so far: TensorBoard's x-axis when a row has it (else the episode)."""


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return str(value)


class MetricsLogger:
    """Writes one row per episode to ``out_dir/metrics.csv`` and scalars to ``out_dir/tb``
    (x-axis: the environment step, :data:`GLOBAL_STEP`, with ``charts/episode`` as a scalar).

    Keys are namespaced (``charts/episodic_return``, ``env/G``, ``losses/td_loss``). The CSV
    header is the union of every key seen so far, in first-seen order: when a key first
    appears late (a loss before the first update, say), the file is rewritten once with the
    wider header and earlier rows keep an empty cell there. Every row is flushed at once, so
    an interrupted run keeps what it logged.
    """

    def __init__(
        self,
        out_dir: str | Path,
        tensorboard: bool = True,
        append: bool = False,
        loggers: Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """``append``: keep the rows of an existing ``metrics.csv`` (a resumed run); the
        TensorBoard events at or after the next step are purged. ``loggers``: the backends
        besides the CSV (:mod:`mfmarl.training.backends`; default: TensorBoard unless
        ``tensorboard`` is False); ``config``: the run's config for W&B and MLflow."""
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out_dir / "metrics.csv"
        self.columns: list[str] = [STEP_COLUMN]
        self.rows: list[dict[str, str]] = []
        if append and self.csv_path.is_file():
            self.columns, self.rows = _read_rows(self.csv_path)
            self._file = self.csv_path.open("a", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=self.columns)
        else:
            self._file = self.csv_path.open("w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=self.columns)
            self._writer.writeheader()
            self._file.flush()
        from mfmarl.training.backends import make_backends

        names = list(loggers) if loggers is not None else (["tensorboard"] if tensorboard else [])
        purge = self._next_tb_step() if append else None
        self._backends: list[Any] = make_backends(
            names, self.out_dir, dict(config or {}), append, purge
        )

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Append one row. ``step`` defaults to ``metrics["episode"]`` (or the row count)."""
        if step is None:
            step = int(metrics.get(STEP_COLUMN, len(self.rows)))
        row = {STEP_COLUMN: str(step)}
        row.update({k: _csv_value(v) for k, v in metrics.items() if k != STEP_COLUMN})
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new:
            self.columns.extend(new)
            self._rewrite()
        else:
            self._writer.writerow(row)
            self._file.flush()
        if self._backends:
            x = int(metrics.get(GLOBAL_STEP, step))
            scalars = {"charts/episode": float(step)}
            for key, value in metrics.items():
                if key == STEP_COLUMN or isinstance(value, bool):
                    continue
                if isinstance(value, numbers.Real) and math.isfinite(float(value)):
                    scalars[key] = float(value)
            for backend in self._backends:
                backend.log(scalars, x)

    def log_animation(self, tag: str, name: str, frames: Any, fps: float = 10.0) -> Path:
        """Write ``frames (T, H, W, 3)`` uint8 as the GIF ``out_dir/name`` and show it in the
        backends that take images, at the x of the last row (TensorBoard: images tab)."""
        from mfmarl.training.rundir import write_bytes_atomic

        gif = gif_bytes(frames, fps)
        path = self.out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, gif)
        last = self.rows[-1] if self.rows else {}
        x = int(float(last.get(GLOBAL_STEP) or last.get(STEP_COLUMN) or 0))
        for backend in self._backends:
            log = getattr(backend, "log_animation", None)
            if log is not None:
                log(tag, path, gif, frames.shape[1:3], x)
        return path

    def _next_tb_step(self) -> int:
        """The x of the first TensorBoard event after the kept rows (events from there on
        are purged when a resumed run writes again)."""
        if not self.rows:
            return 0
        last = self.rows[-1]
        try:
            return int(float(last.get(GLOBAL_STEP) or "nan")) + 1
        except ValueError:
            return len(self.rows)

    def _rewrite(self) -> None:
        """Rewrite the whole CSV with the current (wider) header, then keep appending."""
        self._file.close()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.csv_path, buffer.getvalue())
        self._file = self.csv_path.open("a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns)

    def close(self) -> None:
        """Flush and close the CSV file and the backends (safe to call twice)."""
        if not self._file.closed:
            self._file.close()
        backends, self._backends = self._backends, []
        for backend in backends:
            backend.close()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def gif_bytes(frames: Any, fps: float = 10.0) -> bytes:
    """``frames (T, H, W, 3)`` uint8 as a looping animated GIF at ``fps`` frames a second."""
    import imageio.v3 as iio
    import numpy as np

    blob: Any = iio.imwrite(
        "<bytes>", np.asarray(frames), extension=".gif", duration=1000 / fps, loop=0
    )
    return bytes(blob)


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [dict(row) for row in reader]
        columns = list(reader.fieldnames or [STEP_COLUMN])
    return columns, rows


def truncate_metrics(path: str | Path, episodes: int) -> None:
    """Keep only the rows of episodes ``< episodes`` in a ``metrics.csv`` (atomically): a
    resumed run logs the later ones again."""
    p = Path(path)
    if not p.is_file():
        return
    columns, rows = _read_rows(p)
    kept = [row for row in rows if _episode(row) < episodes]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(kept)
    write_text_atomic(p, buffer.getvalue())


def _episode(row: Mapping[str, str]) -> float:
    try:
        return float(row.get(STEP_COLUMN) or math.inf)
    except ValueError:
        return math.inf


def read_metrics(path: str | Path) -> dict[str, list[float]]:
    """Read a ``metrics.csv`` into columns of floats (empty cells become ``nan``)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns: dict[str, list[float]] = {name: [] for name in reader.fieldnames or []}
        for row in reader:
            for name in columns:
                cell = row.get(name) or ""
                try:
                    columns[name].append(float(cell) if cell != "" else math.nan)
                except ValueError:
                    columns[name].append(math.nan)
    return columns
