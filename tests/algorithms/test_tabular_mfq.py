"""Tabular MF-Q on the Ising lattice: the learned table, determinism, schedules, and the
Curie–Weiss solution of the global neighbourhood."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfmarl.core.errors import ConfigError
from mfmarl.experiments.ising.env import IsingConfig
from mfmarl.experiments.ising.tabular_mfq import TabularMFQConfig, train_tabular_mfq

SMALL = TabularMFQConfig(warmup_sweeps=20, sweeps=60, measure_sweeps=30)


def curie_weiss(temperature: float, coupling: float) -> float:
    """The positive root of m = tanh(2λm/T) (0 at T ≥ 2λ), by bisection."""
    if temperature >= 2 * coupling:
        return 0.0
    low, high = 1e-12, 1.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if mid < math.tanh(2 * coupling * mid / temperature) else (low, mid)
    return 0.5 * (low + high)


def test_checkerboard_table_is_the_local_reward() -> None:
    """With γ = 0, α = 1 and checkerboard updates, every visited entry Q[n, a] is exactly the
    reward s·(h + (λ/2)(2n − 4)): the agents' Boltzmann policy is then heat-bath dynamics."""
    env = IsingConfig(lattice=6, coupling=1.3, field=0.25)
    config = TabularMFQConfig(alpha=1.0, warmup_sweeps=200, sweeps=1, measure_sweeps=1)
    run = train_tabular_mfq(env, config, [0.7, 2.0], seed=0)
    n = np.arange(5)[:, None]
    spin = np.array([-1.0, 1.0])[None, :]
    expected = spin * (0.25 + 0.5 * 1.3 * (2 * n - 4))
    visited = run.q != 0
    assert visited.mean() > 0.9
    np.testing.assert_allclose(
        run.q[visited], np.broadcast_to(expected, run.q.shape)[visited], atol=1e-12
    )


def test_deterministic_given_seed() -> None:
    env = IsingConfig(lattice=5)
    first = train_tabular_mfq(env, SMALL, [0.8, 1.5], seed=3)
    second = train_tabular_mfq(env, SMALL, [0.8, 1.5], seed=3)
    other = train_tabular_mfq(env, SMALL, [0.8, 1.5], seed=4)
    np.testing.assert_array_equal(first.magnetisation, second.magnetisation)
    np.testing.assert_array_equal(first.q, second.q)
    assert not np.array_equal(first.magnetisation, other.magnetisation)
    assert first.measured.shape == (30, 2)


@pytest.mark.parametrize("schedule", ["random", "synchronous"])
@pytest.mark.parametrize("neighbourhood", ["local", "global"])
@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_other_schedules_run(schedule: str, neighbourhood: str, gamma: float) -> None:
    config = TabularMFQConfig(
        schedule=schedule,
        neighbourhood=neighbourhood,
        gamma=gamma,
        warmup_sweeps=5,
        sweeps=10,
        measure_sweeps=5,
    )
    run = train_tabular_mfq(IsingConfig(lattice=4), config, [0.5, 3.0], seed=0)
    assert run.magnetisation.shape == (10, 2)
    assert np.isin(run.spins, (-1, 1)).all()
    assert np.isfinite(run.q).all()


def test_low_temperature_keeps_order() -> None:
    run = train_tabular_mfq(
        IsingConfig(lattice=8), TabularMFQConfig(sweeps=300, measure_sweeps=200), [0.5], 0
    )
    assert np.abs(run.measured).mean() > 0.98


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="schedule"):
        TabularMFQConfig(schedule="parallel")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alpha"):
        TabularMFQConfig(alpha=0.0)
    with pytest.raises(ConfigError, match="measure_sweeps"):
        TabularMFQConfig(sweeps=10, measure_sweeps=20)
    with pytest.raises(ConfigError, match="temperatures"):
        train_tabular_mfq(IsingConfig(lattice=4), SMALL, [1.0, 0.0], seed=0)


def _global_xi(lattice: int, temperatures: list[float]) -> np.ndarray:
    config = TabularMFQConfig(
        neighbourhood="global", warmup_sweeps=1000, sweeps=3000, measure_sweeps=1000
    )
    run = train_tabular_mfq(IsingConfig(lattice=lattice), config, temperatures, seed=0)
    return np.abs(run.measured).mean(axis=0)


def test_global_neighbourhood_follows_curie_weiss() -> None:
    """Tc = 2λ = 2; temperatures at least 0.3 away. Far above Tc a finite lattice keeps
    |m| ≈ 1/√N·(…), so the high-T points use T = 3."""
    temps = [1.0, 1.5, 1.7, 3.0]
    xi = _global_xi(32, temps)
    expected = [curie_weiss(t, 1.0) for t in temps]
    np.testing.assert_allclose(xi, expected, atol=0.05)


@pytest.mark.slow
def test_global_neighbourhood_follows_curie_weiss_near_tc() -> None:
    temps = [1.0, 1.5, 1.7, 2.3, 2.6, 3.0]
    xi = _global_xi(48, temps)
    expected = [curie_weiss(t, 1.0) for t in temps]
    np.testing.assert_allclose(xi, expected, atol=0.05)
