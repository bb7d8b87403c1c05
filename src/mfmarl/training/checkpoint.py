"""Checkpoints: tensors in ``model.safetensors``, everything else in ``checkpoint.json``.

Nothing is ever unpickled. A save writes both files into a staging directory
``<path>.new`` and then swaps it in (``<path>`` → ``<path>.old``, ``<path>.new`` → ``<path>``,
then ``<path>.old`` is removed), so a process killed at any instant (SIGKILL included) leaves
one complete checkpoint: ``<path>``, or ``<path>.old`` between the two renames, which
:func:`resolve_checkpoint_dir` falls back to. The JSON records the SHA-256 of the tensor
file, so a tensor file that does not belong to its JSON (a torn copy, a corrupt download) is
refused on load.

Tensor names: ``<module>.<param>`` for the learner's modules (``learner.state_dict()``),
``optimizer/<name>/<param index>/<key>`` for optimizer state and ``learner/<name>`` for the
learner's own state (sampling generator, running reward mean).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as safetensors_save

from mfmarl import __version__
from mfmarl.algorithms import AlgorithmConfig, Learner, make_learner
from mfmarl.core.errors import MAX_STEPS, ConfigError
from mfmarl.networks.precision import native_bf16, pinned_auto
from mfmarl.training.checkpoint_format import (
    FORMAT_VERSION,
    LEARNER_PREFIX,
    META_FILE,
    MODEL_FILE,
    OPTIMIZER_PREFIX,
    RUN_FILE,
    check_shapes,
    first_line,
    optimizer_key,
    param_groups_valid,
    read_metadata,
    read_tensors,
)
from mfmarl.training.rundir import write_bytes_atomic, write_json_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint: its JSON metadata and its tensors (on the CPU)."""

    path: Path
    metadata: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @property
    def algorithm(self) -> str:
        return str(self.metadata["algorithm"])

    def module_tensors(self) -> dict[str, torch.Tensor]:
        """The learner's module tensors only (no optimizer or learner state)."""
        return {k: v for k, v in self.tensors.items() if "/" not in k}


def algorithm_config_dict(config: AlgorithmConfig) -> dict[str, Any]:
    """The config as a JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


def algorithm_config_from_dict(data: dict[str, Any]) -> AlgorithmConfig:
    """Inverse of :func:`algorithm_config_dict`: lists become tuples, unknown keys are dropped.

    Raises :class:`ConfigError` when a value is invalid.
    """
    hints = typing.get_type_hints(AlgorithmConfig)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(AlgorithmConfig):
        if f.name not in data:
            continue
        value = data[f.name]
        if typing.get_origin(hints[f.name]) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(AlgorithmConfig)})
    if unknown:
        log.warning("ignoring unknown algorithm settings %s", ", ".join(unknown))
    try:
        return AlgorithmConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"invalid algorithm settings: {exc}") from exc


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous().clone()


def _optimizer_state(learner: Learner) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer tensors by name and the JSON-ready param groups of every optimizer."""
    tensors: dict[str, torch.Tensor] = {}
    groups: dict[str, Any] = {}
    for name, optimizer in learner.optimizers().items():
        state = optimizer.state_dict()
        for index, entry in state["state"].items():
            for key, value in entry.items():
                if not isinstance(value, torch.Tensor):
                    value = torch.tensor(value)
                tensors[f"{OPTIMIZER_PREFIX}{name}/{index}/{key}"] = _cpu(value)
        groups[name] = state["param_groups"]
    return tensors, groups


LEARNER_TENSORS = ("reward_mean", "reward_magnitude")
"""The learner's own tensor attributes a checkpoint holds (besides its modules)."""
LEARNER_COUNTERS = {
    "updates": int,
    "env_steps": int,
    "episodes": int,
    "reward_mean_ready": bool,
}
"""The learner's own scalar attributes a checkpoint holds, with their types."""


def _learner_state(learner: Learner) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The learner's own state besides its modules: the sampling generator, the running
    reward statistics and the counters (``updates``, ``env_steps``, ...)."""
    tensors = {f"{LEARNER_PREFIX}generator": learner.generator.get_state()}
    for name in LEARNER_TENSORS:
        tensors[f"{LEARNER_PREFIX}{name}"] = _cpu(getattr(learner, name))
    state = {name: kind(getattr(learner, name)) for name, kind in LEARNER_COUNTERS.items()}
    return tensors, state


def save_checkpoint(
    path: str | Path, learner: Learner, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model.safetensors`` and ``checkpoint.json`` into directory ``path`` (staged and
    swapped in, see the module docstring).

    ``metadata`` adds caller facts (``env``, ``episode``, ...) to the JSON, which always holds
    the algorithm, its config, the package version, the tensor shapes, ``n_agents``,
    ``n_actions``, ``obs_dim``, ``mean_action_dim`` and ``env_steps``. Returns the directory.
    """
    out = Path(path)
    staging, old = _sibling(out, ".new"), _sibling(out, ".old")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write_learner(staging, learner, metadata)
    _swap_in(staging, out, old)
    return out


def save_run_checkpoint(
    path: str | Path, learners: Mapping[str, Learner], metadata: dict[str, Any]
) -> Path:
    """One checkpoint of a whole run, staged and swapped in as a unit: a directory per
    learner (``<path>/<group>/``, as :func:`save_checkpoint` writes it) and ``run.json``
    (``metadata``: the episode, the trainer's generator, ...)."""
    out = Path(path)
    staging, old = _sibling(out, ".new"), _sibling(out, ".old")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for group, learner in learners.items():
        (staging / group).mkdir()
        write_learner(staging / group, learner, {**metadata, "group": group})
    write_json_atomic(staging / RUN_FILE, {**metadata, "learners": list(learners)})
    _swap_in(staging, out, old)
    return out


def write_learner(out: Path, learner: Learner, metadata: Mapping[str, Any] | None = None) -> None:
    """``model.safetensors`` and ``checkpoint.json`` of ``learner`` into the directory
    ``out`` (which exists)."""
    tensors = {k: _cpu(v) for k, v in learner.state_dict().items()}
    optim_tensors, optim_groups = _optimizer_state(learner)
    learner_tensors, learner_state = _learner_state(learner)
    tensors.update(optim_tensors)
    tensors.update(learner_tensors)
    blob = safetensors_save(tensors)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "mfmarl_version": __version__,
        "algorithm": learner.config.algo,
        "config": algorithm_config_dict(learner.config),
        "n_agents": learner.n_agents,
        "n_actions": learner.n_actions,
        "obs_dim": learner.obs_dim,
        "mean_action_dim": learner.mean_action_dim,
        "view_shape": list(learner.view_shape) if learner.view_shape is not None else None,
        "precision": learner.precision,
        "env_steps": int(getattr(learner, "env_steps", 0)),
    }
    meta.update(metadata or {})
    meta.update(
        {
            "learner_state": learner_state,
            "optimizer_param_groups": optim_groups,
            "tensors": {k: list(v.shape) for k, v in tensors.items()},
            "model_sha256": hashlib.sha256(blob).hexdigest(),
        }
    )
    write_bytes_atomic(out / MODEL_FILE, blob)
    write_json_atomic(out / META_FILE, meta)


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _swap_in(staging: Path, out: Path, old: Path) -> None:
    """Make ``staging`` the checkpoint at ``out`` so that a complete one exists at every
    instant: at ``out``, or at ``old`` between the two renames."""
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)  # a stale copy: ``out`` is complete
        os.replace(out, old)
    os.replace(staging, out)
    _fsync_dir(out.parent)
    shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve_checkpoint_dir(path: str | Path, marker: str = META_FILE) -> Path:
    """``path``, or ``<path>.old`` when a save was killed between its two renames (``marker``:
    the file a complete checkpoint has)."""
    where = Path(path)
    if not where.name:  # "." or "..": name the directory itself
        where = where.resolve()
    if not where.name:  # the file system root
        return where
    old = _sibling(where, ".old")
    if not (where / marker).is_file() and (old / marker).is_file():
        log.warning("checkpoint %s: using %s (a save was interrupted)", where, old)
        return old
    return where


def _restore_optimizers(learner: Learner, ckpt: Checkpoint) -> None:
    groups = ckpt.metadata.get("optimizer_param_groups") or {}
    for name, optimizer in learner.optimizers().items():
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, tensor in ckpt.tensors.items():
            parts = optimizer_key(key) if key.startswith(OPTIMIZER_PREFIX) else None
            if parts is not None and parts[0] == name:
                state.setdefault(parts[1], {})[parts[2]] = tensor
        if name not in groups:
            continue
        if not param_groups_valid(groups[name]):
            raise ConfigError(f"checkpoint {ckpt.path}: bad optimizer settings for {name}")
        try:
            optimizer.load_state_dict({"state": state, "param_groups": groups[name]})
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            log.warning("optimizer %s state not restored: %s", name, first_line(exc))


def _restore_learner_state(learner: Learner, ckpt: Checkpoint) -> None:
    """Set the generator, tensor attributes and counters that the learner has."""
    for key, tensor in ckpt.tensors.items():
        if not key.startswith(LEARNER_PREFIX):
            continue
        name = key[len(LEARNER_PREFIX) :]
        if name == "generator":
            try:
                learner.generator.set_state(tensor)
            except (RuntimeError, TypeError, ValueError) as exc:
                raise ConfigError(f"checkpoint {ckpt.path}: bad generator state") from exc
            continue
        current = getattr(learner, name, None)
        if name in LEARNER_TENSORS and isinstance(current, torch.Tensor):
            if current.shape == tensor.shape:
                setattr(learner, name, tensor.to(current.device).clone())
    state = ckpt.metadata.get("learner_state") or {}
    if isinstance(state, dict):
        for name, kind in LEARNER_COUNTERS.items():
            value = state.get(name)
            if kind is bool and type(value) is bool:
                setattr(learner, name, value)
            elif kind is int and type(value) is int and 0 <= value <= MAX_STEPS:
                setattr(learner, name, value)


def load_checkpoint(
    path: str | Path, learner: Learner | None = None, expected_algo: str | None = None
) -> Checkpoint:
    """Read and validate a checkpoint directory; load it into ``learner`` when given.

    Raises :class:`ConfigError` (one line) when a file is missing, unreadable or corrupt, when
    the algorithm is not ``expected_algo``, or when a tensor's shape differs from the
    learner's. With a learner, its modules, optimizers, sampling generator and counters are
    restored.
    """
    where = resolve_checkpoint_dir(path)
    if not where.is_dir():
        raise ConfigError(f"checkpoint {where}: no such directory")
    for name in (MODEL_FILE, META_FILE):
        if not (where / name).is_file():
            raise ConfigError(f"checkpoint {where}: missing {name}")
    meta = read_metadata(where)
    if expected_algo is not None and meta["algorithm"] != expected_algo:
        raise ConfigError(f"checkpoint {where} is {meta['algorithm']}, expected {expected_algo}")
    ckpt = Checkpoint(where, meta, read_tensors(where, meta))
    if learner is not None:
        load_into(learner, ckpt)
    return ckpt


def load_into(learner: Learner, ckpt: Checkpoint) -> None:
    """Check shapes against ``learner`` and restore its modules, optimizers and counters."""
    if learner.config.algo != ckpt.algorithm:
        raise ConfigError(
            f"checkpoint {ckpt.path} is {ckpt.algorithm}, expected {learner.config.algo}"
        )
    expected = learner.state_dict()
    modules = ckpt.module_tensors()
    check_shapes(ckpt.path, expected, modules)
    learner.load_state_dict({k: v.to(expected[k].device) for k, v in modules.items()})
    _restore_optimizers(learner, ckpt)
    _restore_learner_state(learner, ckpt)


def learner_from_record(
    record: Mapping[str, Any], where: str, bad: str, device: str = "cpu"
) -> Learner:
    """A fresh learner as ``record`` describes it (``config``, ``obs_dim``, ``n_actions``,
    ``n_agents``, and ``mean_action_dim`` and ``view_shape`` when set): the record of a
    checkpoint or of an exported policy. A malformed record is a ConfigError
    ``"{where}: {bad} (...)"``."""
    try:
        config = algorithm_config_from_dict(dict(record["config"]))
        sizes = {k: int(record[k]) for k in ("obs_dim", "n_actions", "n_agents")}
        mean_action_dim = int(record.get("mean_action_dim") or sizes["n_actions"])
        view = record.get("view_shape")
        view_shape = (int(view[0]), int(view[1]), int(view[2])) if view is not None else None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(f"{where}: {bad} ({first_line(exc)})") from exc
    with pinned_auto(recorded_precision(record, device), device):
        return make_learner(
            config,
            sizes["obs_dim"],
            sizes["n_actions"],
            sizes["n_agents"],
            device=device,
            view_shape=view_shape,
            mean_action_dim=mean_action_dim,
        )


def recorded_precision(record: Mapping[str, Any], device: str = "cpu") -> str | None:
    """What ``precision="auto"`` resolves to for a learner rebuilt from ``record`` on
    ``device``: the arithmetic it was saved in (the record's ``precision``), so that a trained
    player plays alike in every process, without a timing probe; fp32 where that was bf16 and
    ``device`` has no native bfloat16 (emulated, it would be several times slower). None
    where the record has no valid choice (records written before it: auto probes)."""
    saved = record.get("precision")
    if saved not in ("fp32", "bf16"):
        return None
    return saved if saved == "fp32" or native_bf16(device) else "fp32"


def learner_from_checkpoint(
    path: str | Path, device: str = "cpu", expected_algo: str | None = None
) -> Learner:
    """Rebuild the learner recorded in ``checkpoint.json`` and load its tensors."""
    ckpt = load_checkpoint(path, expected_algo=expected_algo)
    learner = learner_from_record(
        ckpt.metadata, f"checkpoint {ckpt.path}", f"bad {META_FILE}", device
    )
    load_into(learner, ckpt)
    return learner


@dataclass(frozen=True)
class RunCheckpoint:
    """A run's checkpoint: ``run.json`` and one :class:`Checkpoint` per learning group."""

    path: Path
    metadata: dict[str, Any]
    learners: dict[str, Checkpoint]


def load_run_checkpoint(path: str | Path) -> RunCheckpoint:
    """Read a run checkpoint written by :func:`save_run_checkpoint` (falling back to
    ``<path>.old`` after a killed save); every learner's files are validated."""
    import json

    where = resolve_checkpoint_dir(path, RUN_FILE)
    if not (where / RUN_FILE).is_file():
        raise ConfigError(f"checkpoint {where}: no such run checkpoint ({RUN_FILE} missing)")
    try:
        meta = json.loads((where / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"checkpoint {where}: {RUN_FILE} is not valid JSON") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("learners"), list):
        raise ConfigError(f"checkpoint {where}: {RUN_FILE} does not list its learners")
    learners = {}
    for group in meta["learners"]:
        if not isinstance(group, str) or not group or "/" in group or group.startswith("."):
            raise ConfigError(f"checkpoint {where}: bad learner name {group!r}")
        learners[group] = load_checkpoint(where / group)
    return RunCheckpoint(where, meta, learners)
