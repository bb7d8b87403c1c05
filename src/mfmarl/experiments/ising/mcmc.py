"""Metropolis Monte Carlo of the Ising model the MF-Q agents sample (docs/method.md 6.2).

``H = −(λ/2)·Σ_<jk> s_j s_k − h·Σ_j s_j`` (J = λ/2, every bond once). A flip of ``s_j`` costs
``ΔE = 2·s_j·(J·Σ_{k∈N(j)} s_k + h)`` and is accepted with probability ``min(1, e^{−ΔE/T})``.
One sweep updates the colour groups in turn (the two checkerboard sublattices for even L),
each group at once, for a batch of lattices (one per temperature) in one numpy call.

Also the statistics of a magnetisation series used for both methods: mean and standard
deviation of ``ξ = |m|``, the susceptibility ``χ = N(<m²> − <|m|>²)/T``, Binder's cumulant
``U = 1 − <m⁴>/(3<m²>²)``, and the critical temperature from the susceptibility peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mfmarl.core.errors import require, require_choice
from mfmarl.experiments.ising.env import (
    STARTS,
    IsingConfig,
    colour_groups,
    initial_spins,
    neighbour_sum,
)


@dataclass(frozen=True)
class MCMCConfig:
    """Burn-in and measurement of a Metropolis run."""

    burn_in: int = 1000
    """Sweeps discarded before measuring."""
    sweeps: int = 4000
    """Measured sweeps (the magnetisation is recorded after each)."""
    start: str = "ordered"
    """Initial lattice: ``ordered`` (all up) or ``random`` (fair coin flips)."""

    def __post_init__(self) -> None:
        require(self.burn_in >= 0, f"burn_in={self.burn_in} must be >= 0")
        require(self.sweeps >= 1, f"sweeps={self.sweeps} must be >= 1")
        require_choice("start", self.start, STARTS)


@dataclass
class MCMCRun:
    """A batched Metropolis run (batch axis = temperatures)."""

    temperatures: np.ndarray
    """(B,) temperatures."""
    magnetisation: np.ndarray
    """(sweeps, B) signed mean spin after every measured sweep."""
    spins: np.ndarray
    """(B, N) final lattices (int8 ±1)."""


def metropolis(
    env: IsingConfig,
    config: MCMCConfig,
    temperatures: Sequence[float] | np.ndarray,
    seed: int,
) -> MCMCRun:
    """Run Metropolis at every temperature (one lattice each, in one batch)."""
    temps = np.asarray(temperatures, dtype=np.float64).reshape(-1)
    require(temps.size > 0, "give at least one temperature")
    require(bool(np.all(temps > 0) & np.all(np.isfinite(temps))), "temperatures must be > 0")
    rng = np.random.default_rng(seed)
    batch = temps.size
    spins = initial_spins(config.start, (batch,), env.n_sites, rng)
    j = 0.5 * env.coupling
    beta = (1.0 / temps)[:, None]
    groups = colour_groups(env.lattice)
    trace = np.empty((config.sweeps, batch), dtype=np.float64)
    for t in range(config.burn_in + config.sweeps):
        for group in groups:
            s = spins[:, group].astype(np.float64)
            delta = 2.0 * s * (j * neighbour_sum(spins, env.lattice, group) + env.field)
            accept = rng.random(s.shape) < np.exp(-np.maximum(delta, 0.0) * beta)
            spins[:, group] = np.where(accept, -s, s).astype(np.int8)
        if t >= config.burn_in:
            trace[t - config.burn_in] = spins.mean(axis=1, dtype=np.float64)
    return MCMCRun(temps, trace, spins)


@dataclass(frozen=True)
class MagnetisationStats:
    """Statistics of ξ = |m| pooled over seeds, per temperature (arrays aligned with T)."""

    order_parameter: np.ndarray
    """<|m|> over measured sweeps and seeds."""
    order_parameter_std: np.ndarray
    """Standard deviation of |m| over all measured sweeps of all seeds (thermal spread)."""
    seed_std: np.ndarray
    """Standard deviation over seeds of each seed's <|m|> (nan for one seed)."""
    m2: np.ndarray
    m4: np.ndarray
    susceptibility: np.ndarray
    """χ = N(<m²> − <|m|>²)/T."""
    binder: np.ndarray
    """U = 1 − <m⁴>/(3<m²>²)."""


def magnetisation_stats(
    series: Sequence[np.ndarray], temperatures: np.ndarray, n_sites: int
) -> MagnetisationStats:
    """Pool the per-seed ``(sweeps, B)`` magnetisation series."""
    stacked = np.concatenate([np.asarray(s, dtype=np.float64) for s in series], axis=0)
    xi = np.abs(stacked)
    mean = xi.mean(axis=0)
    m2 = (stacked**2).mean(axis=0)
    m4 = (stacked**4).mean(axis=0)
    per_seed = np.stack([np.abs(np.asarray(s)).mean(axis=0) for s in series])
    seed_std = per_seed.std(axis=0, ddof=1) if len(series) > 1 else np.full(mean.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        binder = 1.0 - m4 / (3.0 * m2**2)
    return MagnetisationStats(
        order_parameter=mean,
        order_parameter_std=xi.std(axis=0),
        seed_std=seed_std,
        m2=m2,
        m4=m4,
        susceptibility=n_sites * (m2 - mean**2) / np.asarray(temperatures, dtype=np.float64),
        binder=binder,
    )


TC_ESTIMATOR = (
    "susceptibility peak: the vertex of the parabola through the largest "
    "χ = N(<m²> − <|m|>²)/T on the temperature grid and its two neighbours "
    "(none when the largest χ is at an end of the grid)"
)


def susceptibility_peak(temperatures: np.ndarray, chi: np.ndarray) -> float:
    """Tc estimate: the vertex of the parabola through the grid maximum of χ and its two
    neighbours (kept within their span). ``nan`` when the maximum lies at an end of the grid
    (no peak inside it), or with fewer than three temperatures."""
    temps = np.asarray(temperatures, dtype=np.float64)
    chi = np.asarray(chi, dtype=np.float64)
    order = np.argsort(temps)
    temps, chi = temps[order], chi[order]
    if temps.size < 3 or not np.isfinite(chi).any():
        return float("nan")
    i = int(np.nanargmax(chi))
    if i == 0 or i == temps.size - 1:
        return float("nan")
    x, y = temps[i - 1 : i + 2], chi[i - 1 : i + 2]
    a, b, _ = np.polyfit(x, y, 2)
    if a >= 0:
        return float(temps[i])
    return float(np.clip(-b / (2 * a), x[0], x[-1]))
