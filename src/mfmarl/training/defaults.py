"""Defaults of a training run on an environment without a preset (``mfmarl train
pettingzoo``, ``mfmarl train magent2``, :func:`mfmarl.train`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import ConfigError

WRAPPER_LINKS = ("env", "pz", "aec_env", "unwrapped")
"""Attributes through which an adapter or a PettingZoo wrapper reaches the env it wraps
(PettingZoo's ``parallel_env`` functions return an ``aec_to_parallel_wrapper`` whose
``aec_env`` is a chain of AEC wrappers around the raw env that holds ``max_cycles``)."""
MAX_WRAPPERS = 32


def episode_length_hint(env: Any) -> int:
    """The environment's step limit when it has one (MAgent2 ``max_steps``, PettingZoo
    ``max_cycles``), looked up on ``env`` and then breadth first through the envs it wraps;
    else 200: the exploration schedules are laid out over it."""
    seen: set[int] = set()
    todo = [env]
    while todo and len(seen) < MAX_WRAPPERS:
        holder = todo.pop(0)
        if holder is None or id(holder) in seen:
            continue
        seen.add(id(holder))
        for attr in ("max_steps", "max_cycles"):
            value = _attribute(holder, attr)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        todo += [_attribute(holder, link) for link in WRAPPER_LINKS]
    return 200


def _attribute(holder: Any, name: str) -> Any:
    """``holder.name``, or None when it has none (some wrappers raise on unknown names)."""
    try:
        return getattr(holder, name, None)
    except Exception:  # a wrapper's __getattr__ may raise anything
        return None


def default_algorithm(
    algo: str, episodes: int, steps: int, view: bool, overrides: dict[str, Any]
) -> AlgorithmConfig:
    """The generic defaults: the Battle preset's schedule (ε 1 → 0.05 and β 10 → 100 over the
    first half of ``episodes · steps`` steps), Adam with lr 1e-4 on views (1e-3 on vectors),
    γ 0.95, soft target 0.005, Q fitted at the ā the agents acted on (``previous``);
    ``overrides`` on top."""
    half = max(1, episodes * steps // 2)
    base = AlgorithmConfig(
        algo=algo,  # type: ignore[arg-type]
        lr=1e-4 if view else 1e-3,
        actor_lr=1e-4 if view else 1e-3,
        gamma=0.95,
        target_tau=0.005,
        beta_start=10.0,
        beta_end=100.0,
        beta_steps=half,
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_steps=half,
        dueling=False,
        entropy_coef=0.05,
        actor_gradient="expected",
        average_tau=1.0 / (20 * max(1, steps)),
        # Fit Q at the ā the agents acted on. Fitting at the realised ā (the paper's
        # Algorithm 1) assumes ā moves little from one step to the next; where agents react
        # to ā it swings, and Q learned at the new ā misleads the action taken at the old one:
        # on examples/crowd.py MF-Q fell from -9 to -22 per episode with it and rose to -1.9
        # with this (IL: -2.0). docs/own_environment.md.
        mean_action_timing="previous",
    )
    try:
        return dataclasses.replace(base, **overrides)
    except TypeError as exc:
        raise ConfigError(f"invalid AlgorithmConfig setting: {exc}") from exc
