"""Where metrics go besides ``metrics.csv``: TensorBoard (default), Weights & Biases and
MLflow, behind one interface (:class:`Backend`: ``log(metrics, step)`` and ``close()``).

- ``tensorboard``: ``OUT/tb`` (torch's ``SummaryWriter``).
- ``wandb``: a W&B run in ``OUT/wandb``, **offline** unless ``WANDB_MODE`` says otherwise
  (``wandb sync OUT/wandb/offline-run-*`` uploads it later); project ``WANDB_PROJECT`` or
  ``mfmarl``; the run's config as W&B config; a resumed run continues the same W&B run.
- ``mlflow``: an MLflow run in the local file store ``OUT/mlruns`` unless
  ``MLFLOW_TRACKING_URI`` names another (MLflow 3 keeps the file store only on request:
  ``MLFLOW_ALLOW_FILE_STORE`` is set for it); experiment ``MLFLOW_EXPERIMENT_NAME`` or
  ``mfmarl``; the run's config flattened into parameters; a resumed run continues the same
  MLflow run.

The x-axis is the global environment step everywhere. W&B and MLflow are optional
(``pip install 'mfmarl[loggers]'``); asking for one that is not installed is a one-line
error before training starts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from mfmarl.core.errors import ConfigError, require

LOGGERS = ("tensorboard", "wandb", "mlflow")
"""The backends, each named as the package it needs."""


class Backend(Protocol):
    def log(self, metrics: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


TB_BURST_SECONDS = 1.0
"""Longest wait before logged rows are handed to TensorBoard's writer."""


def check_loggers(names: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for an unknown logger or one whose package is missing."""
    for name in names:
        require(name in LOGGERS, f"logger {name!r} is not one of {', '.join(LOGGERS)}")
        if importlib.util.find_spec(name) is None:
            raise ConfigError(
                f"logger {name}: the {name} package is not installed "
                "(pip install 'mfmarl[loggers]')"
            )


class TensorBoardBackend:
    """TensorBoard event files in ``OUT/tb``.

    A row's scalars go out as one event (``add_scalar`` queues one per key), and rows are
    handed to the writer in bursts, at most :data:`TB_BURST_SECONDS` apart: every hand-over
    wakes the writer's thread, and one a row took as long as a Gaussian Squeeze round of 100
    agents trains (about 2 ms with other work on the cores). The writer itself keeps events
    in memory up to two minutes before they reach the file, so the bursts lose nothing
    that it would have kept; ``metrics.csv`` has every row at once.
    """

    def __init__(self, out: Path, purge_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer: Any = SummaryWriter(log_dir=str(out / "tb"), purge_step=purge_step)
        self._pending: list[tuple[Any, int]] = []
        self._sent = time.monotonic()

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        # what add_scalar writes (simple_value), without its per-key checks and wrapping
        values = [Summary.Value(tag=key, simple_value=float(v)) for key, v in metrics.items()]
        self._pending.append((Summary(value=values), step))
        if time.monotonic() - self._sent >= TB_BURST_SECONDS:
            self._send()

    def _send(self) -> None:
        writer = self.writer._get_file_writer()
        for summary, step in self._pending:
            writer.add_summary(summary, step)
        self._pending.clear()
        self._sent = time.monotonic()

    def log_animation(
        self, tag: str, path: Path, gif: bytes, size: tuple[int, int], step: int
    ) -> None:
        """The GIF as an image summary: TensorBoard's images tab plays it (``add_video``
        encodes the same way, but needs moviepy)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        image = Summary.Image(
            height=int(size[0]), width=int(size[1]), colorspace=3, encoded_image_string=gif
        )
        self._pending.append((Summary(value=[Summary.Value(tag=tag, image=image)]), step))
        self._send()

    def close(self) -> None:
        self._send()
        self.writer.close()


def _run_id(path: Path, resume: bool, make: Any) -> str:
    """The id kept in ``path`` when continuing a run, else a new one (written there)."""
    if resume and path.is_file():
        return path.read_text().strip()
    run_id = str(make())
    path.write_text(run_id + "\n")
    return run_id


class WandbBackend:
    def __init__(self, out: Path, config: Mapping[str, Any], resume: bool) -> None:
        import wandb

        run_id = _run_id(out / ".wandb-run-id", resume, lambda: uuid.uuid4().hex[:12])
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "mfmarl"),
            dir=str(out),
            id=run_id,
            name=out.name,
            resume="allow",
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
            config=dict(config),
            settings=wandb.Settings(silent=True, console="off"),
        )

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def log_animation(
        self, tag: str, path: Path, gif: bytes, size: tuple[int, int], step: int
    ) -> None:
        import wandb

        self.run.log({tag: wandb.Video(str(path), format="gif")}, step=step)

    def close(self) -> None:
        self.run.finish()


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = json.dumps(value, default=str)[:500]
    return out


class MlflowBackend:
    def __init__(self, out: Path, config: Mapping[str, Any], resume: bool) -> None:
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # the local file store, which MLflow 3 keeps only on request
            uri = (out / "mlruns").resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "mfmarl")
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)

        def new_run() -> str:
            run = self.client.create_run(experiment_id, run_name=out.name)
            for key, value in _flat(config).items():
                self.client.log_param(run.info.run_id, key, value)
            return str(run.info.run_id)

        self.run_id = _run_id(out / ".mlflow-run-id", resume, new_run)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = _millis()
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_animation(
        self, tag: str, path: Path, gif: bytes, size: tuple[int, int], step: int
    ) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=tag.split("/")[0])

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def _millis() -> int:
    import time

    return int(time.time() * 1000)


def make_backends(
    names: Sequence[str],
    out: Path,
    config: Mapping[str, Any],
    resume: bool,
    purge_step: int | None,
) -> list[Backend]:
    """The backends ``names`` asks for, writing under ``out``."""
    check_loggers(names)
    made: list[Backend] = []
    for name in dict.fromkeys(names):
        try:
            if name == "tensorboard":
                made.append(TensorBoardBackend(out, purge_step))
            elif name == "wandb":
                made.append(WandbBackend(out, config, resume))
            else:
                made.append(MlflowBackend(out, config, resume))
        except ConfigError:
            raise
        except Exception as exc:  # a backend's own failure (service, store) is one line
            for backend in made:
                backend.close()
            message = " ".join(str(exc).split())[:300]
            raise ConfigError(f"logger {name}: {type(exc).__name__}: {message}") from exc
    return made
