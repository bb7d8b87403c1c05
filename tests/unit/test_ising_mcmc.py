"""Metropolis MCMC of the agents' Ising model (J = λ/2) and the magnetisation statistics."""

from __future__ import annotations

import numpy as np
import pytest

from mfmarl.experiments.ising.env import IsingConfig, onsager_magnetisation
from mfmarl.experiments.ising.mcmc import (
    MCMCConfig,
    magnetisation_stats,
    metropolis,
    susceptibility_peak,
)


@pytest.mark.parametrize("coupling", [1.0, 2.0])
def test_metropolis_matches_onsager(coupling: float) -> None:
    """32×32, T = 0.8, 0.9, 1.0 (×λ): <|m|> within 0.03 of (1 − sinh(λ/T)^−4)^{1/8}."""
    temps = coupling * np.array([0.8, 0.9, 1.0])
    run = metropolis(IsingConfig(32, coupling), MCMCConfig(300, 1500), temps, seed=0)
    xi = np.abs(run.magnetisation).mean(axis=0)
    exact = [onsager_magnetisation(t, coupling) for t in temps]
    np.testing.assert_allclose(xi, exact, atol=0.03)


def test_random_start_disorders_at_high_temperature() -> None:
    run = metropolis(IsingConfig(16), MCMCConfig(200, 500, "random"), [3.0, 0.5], seed=1)
    xi = np.abs(run.magnetisation).mean(axis=0)
    assert xi[0] < 0.2
    assert run.spins.shape == (2, 256)


def test_field_polarises() -> None:
    run = metropolis(IsingConfig(8, 1.0, field=1.0), MCMCConfig(100, 300, "random"), [2.0], 0)
    assert run.magnetisation.mean() > 0.5


def test_metropolis_deterministic() -> None:
    env, config = IsingConfig(6), MCMCConfig(10, 20, "random")
    a = metropolis(env, config, [1.0, 2.0], seed=5)
    b = metropolis(env, config, [1.0, 2.0], seed=5)
    np.testing.assert_array_equal(a.magnetisation, b.magnetisation)


def test_stats_and_peak() -> None:
    temps = np.array([1.0, 2.0])
    series = [np.array([[1.0, 0.5], [-1.0, -0.5]]), np.array([[1.0, 0.1], [1.0, 0.3]])]
    stats = magnetisation_stats(series, temps, n_sites=4)
    np.testing.assert_allclose(stats.order_parameter, [1.0, 0.35])
    np.testing.assert_allclose(stats.m2, [1.0, (0.25 + 0.25 + 0.01 + 0.09) / 4])
    np.testing.assert_allclose(stats.susceptibility, [0.0, 4 * (0.15 - 0.35**2) / 2.0])
    np.testing.assert_allclose(stats.seed_std, [0.0, np.std([0.5, 0.2], ddof=1)])
    grid = np.linspace(0.5, 3.0, 26)
    assert susceptibility_peak(grid, -((grid - 1.234) ** 2)) == pytest.approx(1.234)
    assert np.isnan(susceptibility_peak(grid, -grid))
    assert np.isnan(susceptibility_peak(grid[:2], grid[:2]))
