"""Tabular mean field Q-learning on the Ising lattice (docs/method.md 6.2), pure numpy.

Every site j keeps its own table ``Q_j[ā, a]``: ``a`` is its action (0 = down, 1 = up) and ā
its observed neighbourhood. With the ``local`` neighbourhood ā is the number of up spins
among its 4 neighbours (0..4, equivalent to their mean spin ``(2ā − 4)/4``). With the
``global`` neighbourhood ā is the mean spin of all *other* sites, ``(Σ_k s_k − s_j)/(N − 1)``
in ``[−1, 1]``, cut into ``global_bins`` equal bins; the reward stays the local one. The
global mean gives the Curie–Weiss equation ``m = tanh(2λm/T)`` (Tc = 2λ) instead of the
lattice model.

An agent acts with the Boltzmann policy ``π(a | ā) ∝ exp(Q_j[ā, a] / T)`` and learns with
``Q_j[ā, a] ← Q_j[ā, a] + α·(r + γ·v(ā') − Q_j[ā, a])`` where ``ā'`` is what it observes at
its next turn and ``v(ā') = Σ_b π(b | ā')·Q_j[ā', b]`` the mean field value (the update is
made at that next turn; with γ = 0, the paper's setting, it is the plain average reward).

Update schedules, per sweep (N site updates):

- ``checkerboard``: the sublattices in turn (a site's neighbours hold still while it acts, so
  with γ = 0 the converged Q is exactly the local reward and the policy is heat-bath
  dynamics of the Ising model with J = λ/2); odd L uses three groups (see
  :func:`mfmarl.experiments.ising.env.colour_groups`).
- ``random``: random sequential, N single-site updates at uniformly drawn sites.
- ``synchronous``: every site at once; rewards use the neighbours' new spins. This can lock
  into checkerboard oscillations at low T.

Training: ``warmup_sweeps`` exploration sweeps fill the tables for every (ā, a): in each
sweep every site of a lattice plays up with one probability drawn uniformly from [0, 1] for
that sweep and lattice (so the lattice's magnetisation, and with it every ā from 0 to 4 up
neighbours or every global bin, is visited), learning from what it gets. Then the lattice is
reset to ``start`` (the tables are kept) and ``sweeps`` sweeps run at temperature T.
Without the warm-up, all-zero tables make the first sweep at any T uniformly random, which
erases an ordered start and leaves a quench from a random lattice (domains and stripes that
a 20×20 lattice may keep for very long at low T); with the global neighbourhood, bins never
visited keep Q = 0 and hold the magnetisation back near 0.

A batch of lattices (one per temperature) runs at once with one seeded generator, so a run
is deterministic given its seed, its temperatures and its config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mfmarl.core.errors import require, require_choice
from mfmarl.experiments.ising.env import (
    STARTS,
    IsingConfig,
    colour_groups,
    initial_spins,
    local_rewards,
    neighbour_table,
)

SCHEDULES: tuple[str, ...] = ("checkerboard", "random", "synchronous")
NEIGHBOURHOODS: tuple[str, ...] = ("local", "global")


@dataclass(frozen=True)
class TabularMFQConfig:
    """Settings of tabular MF-Q on the Ising lattice (paper: γ = 0)."""

    alpha: float = 0.1
    """Learning rate α of the tabular update, in (0, 1]."""
    gamma: float = 0.0
    """Discount γ in [0, 1) (paper: 0, the game has no state)."""
    schedule: Literal["checkerboard", "random", "synchronous"] = "checkerboard"
    """Which sites act in one update: the two sublattices in turn, one random site at a time
    (N Python-level steps per sweep: far slower), or all at once."""
    neighbourhood: Literal["local", "global"] = "local"
    """ā: the 4 lattice neighbours (up count 0..4) or the mean spin of all other sites."""
    global_bins: int = 21
    """Bins of the global mean spin in [−1, 1] (only for the global neighbourhood)."""
    warmup_sweeps: int = 500
    """Exploration sweeps that fill the tables before the run at T (up with a probability
    drawn from [0, 1] per sweep); 0: none."""
    sweeps: int = 5000
    """Sweeps at temperature T after the warm-up (one sweep = N site updates)."""
    measure_sweeps: int = 4000
    """The last sweeps whose ξ is averaged for the order parameter."""
    start: Literal["ordered", "random"] = "ordered"
    """The lattice the run at T starts from: all up, or fair coin flips."""

    def __post_init__(self) -> None:
        require(0 < self.alpha <= 1, f"alpha={self.alpha} must be in (0, 1]")
        require(0 <= self.gamma < 1, f"gamma={self.gamma} must be in [0, 1)")
        require_choice("schedule", self.schedule, SCHEDULES)
        require_choice("neighbourhood", self.neighbourhood, NEIGHBOURHOODS)
        require_choice("start", self.start, STARTS)
        require(self.global_bins >= 2, f"global_bins={self.global_bins} must be >= 2")
        require(self.warmup_sweeps >= 0, f"warmup_sweeps={self.warmup_sweeps} must be >= 0")
        require(self.sweeps >= 1, f"sweeps={self.sweeps} must be >= 1")
        require(
            1 <= self.measure_sweeps <= self.sweeps,
            f"measure_sweeps={self.measure_sweeps} must be in [1, sweeps={self.sweeps}]",
        )


@dataclass
class TabularMFQRun:
    """What one batched training run returns (batch axis = temperatures)."""

    temperatures: np.ndarray
    """(B,) temperatures."""
    magnetisation: np.ndarray
    """(sweeps, B) signed mean spin after every sweep at T; ξ is its absolute value."""
    spins: np.ndarray
    """(B, N) final lattices (int8 ±1)."""
    q: np.ndarray
    """(B, N, K, 2) final tables: site, ā index, action."""
    measure_sweeps: int

    @property
    def measured(self) -> np.ndarray:
        """(measure_sweeps, B) signed magnetisation over the measured final sweeps."""
        return self.magnetisation[-self.measure_sweeps :]


class _Learner:
    """The tables, the pending transitions and one update of a set of sites."""

    def __init__(
        self,
        env: IsingConfig,
        config: TabularMFQConfig,
        batch: int,
        rng: np.random.Generator,
    ) -> None:
        self.env, self.config, self.rng = env, config, rng
        self.n = env.n_sites
        self.table = neighbour_table(env.lattice)
        self.k = 5 if config.neighbourhood == "local" else config.global_bins
        self.q = np.zeros((batch, self.n, self.k, 2), dtype=np.float64)
        self.last_obs = np.zeros((batch, self.n), dtype=np.int64)
        self.last_act = np.zeros((batch, self.n), dtype=np.int64)
        self.last_rew = np.zeros((batch, self.n), dtype=np.float64)
        self.pending = np.zeros((batch, self.n), dtype=bool)
        self.rows = np.arange(batch)[:, None]

    def neighbour_sums(self, spins: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """(B, n) Σ of the neighbours' spins at ``sites: (B, n)``."""
        return spins[self.rows[:, :, None], self.table[sites]].sum(axis=-1, dtype=np.int64)

    def observe(self, spins: np.ndarray, sites: np.ndarray, sums: np.ndarray) -> np.ndarray:
        if self.config.neighbourhood == "local":
            return (sums + 4) // 2
        total = spins.sum(axis=1, dtype=np.int64)[:, None]
        others = (total - spins[self.rows, sites]) / (self.n - 1)
        index = np.floor((others + 1.0) / 2.0 * self.k).astype(np.int64)
        return np.clip(index, 0, self.k - 1)

    def update(
        self,
        spins: np.ndarray,
        sites: np.ndarray,
        temps: np.ndarray,
        explore: np.ndarray | None = None,
    ) -> None:
        """Sites ``(B, n)`` (distinct within a row) learn from their previous turn, then act.

        ``temps: (B, 1)``. With ``explore: (B, 1)`` the sites ignore their tables and play
        up with that probability (the warm-up).
        """
        rows, cfg = self.rows, self.config
        sums = self.neighbour_sums(spins, sites)
        obs = self.observe(spins, sites, sums)
        q_now = self.q[rows, sites, obs]  # (B, n, 2)
        with np.errstate(invalid="ignore", over="ignore"):
            logit = (q_now[..., 1] - q_now[..., 0]) / temps
        logit = np.nan_to_num(logit, nan=0.0)
        p_up = 0.5 * (1.0 + np.tanh(0.5 * logit))
        # The deferred update of each site's previous transition, with ā' = obs.
        target = self.last_rew[rows, sites]
        if cfg.gamma > 0:
            value = p_up * q_now[..., 1] + (1.0 - p_up) * q_now[..., 0]
            target = target + cfg.gamma * value
        prev_obs, prev_act = self.last_obs[rows, sites], self.last_act[rows, sites]
        current = self.q[rows, sites, prev_obs, prev_act]
        step = np.where(self.pending[rows, sites], cfg.alpha * (target - current), 0.0)
        self.q[rows, sites, prev_obs, prev_act] = current + step
        if cfg.gamma > 0:  # the table moved: act on the updated values
            q_now = self.q[rows, sites, obs]
            with np.errstate(invalid="ignore", over="ignore"):
                logit = np.nan_to_num((q_now[..., 1] - q_now[..., 0]) / temps, nan=0.0)
            p_up = 0.5 * (1.0 + np.tanh(0.5 * logit))
        if explore is not None:
            p_up = np.broadcast_to(explore, p_up.shape)
        up = self.rng.random(p_up.shape) < p_up
        new = np.where(up, 1, -1).astype(np.int8)
        spins[rows, sites] = new
        if cfg.schedule == "synchronous":
            sums = self.neighbour_sums(spins, sites)
        # the env's own reward function, not a copy of it
        reward = local_rewards(new, sums, self.env.coupling, self.env.field)
        self.last_obs[rows, sites] = obs
        self.last_act[rows, sites] = up
        self.last_rew[rows, sites] = reward
        self.pending[rows, sites] = True

    def sweep(
        self, spins: np.ndarray, temps: np.ndarray, explore: np.ndarray | None = None
    ) -> None:
        batch = spins.shape[0]
        schedule = self.config.schedule
        if schedule == "checkerboard":
            for group in colour_groups(self.env.lattice):
                self.update(spins, np.broadcast_to(group, (batch, group.size)), temps, explore)
        elif schedule == "synchronous":
            everyone = np.arange(self.n)
            self.update(spins, np.broadcast_to(everyone, (batch, self.n)), temps, explore)
        else:
            picks = self.rng.integers(0, self.n, size=(self.n, batch, 1))
            for sites in picks:
                self.update(spins, sites, temps, explore)


def train_tabular_mfq(
    env: IsingConfig,
    config: TabularMFQConfig,
    temperatures: np.ndarray | list[float] | tuple[float, ...],
    seed: int,
) -> TabularMFQRun:
    """Train one lattice of MF-Q agents per temperature (all in one batch) and record the
    magnetisation after every sweep at T."""
    temps = np.asarray(temperatures, dtype=np.float64).reshape(-1)
    require(temps.size > 0, "give at least one temperature")
    require(bool(np.all(temps > 0)), f"temperatures must be > 0, got {temps.tolist()}")
    require(bool(np.all(np.isfinite(temps))), "temperatures must be finite")
    rng = np.random.default_rng(seed)
    batch = temps.size
    learner = _Learner(env, config, batch, rng)
    if config.warmup_sweeps:
        spins = initial_spins("random", (batch,), env.n_sites, rng)
        for _ in range(config.warmup_sweeps):
            learner.sweep(spins, np.full((batch, 1), math.inf), rng.random((batch, 1)))
        learner.pending[:] = False
    spins = initial_spins(config.start, (batch,), env.n_sites, rng)
    column = temps[:, None]
    trace = np.empty((config.sweeps, batch), dtype=np.float64)
    for t in range(config.sweeps):
        learner.sweep(spins, column)
        trace[t] = spins.mean(axis=1, dtype=np.float64)
    return TabularMFQRun(temps, trace, spins, learner.q, config.measure_sweeps)
