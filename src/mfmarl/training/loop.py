"""The one training loop shared by every algorithm.

An environment here is an *agent-array* environment (:class:`AgentArrayEnv`): one call steps
every agent, with observations ``(n, obs_dim)``, actions ``(n,)``, rewards ``(n,)`` and done
flags ``(n,)``. Per step the loop computes the mean actions, asks the learner for actions in one
batched pass, stores the transition with the ā timing the config asks for, and runs the
updates. The caller gets one metrics dict per episode.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mfmarl.algorithms import Learner
from mfmarl.buffers import AgentReplay
from mfmarl.core.errors import require
from mfmarl.core.mean_action import team_mean_action
from mfmarl.envs.base import AgentArrayEnv
from mfmarl.training.runtime import tune_cpu_runtime


@dataclass(frozen=True)
class TrainConfig:
    """Budget and schedule of a training run."""

    episodes: int = 1000
    """Number of training episodes."""
    batch_size: int = 16
    """Stored steps per gradient update (each step holds every agent)."""
    buffer_size: int = 200
    """Replay capacity in steps."""
    updates_per_step: int = 1
    """Gradient updates after every environment step."""
    learning_starts: int = 1
    """Environment steps stored before the first update."""
    seed: int = 0
    """Seed of numpy, torch and the learner's sampling."""
    device: str = "cpu"
    """Torch device of the learner (cpu or cuda)."""

    def __post_init__(self) -> None:
        require(self.episodes > 0, f"episodes={self.episodes} must be > 0")
        require(self.batch_size > 0, f"batch_size={self.batch_size} must be > 0")
        require(self.buffer_size > 0, f"buffer_size={self.buffer_size} must be > 0")
        require(self.updates_per_step >= 0, "updates_per_step must be >= 0")
        require(self.learning_starts >= 1, "learning_starts must be >= 1")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed numpy's and torch's global generators; return a fresh numpy generator."""
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def fill_mean_action(n_agents: int, n_actions: int, fill: str) -> np.ndarray:
    """ā before any action: zeros or uniform ``1/D``. ``-> (n, D)``."""
    value = 0.0 if fill == "zeros" else 1.0 / n_actions
    return np.full((n_agents, n_actions), value, dtype=np.float32)


def train(
    env: AgentArrayEnv,
    learner: Learner,
    config: TrainConfig,
    start_episode: int = 0,
) -> Iterator[dict[str, Any]]:
    """Train ``learner`` on ``env``; yield one metrics dict per episode.

    The generator form lets the caller log, checkpoint or stop between episodes.
    """
    tune_cpu_runtime()
    rng = seed_everything(config.seed)
    algo = learner.config
    n, d = env.n_agents, env.n_actions
    replay = AgentReplay(config.buffer_size, n, (env.obs_dim,), d)
    everyone = np.ones(n, dtype=bool)
    previous = fill_mean_action(n, d, algo.initial_mean_action)
    step = learner.env_steps
    for episode in range(start_episode, config.episodes):
        started = time.perf_counter()
        obs = env.reset()
        if not env.continuing:
            previous = fill_mean_action(n, d, algo.initial_mean_action)
        alive = everyone.copy()
        totals: dict[str, float] = {}
        losses: dict[str, list[float]] = {}
        episode_return = np.zeros(n)
        length = 0
        while True:
            actions, _ = learner.act(obs, previous, step)
            result = env.step(actions)
            realised = team_mean_action(
                actions, alive, d, include_self=False, fill=algo.initial_mean_action
            )
            fitted = realised if algo.mean_action_timing == "realised" else previous
            dones = np.asarray(result.dones, dtype=bool)
            replay.add(
                obs,
                actions,
                fitted,
                result.rewards,
                result.obs,
                realised,
                dones.astype(np.float32),
                alive.astype(np.float32),
            )
            episode_return += result.rewards * alive
            for key, value in result.info.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            step += 1
            learner.env_steps = step
            length += 1
            if len(replay) >= config.learning_starts:
                for _ in range(config.updates_per_step):
                    batch = replay.sample(config.batch_size, rng, config.device)
                    for key, value in learner.update(batch, step).items():
                        losses.setdefault(key, []).append(value)
            obs, previous = result.obs, realised
            alive = alive & ~dones
            if not alive.any():
                break
        seconds = time.perf_counter() - started
        metrics: dict[str, Any] = {
            "episode": episode,
            "charts/episodic_return": float(episode_return.mean()),
            "charts/episode_length": length,
        }
        metrics.update({f"env/{k}": v / length for k, v in totals.items()})
        metrics.update({k: float(np.mean(v)) for k, v in losses.items()})
        metrics.update(learner.schedules(step))
        metrics["time/steps_per_second"] = length / max(seconds, 1e-9)
        yield metrics
