"""Policies to share: a trained run reduced to what acts.

``mfmarl export RUN --out DIR`` writes ``DIR/policy.safetensors``: per learning group the
tensors of the network its players act with (the policy average when the run kept one, else
the acting network) under ``<group>/``, and in the safetensors header the metadata a player
needs: format, mfmarl version, the environment the run was trained on, its roles and ā
rules, and per group the algorithm config, observation and action sizes, view shape, ā width
and the environment steps trained (which fix β). No optimizer state, target network or replay:
about a sixth of a checkpoint. :func:`load_export` turns it back into the learners of a
:class:`~mfmarl.evaluation.players.Player`; nothing is unpickled and the header is validated
before anything is built.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mfmarl import __version__
from mfmarl.algorithms import Learner
from mfmarl.core.errors import MAX_STEPS, ConfigError, require
from mfmarl.training.checkpoint import learner_from_record

EXPORT_FILE = "policy.safetensors"
FORMAT = "mfmarl-policy/1"


def acting_module(learner: Learner) -> nn.Module:
    """The network a trained player of ``learner`` acts with."""
    return learner.average.module if learner.average is not None else learner.acting.current()


def export_learners(learners: dict[str, Learner], record: dict[str, Any], path: str | Path) -> Path:
    """Write ``learners`` (group -> learner) and ``record`` (``roles``, ``mean_field``, ``env``)
    to the safetensors file ``path`` (atomically) and return it."""
    from safetensors.torch import save

    from mfmarl.training.rundir import write_bytes_atomic

    tensors: dict[str, torch.Tensor] = {}
    groups: dict[str, Any] = {}
    for group, learner in learners.items():
        for name, value in acting_module(learner).state_dict().items():
            tensors[f"{group}/{name}"] = value.detach().to("cpu").contiguous().clone()
        groups[group] = {
            "config": json.loads(json.dumps(dataclasses.asdict(learner.config))),
            "obs_dim": learner.obs_dim,
            "n_actions": learner.n_actions,
            "n_agents": learner.n_agents,
            "mean_action_dim": learner.mean_action_dim,
            "view_shape": list(learner.view_shape) if learner.view_shape else None,
            "precision": learner.precision,
            "env_steps": int(learner.env_steps),
            "episodes": int(learner.episodes),
        }
    header = {
        "format": FORMAT,
        "mfmarl_version": __version__,
        "player": json.dumps({**record, "learners": groups}),
    }
    target = Path(path)
    write_bytes_atomic(target, save(tensors, metadata=header))
    return target


def export_file(path: str | Path) -> Path | None:
    """The export at ``path`` (the file, or a directory holding :data:`EXPORT_FILE`)."""
    p = Path(path)
    if p.is_file() and p.suffix == ".safetensors":
        return p
    if p.is_dir() and (p / EXPORT_FILE).is_file():
        return p / EXPORT_FILE
    return None


def _header(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for bad files
        raise ConfigError(f"exported policy {path}: not a readable safetensors file") from exc
    require(
        metadata.get("format") == FORMAT,
        f"exported policy {path}: format {metadata.get('format')!r}, expected {FORMAT!r}",
    )
    try:
        player = json.loads(metadata["player"])
    except (KeyError, ValueError, RecursionError) as exc:
        raise ConfigError(f"exported policy {path}: bad player record in its header") from exc
    require(isinstance(player, dict), f"exported policy {path}: bad player record")
    require(
        isinstance(player.get("learners"), dict) and player["learners"],
        f"exported policy {path}: no learner in its header",
    )
    return dict(player)


def _learner(path: Path, group: str, spec: Any, tensors: dict[str, torch.Tensor]) -> Learner:
    where = f"exported policy {path}, group {group}"
    require(
        isinstance(spec, dict) and bool(spec.get("mean_action_dim")),
        f"{where}: bad learner record (no mean_action_dim)",
    )
    counters = {}
    for key in ("env_steps", "episodes"):
        try:
            counters[key] = int(spec.get(key, 0))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: bad learner record ({key})") from exc
        require(0 <= counters[key] <= MAX_STEPS, f"{where}: {key}={counters[key]} out of range")
    learner = learner_from_record(spec, where, "bad learner record")
    module = acting_module(learner)
    expected = module.state_dict()
    prefix = f"{group}/"
    given = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    require(
        set(given) == set(expected),
        f"{where}: its tensors do not match the network its header describes",
    )
    for name, value in given.items():
        require(
            value.shape == expected[name].shape and value.dtype == expected[name].dtype,
            f"{where}: tensor {name} is {tuple(value.shape)}, the network has "
            f"{tuple(expected[name].shape)}",
        )
        require(bool(torch.isfinite(value).all()), f"{where}: tensor {name} is not finite")
    module.load_state_dict(given)
    learner.env_steps, learner.episodes = counters["env_steps"], counters["episodes"]
    return learner


def load_export(path: str | Path) -> tuple[dict[str, Learner], dict[str, Any]]:
    """The learners (group -> learner) and the record (``roles``, ``mean_field``, ``env``)
    of the export at ``path``. Raises :class:`ConfigError` for anything malformed."""
    from safetensors.torch import load_file

    file = export_file(path)
    require(file is not None, f"{path}: no exported policy ({EXPORT_FILE}) there")
    assert file is not None
    player = _header(file)
    try:
        tensors = load_file(str(file))
    except Exception as exc:
        raise ConfigError(f"exported policy {file}: its tensors cannot be read") from exc
    learners = {
        str(group): _learner(file, str(group), spec, tensors)
        for group, spec in player["learners"].items()
    }
    return learners, player
