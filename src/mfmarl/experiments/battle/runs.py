"""Battle training runs as executor tasks, shared by ``reproduce battle`` and ``sweep battle``:
the preset with overrides, ``KEY=VALUE`` settings parsed by the config fields' types, and the
task that trains one run into its own directory.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import ConfigError
from mfmarl.experiments.battle.env import BattleConfig
from mfmarl.experiments.battle.preset import (
    BattleTrainConfig,
    battle_spec,
    owner,
    scaled_preset,
)
from mfmarl.networks.precision import auto_choice, native_bf16, pinned_auto
from mfmarl.training.run import read_run_record, resolve_device, train_run
from mfmarl.training.rundir import read_json

RESERVED_KEYS = {"algo": "--algo", "seed": "--seeds"}
"""Fields set by their own options."""


@dataclass(frozen=True)
class BattleRunJob:
    """One training run (picklable: a task of an executor)."""

    name: str
    battle: BattleConfig
    algo_config: AlgorithmConfig
    train_config: BattleTrainConfig
    out_dir: str
    checkpoint_every: int = 0
    params: tuple[tuple[str, Any], ...] = ()
    """The swept settings of this run, for reports."""
    auto_precision: str | None = None
    """What ``precision="auto"`` resolved to once for all the runs (:func:`with_auto_precision`);
    None: the run resolves it itself."""

    @property
    def algo(self) -> str:
        return self.algo_config.algo

    @property
    def seed(self) -> int:
        return self.train_config.seed


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def parse_value(key: str, text: str) -> Any:
    """``text`` converted to the type of field ``key`` (int, float, bool, str, a Literal's
    choices, or None for an optional field); a mismatch is a one-line :class:`ConfigError`."""
    if key in RESERVED_KEYS:
        raise ConfigError(f"--set {key}: set it with {RESERVED_KEYS[key]}")
    cls = owner(key)
    hint, optional = _strip_optional(typing.get_type_hints(cls)[key])
    where = f"--set {key}={text}"
    if optional and text.lower() in ("none", "null"):
        return None
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if text not in choices:
            raise ConfigError(f"{where}: {text!r} is not one of {', '.join(map(str, choices))}")
        return text
    if hint is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{where}: {text!r} is not a boolean (true or false)")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not an integer") from None
    if hint is float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {text!r} is not a finite number")
        return value
    if hint is str:
        return text
    raise ConfigError(f"{where}: {key} cannot be set with --set (type {hint})")


def parse_assignments(items: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """``["lr=1e-4,3e-4", "episodes=10"]`` -> ``{"lr": (0.0001, 0.0003), "episodes": (10,)}``:
    each ``KEY=V1,V2,...`` names a field of BattleConfig, AlgorithmConfig or
    BattleTrainConfig; values are converted to its type, repeats dropped."""
    grid: dict[str, tuple[Any, ...]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE[,VALUE...]")
        if key in grid:
            raise ConfigError(f"--set {key} is given twice; list its values once: {key}=A,B")
        parsed = [parse_value(key, v.strip()) for v in values.split(",")]
        grid[key] = tuple(dict.fromkeys(parsed))
    return grid


def train_battle_run(
    job: BattleRunJob, resume: bool = False, should_stop: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """Task: train ``job`` into ``job.out_dir`` (config.json, metrics.csv, tb/,
    checkpoint/, summary.json) and return its summary. ``resume``: continue what is there
    (a finished run is kept as it is); ``should_stop``: end after the current episode."""
    import torch  # (torch before magent2)

    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(job.train_config.threads or 1)  # auto: the workers share the cores
    spec = battle_spec(job.battle, job.algo_config, job.train_config, job.checkpoint_every)
    device = _device_or_none(job.train_config.device)  # None: unavailable, train_run says so
    choice = _run_precision(job, out, device, resume) if device is not None else None
    with pinned_auto(choice, device or "cpu"):
        return train_run(spec, out, should_stop=should_stop, resume=resume).to_dict()


def with_auto_precision(jobs: Sequence[BattleRunJob]) -> list[BattleRunJob]:
    """``jobs`` with ``precision="auto"`` resolved here, once per device, so that every run
    of a reproduction or sweep computes in the same arithmetic (a probe in each worker,
    timed beside the other workers' runs, could decide differently)."""
    chosen: dict[str, str] = {}
    resolved = []
    for job in jobs:
        device = _device_or_none(job.train_config.device)
        if job.algo_config.precision != "auto" or device is None:
            resolved.append(job)
            continue
        if device not in chosen:
            chosen[device] = auto_choice(device)[0]
        resolved.append(dataclasses.replace(job, auto_precision=chosen[device]))
    return resolved


def _device_or_none(name: str) -> str | None:
    try:
        return resolve_device(name)
    except ConfigError:
        return None


def _run_precision(job: BattleRunJob, out: Path, device: str, resume: bool) -> str | None:
    """The arithmetic ``auto`` takes in this run: what a resumed run recorded when it
    started; else the choice made for all runs, fp32 where that was bf16 and this worker's
    device has no native bfloat16 (a remote worker on another CPU)."""
    if resume and (out / "config.json").is_file():
        try:
            recorded = read_run_record(out).auto_precision
        except ConfigError:
            recorded = None  # (train_run reports the unreadable record)
        if recorded is not None:
            return recorded
    choice = job.auto_precision
    return "fp32" if choice == "bf16" and not native_bf16(device) else choice


def read_summary(job: BattleRunJob) -> dict[str, Any]:
    """The run's ``summary.json`` (written by the task, read back as a file)."""
    data = read_json(Path(job.out_dir) / "summary.json")
    return dict(data) if isinstance(data, dict) else {}


def preset_job(
    algo: str,
    scale: str,
    overrides: Mapping[str, Any],
    name: str,
    out: Path,
    params: tuple[tuple[str, Any], ...] = (),
) -> BattleRunJob:
    """The run ``name`` of ``algo``'s ``scale`` preset with ``overrides`` (see
    :func:`scaled_preset`), written to ``out/runs/name`` with the default checkpoints."""
    battle, algo_config, train_config = scaled_preset(algo, scale, overrides)
    every = default_checkpoint_every(train_config.episodes)
    out_dir = str(out / "runs" / name)
    return BattleRunJob(name, battle, algo_config, train_config, out_dir, every, params)


def default_checkpoint_every(episodes: int) -> int:
    """Ten checkpoints over a run (at least one episode apart)."""
    return max(1, episodes // 10)
