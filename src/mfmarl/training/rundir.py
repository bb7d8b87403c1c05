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
    "wandb",
    "mlruns",
    ".wandb-run-id",
    ".mlflow-run-id",
    "eval",
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


MARKER = ".mfmarl"
"""The file that marks a directory as mfmarl's output (written when mfmarl takes it)."""
LOCK = ".mfmarl.lock"
"""Held (``flock``) by the process that writes the directory."""
_HELD_LOCKS: dict[str, int] = {}


def lock_run_dir(out: Path) -> None:
    """Lock ``out`` for this process's lifetime (nothing when it holds the lock already);
    another process writing it is a one-line ConfigError."""
    key = str(out.resolve())
    if key in _HELD_LOCKS:
        return
    try:
        fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror})") from exc
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # not POSIX: no lock
        pass
    except OSError as exc:
        os.close(fd)
        raise ConfigError(f"--out {out} is being written by another mfmarl process") from exc
    _HELD_LOCKS[key] = fd


def prepare_run_dir(
    path: str | os.PathLike[str], force: bool, known: Iterable[str] = KNOWN_OUTPUTS
) -> Path:
    """Create (or take) the output directory ``path``, lock it, and return it.

    An existing non-empty directory is refused unless ``force``; with ``force`` it must be a
    directory mfmarl made (its ``.mfmarl`` marker), and only the entries matching ``known``
    (mfmarl's own outputs) are deleted: anything else there, and anything outside ``path``,
    is left alone. The current directory, ``""`` and ``/`` are refused. Raises
    :class:`ConfigError` when ``path`` is a file, cannot be created, or is written by another
    mfmarl process.
    """
    text = os.fspath(path)
    if not text.strip():
        raise ConfigError("--out: give the output directory a name")
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory")
    resolved = out.resolve()
    if resolved == Path.cwd().resolve() or resolved == Path(resolved.anchor):
        raise ConfigError(f"--out {out}: use a directory of its own, not the current or root one")
    if out.is_dir():
        entries = sorted(e for e in out.iterdir() if e.name not in (MARKER, LOCK))
        if entries and not force:
            raise ConfigError(
                f"--out {out} is not empty; pass --force to overwrite mfmarl's outputs there"
            )
        if entries and not (out / MARKER).is_file():
            raise ConfigError(
                f"--out {out} holds files that mfmarl did not write (it has no {MARKER} "
                "marker): nothing is deleted there; choose another --out"
            )
        lock_run_dir(out)
        known = tuple(known)
        for entry in entries:
            if _is_known(entry.name, known):
                log.info("removing %s", entry)
                _remove(entry)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).is_file():
            write_text_atomic(
                out / MARKER, "written by mfmarl; --force may delete its outputs here\n"
            )
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the directory ({exc.strerror})") from exc
    lock_run_dir(out)
    return out


VOLATILE_CONFIG_KEYS = ("command", "executor", "mfmarl_version", "workers")
"""Entries of a ``config.json`` that may differ when a run is continued (how it runs, not
what it computes)."""


def reopen_run_dir(path: str | os.PathLike[str]) -> Path:
    """Take the existing output directory ``path`` of an earlier mfmarl run to continue it
    (``--resume``): it must exist with mfmarl's marker and a ``config.json``; it is locked;
    nothing there is deleted. Raises :class:`ConfigError` otherwise."""
    out = Path(os.fspath(path))
    if not out.is_dir():
        raise ConfigError(f"--resume: no run directory {out}")
    if not (out / MARKER).is_file() or not (out / "config.json").is_file():
        raise ConfigError(f"--resume: {out} is not an mfmarl run directory (no config.json)")
    lock_run_dir(out)
    return out


def write_config(path: Path, record: dict[str, Any], resume: bool = False) -> None:
    """Write ``record`` as the run's ``config.json``; when continuing a run (``resume``),
    first check that the existing one asked for the same work (all but
    :data:`VOLATILE_CONFIG_KEYS`), raising :class:`ConfigError` naming what differs."""
    if resume and path.is_file():
        try:
            old = read_json(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--resume: cannot read {path} ({exc})") from exc
        new = json.loads(json.dumps(_finite(record), default=str))
        old = old if isinstance(old, dict) else {}
        keys = (set(old) | set(new)) - set(VOLATILE_CONFIG_KEYS)
        differ = sorted(k for k in keys if old.get(k) != new.get(k))
        if differ:
            raise ConfigError(
                f"--resume: {path.parent} was started with other settings "
                f"(differing: {', '.join(differ)}); use the same options, or a new --out"
            )
    write_json_atomic(path, record)


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
