"""Gaussian Squeeze (docs/method.md 6.1): a cooperative, stateless, repeated game.

N agents each pick ``a_j ∈ {0..D-1}``; with ``x = Σ_j a_j`` every agent receives
``G(x) = x·exp(−(x − µ)²/σ²)``. The batched class steps all agents with numpy in one call;
:class:`GaussianSqueezeParallelEnv` wraps it in the PettingZoo ``ParallelEnv`` API.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mfmarl.core.errors import MAX_AGENTS, MAX_WIDTH, require, require_int_in
from mfmarl.envs.base import EnvStep, GroupObs, GroupSpec, GroupStep


@dataclass(frozen=True)
class GaussianSqueezeConfig:
    """Settings of the Gaussian Squeeze game (paper: µ = 400, σ = 200, N ∈ {100, 500, 1000})."""

    n_agents: int = 100
    """Number of agents N."""
    mu: float = 400.0
    """Centre µ of the Gaussian in x = Σ actions."""
    sigma: float = 200.0
    """Width σ of the Gaussian (> 0)."""
    n_actions: int = 10
    """Number of actions D; agent j picks a_j ∈ {0, ..., D−1}."""

    def __post_init__(self) -> None:
        require_int_in("n_agents", self.n_agents, 1, MAX_AGENTS)
        require_int_in("n_actions", self.n_actions, 2, MAX_WIDTH)
        require(0 < self.sigma <= 1e100, f"sigma={self.sigma} must be in (0, 1e100]")
        require(abs(self.mu) <= 1e100, f"mu={self.mu} must be in [-1e100, 1e100]")


def squeeze_reward(x: np.ndarray | float, mu: float, sigma: float) -> np.ndarray | float:
    """``G(x) = x·exp(−(x − µ)²/σ²)``, elementwise."""
    return x * np.exp(-((x - mu) ** 2) / sigma**2)


def squeeze_optimum(mu: float, sigma: float, max_x: float | None = None) -> tuple[float, float]:
    """The maximiser ``x*`` of G and ``G(x*)``.

    ``dG/dx = 0 ⇔ 2x² − 2µx − σ² = 0 ⇒ x* = (µ + √(µ² + 2σ²))/2`` (the positive root). When
    ``max_x`` (the largest reachable x, ``(D−1)·N``) is below x*, the optimum is ``max_x``.
    """
    x_star = (mu + math.sqrt(mu * mu + 2.0 * sigma * sigma)) / 2.0
    if max_x is not None:
        x_star = min(x_star, float(max_x))
    return x_star, float(squeeze_reward(x_star, mu, sigma))


class GaussianSqueeze:
    """The batched path (a :class:`~mfmarl.envs.base.MultiGroupEnv` of one group, ``agent``):
    ``step([actions (N,)])`` gives every agent G(x) in one numpy call.

    The game has no state: observations are ``(N, 0)`` arrays and every step is one round
    (an episode). The game is repeated, so the mean action carries over between rounds.
    """

    continuing = True
    GROUP = "agent"
    obs_dim = 0
    """Observations are empty: the game has no state."""

    def __init__(self, config: GaussianSqueezeConfig) -> None:
        self.config = config
        self.n_agents = config.n_agents
        self.n_actions = config.n_actions
        self.groups = (GroupSpec(self.GROUP, config.n_agents, 0, config.n_actions),)
        self._everyone = np.ones(self.n_agents, dtype=bool)

    @property
    def optimum(self) -> tuple[float, float]:
        """``(x*, G(x*))`` within the reachable range ``[0, (D−1)·N]``."""
        c = self.config
        return squeeze_optimum(c.mu, c.sigma, (c.n_actions - 1) * c.n_agents)

    def _obs(self, alive: bool) -> GroupObs:
        obs = np.zeros((self.n_agents, 0), dtype=np.float32)
        return GroupObs(obs, self._everyone.copy() if alive else ~self._everyone)

    def reset(self, seed: int | None = None) -> tuple[GroupObs, ...]:
        """Start a round (the game has no randomness: ``seed`` is ignored). Every agent is
        alive, with an empty observation ``(N, 0)``."""
        return (self._obs(alive=True),)

    def step(self, actions: Sequence[np.ndarray]) -> EnvStep:
        """``actions[0]: (N,)`` ints -> every agent's reward G(x), every agent's round over
        (terminated), and info ``{"x": x, "G": G(x)}``."""
        require(len(actions) == 1, "Gaussian Squeeze has one group")
        chosen = np.asarray(actions[0])
        require(chosen.shape == (self.n_agents,), f"expected {self.n_agents} actions")
        x = float(chosen.sum())
        g = float(squeeze_reward(x, self.config.mu, self.config.sigma))
        rewards = np.full(self.n_agents, g, dtype=np.float32)
        ended = self._everyone.copy()
        step = GroupStep(self._obs(alive=False), rewards, ended, ~ended)
        return EnvStep((step,), True, {"x": x, "G": g})

    def episode_info(self) -> dict[str, float]:
        return {}


def make_gaussian_squeeze(**settings: Any) -> GaussianSqueeze:
    """The batched game from :class:`GaussianSqueezeConfig` fields (an env factory)."""
    return GaussianSqueeze(GaussianSqueezeConfig(**settings))


class GaussianSqueezeParallelEnv(ParallelEnv):
    """PettingZoo ``ParallelEnv`` of Gaussian Squeeze.

    Agents are ``"agent_0" .. "agent_{N-1}"``. Each observation is a constant ``[0.0]`` (the
    game is stateless); an episode is ``max_cycles`` rounds, after which all agents truncate.
    """

    metadata = {"name": "gaussian_squeeze_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, config: GaussianSqueezeConfig | None = None, max_cycles: int = 1) -> None:
        require(max_cycles > 0, f"max_cycles={max_cycles} must be > 0")
        self.game = GaussianSqueeze(config or GaussianSqueezeConfig())
        self.max_cycles = max_cycles
        self.possible_agents = [f"agent_{i}" for i in range(self.game.n_agents)]
        self.agents: list[str] = []
        self._cycle = 0
        self.render_mode = None

    @functools.cache  # noqa: B019 - PettingZoo asks for cached spaces
    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return gymnasium.spaces.Box(low=0.0, high=0.0, shape=(1,), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        return gymnasium.spaces.Discrete(self.game.n_actions)

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: np.zeros(1, dtype=np.float32) for a in self.agents}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        self.agents = list(self.possible_agents)
        self._cycle = 0
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        require(set(actions) == set(self.agents), "every living agent needs an action")
        array = np.array([actions[a] for a in self.agents], dtype=np.int64)
        result = self.game.step([array])
        rewards, info = result.groups[0].rewards, result.info
        self._cycle += 1
        done = self._cycle >= self.max_cycles
        obs = self._observations()
        rew = {a: float(r) for a, r in zip(self.agents, rewards)}
        terminations = {a: False for a in self.agents}
        truncations = {a: done for a in self.agents}
        infos = {a: dict(info) for a in self.agents}
        if done:
            self.agents = []
        return obs, rew, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return np.zeros(1, dtype=np.float32)
