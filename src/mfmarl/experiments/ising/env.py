"""The 2-D Ising model as a game (docs/method.md 6.2): every site of a periodic L×L lattice is an
agent whose action is its spin.

Agent j picks ``s_j ∈ {−1, +1}`` (action 0 = down, 1 = up) and receives the local reward
``r_j = h·s_j + (λ/2)·s_j·Σ_{k∈N(j)} s_k`` over its 4 lattice neighbours (periodic boundary;
on a 2×2 lattice each neighbour is counted twice, once per direction). Summing the rewards
counts every bond twice, ``Σ_j r_j = λ·Σ_<jk> s_j s_k + h·Σ_j s_j``, so an agent that is
Boltzmann over its own reward at temperature T is heat-bath dynamics of the standard Ising
model ``H = −J·Σ_<jk> s_j s_k − h·Σ_j s_j`` with ``J = λ/2`` (Onsager ``Tc = 2J/ln(1+√2)``).

The lattice helpers work on flat spin arrays ``(..., N)`` with ``N = L²`` (site ``i·L + j``)
and a neighbour table ``(N, 4)``, so that the learners and the Monte Carlo sampler can update
any subset of sites for a batch of lattices at once. :class:`IsingParallelEnv` is the
PettingZoo ``ParallelEnv`` path (all agents act at once).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mfmarl.core.errors import require, require_choice

DOWN, UP = 0, 1
"""Action indices: 0 is spin −1, 1 is spin +1."""
STARTS: tuple[str, ...] = ("ordered", "random")
"""Initial lattices: all spins up, or independent fair coin flips."""


@dataclass(frozen=True)
class IsingConfig:
    """Settings of the Ising game (paper: L = 20, λ = 1, h = 0)."""

    lattice: int = 20
    """Side L of the periodic L×L lattice (≥ 2); N = L² agents."""
    coupling: float = 1.0
    """λ: the reward weight of the neighbours' spins (Ising coupling J = λ/2)."""
    field: float = 0.0
    """h: the external field, the reward of spin +1 on its own."""

    def __post_init__(self) -> None:
        require(
            isinstance(self.lattice, (int, np.integer)) and 2 <= self.lattice <= 3000,
            f"lattice={self.lattice} must be an integer in [2, 3000]",
        )
        for name in ("coupling", "field"):
            value = getattr(self, name)
            require(abs(value) <= 1e6, f"{name}={value} must be in [-1e6, 1e6]")

    @property
    def n_sites(self) -> int:
        return self.lattice * self.lattice


def onsager_tc(coupling: float) -> float:
    """Onsager's critical temperature of the agents' model: ``Tc = 2J/ln(1+√2)``, J = λ/2."""
    return coupling / math.log1p(math.sqrt(2.0))


def onsager_magnetisation(temperature: float, coupling: float) -> float:
    """Onsager's exact spontaneous magnetisation ``(1 − sinh(2J/T)^−4)^{1/8}`` (0 at T ≥ Tc),
    with ``J = λ/2``; for h = 0 and the infinite lattice."""
    require(temperature > 0, f"temperature={temperature} must be > 0")
    if temperature >= onsager_tc(coupling):
        return 0.0
    value = 1.0 - math.sinh(coupling / temperature) ** -4
    return max(value, 0.0) ** 0.125


@functools.cache
def neighbour_table(lattice: int) -> np.ndarray:
    """``(N, 4)`` flat indices of the up, down, left and right neighbours (periodic)."""
    i, j = np.divmod(np.arange(lattice * lattice), lattice)
    table = np.stack(
        [
            ((i - 1) % lattice) * lattice + j,
            ((i + 1) % lattice) * lattice + j,
            i * lattice + (j - 1) % lattice,
            i * lattice + (j + 1) % lattice,
        ],
        axis=1,
    )
    table.setflags(write=False)
    return table


@functools.cache
def colour_groups(lattice: int) -> tuple[np.ndarray, ...]:
    """Sites split into groups with no two neighbours in one group.

    For even L this is the checkerboard (two sublattices, ``(i + j) % 2``). An odd periodic
    lattice is not bipartite: with the 3-colouring ``f`` of the odd ring (``i % 2``, and 2 for
    the last site), ``(f(i) + f(j)) % 3`` gives three groups. Updating one group at a time
    changes no site whose neighbours are changing.
    """
    ring = np.arange(lattice) % 2
    groups_count = 2
    if lattice % 2:
        ring[-1] = 2
        groups_count = 3
    colour = ((ring[:, None] + ring[None, :]) % groups_count).reshape(-1)
    groups = tuple(np.flatnonzero(colour == c) for c in range(groups_count))
    for g in groups:
        g.setflags(write=False)
    return groups


def neighbour_sum(spins: np.ndarray, lattice: int, sites: np.ndarray | None = None) -> np.ndarray:
    """``Σ_{k∈N(j)} s_k`` for flat ``spins: (..., N)``; at ``sites`` only when given."""
    table = neighbour_table(lattice)
    if sites is not None:
        table = table[sites]
    return spins[..., table].sum(axis=-1, dtype=np.int64)


def up_neighbours(spins: np.ndarray, lattice: int, sites: np.ndarray | None = None) -> np.ndarray:
    """The number of up neighbours (0..4): ``(Σ s_k + 4) / 2``."""
    return (neighbour_sum(spins, lattice, sites) + 4) // 2


def local_rewards(
    spins: np.ndarray, neighbours: np.ndarray, coupling: float, field: float
) -> np.ndarray:
    """``r_j = h·s_j + (λ/2)·s_j·Σ_k s_k`` given the spins and their neighbour sums."""
    spins = np.asarray(spins, dtype=np.float64)
    return spins * (field + 0.5 * coupling * np.asarray(neighbours, dtype=np.float64))


def lattice_rewards(spins: np.ndarray, config: IsingConfig) -> np.ndarray:
    """Every site's reward for flat ``spins: (..., N)``."""
    return local_rewards(spins, neighbour_sum(spins, config.lattice), config.coupling, config.field)


def initial_spins(
    start: str, shape: tuple[int, ...], n_sites: int, rng: np.random.Generator
) -> np.ndarray:
    """``(*shape, N)`` int8 spins: all +1 (``ordered``) or fair coin flips (``random``)."""
    require_choice("start", start, STARTS)
    if start == "ordered":
        return np.ones((*shape, n_sites), dtype=np.int8)
    return np.where(rng.random((*shape, n_sites)) < 0.5, 1, -1).astype(np.int8)


def order_parameter(spins: np.ndarray) -> np.ndarray:
    """``ξ = |N↑ − N↓| / N`` over the last axis."""
    return np.abs(spins.mean(axis=-1, dtype=np.float64))


def actions_to_spins(actions: np.ndarray) -> np.ndarray:
    """Action 0 → −1, 1 → +1."""
    return (2 * np.asarray(actions, dtype=np.int8) - 1).astype(np.int8)


class IsingParallelEnv(ParallelEnv):
    """PettingZoo ``ParallelEnv`` of the Ising game; all agents act at once.

    Agents are ``"site_<i>_<j>"`` (row i, column j). Action 0 is spin down, 1 spin up. An
    agent observes ``[number of up neighbours]`` (0..4) of the current lattice; the rewards
    of a step use the new spins of all agents. ``reset`` draws the lattice from ``start``
    (``ordered``: all up; ``random``: seeded coin flips); an episode is ``max_cycles`` steps,
    after which every agent truncates. ``info`` holds ``order_parameter`` ξ.
    """

    metadata = {"name": "ising_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self, config: IsingConfig | None = None, max_cycles: int = 1, start: str = "random"
    ) -> None:
        require(max_cycles > 0, f"max_cycles={max_cycles} must be > 0")
        require_choice("start", start, STARTS)
        self.config = config or IsingConfig()
        self.max_cycles = max_cycles
        self.start = start
        size = self.config.lattice
        self.possible_agents = [f"site_{i}_{j}" for i in range(size) for j in range(size)]
        self.agents: list[str] = []
        self.spins = np.ones(self.config.n_sites, dtype=np.int8)
        self._rng = np.random.default_rng()
        self._cycle = 0
        self.render_mode = None

    @functools.cache  # noqa: B019 - PettingZoo asks for cached spaces
    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return gymnasium.spaces.Box(low=0.0, high=4.0, shape=(1,), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        return gymnasium.spaces.Discrete(2)

    def _observations(self) -> dict[str, np.ndarray]:
        ups = up_neighbours(self.spins, self.config.lattice).astype(np.float32)
        return {a: ups[i : i + 1] for i, a in enumerate(self.possible_agents)}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._cycle = 0
        self.spins = initial_spins(self.start, (), self.config.n_sites, self._rng)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        require(set(actions) == set(self.agents), "every agent needs an action")
        array = np.array([actions[a] for a in self.possible_agents], dtype=np.int64)
        require(bool(np.isin(array, (DOWN, UP)).all()), "actions must be 0 (down) or 1 (up)")
        self.spins = actions_to_spins(array)
        rewards = lattice_rewards(self.spins, self.config)
        self._cycle += 1
        done = self._cycle >= self.max_cycles
        obs = self._observations()
        info = {"order_parameter": float(order_parameter(self.spins))}
        rew = {a: float(rewards[i]) for i, a in enumerate(self.possible_agents)}
        terminations = {a: False for a in self.agents}
        truncations = {a: done for a in self.agents}
        infos = {a: dict(info) for a in self.agents}
        if done:
            self.agents = []
        return obs, rew, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The lattice as an ``(L, L)`` array of spins ±1."""
        return self.spins.reshape(self.config.lattice, self.config.lattice).copy()
