"""Output directories and atomic file writes."""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mfmarl.core.errors import ConfigError

log = logging.getLogger(__name__)

RUN_OUTPUTS: tuple[str, ...] = (
    "config.json",
    "metrics.csv",
    "summary.json",
    "tb",
    "checkpoint",
    "checkpoint.new",
    "checkpoint.old",
    ".*.tmp",
)
"""What a training run writes into its directory (glob patterns)."""
EXPERIMENT_OUTPUTS: tuple[str, ...] = (
    "config.json",
    "results.json",
    "report.md",
    "runs",
    "*.png",
    ".*.tmp",
)
"""What an experiment (``mfmarl reproduce``) writes into its directory (glob patterns)."""
KNOWN_OUTPUTS: tuple[str, ...] = tuple(dict.fromkeys(RUN_OUTPUTS + EXPERIMENT_OUTPUTS))
"""Everything mfmarl writes. ``--force`` clears only such names, so unrelated files in the
directory survive."""


def _is_known(name: str, known: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in known)


def _remove(path: Path) -> None:
    """Delete a file, a link (never its target) or a directory tree."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


def prepare_run_dir(
    path: str | os.PathLike[str], force: bool, known: Iterable[str] = KNOWN_OUTPUTS
) -> Path:
    """Create the output directory ``path`` and return it.

    An existing non-empty directory is refused unless ``force``; with ``force`` the entries
    matching ``known`` (mfmarl's own outputs) are deleted. Nothing outside ``path`` is touched.
    Raises :class:`ConfigError` when ``path`` is a file or cannot be created.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory")
    if out.is_dir():
        entries = sorted(out.iterdir())
        if entries and not force:
            raise ConfigError(
                f"--out {out} is not empty; pass --force to overwrite mfmarl's outputs there"
            )
        known = tuple(known)
        for entry in entries:
            if _is_known(entry.name, known):
                log.info("removing %s", entry)
                _remove(entry)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the directory ({exc.strerror})") from exc
    return out


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``.

    A reader sees either the old file or the complete new one, never a partial write.
    """
    target = Path(path)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with tmp.open("xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """:func:`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _finite(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` (JSON has no NaN); tuples become lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (temp file + ``os.replace``).

    NaN and infinities are written as ``null``; other non-JSON values as their ``str``.
    """
    text = json.dumps(_finite(obj), indent=2, default=str, allow_nan=False)
    write_text_atomic(path, text + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; a missing or malformed file raises a one-line :class:`ConfigError`."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: not readable JSON ({type(exc).__name__})") from exc
