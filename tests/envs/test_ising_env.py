"""The Ising game: PettingZoo conformance, hand-computed rewards, lattice helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from mfmarl.core.errors import ConfigError
from mfmarl.experiments.ising.env import (
    IsingConfig,
    IsingParallelEnv,
    colour_groups,
    lattice_rewards,
    neighbour_table,
    onsager_magnetisation,
    onsager_tc,
    up_neighbours,
)

# Row-major 3×3 lattice, +1 = up.
GRID = np.array([[1, -1, 1], [1, 1, -1], [-1, 1, 1]])
# By hand with λ = 1, h = 0.5: r = s·(h + Σ_k s_k / 2). Sites (0,1), (1,2) and (2,0) are down
# with 4 up neighbours (Σ = 4): r = −(0.5 + 2) = −2.5; every up site has Σ = 0: r = 0.5.
HAND_REWARDS = np.array([[0.5, -2.5, 0.5], [0.5, 0.5, -2.5], [-2.5, 0.5, 0.5]])
HAND_UP_NEIGHBOURS = np.array([[2, 4, 2], [2, 2, 4], [4, 2, 2]])


def test_parallel_api() -> None:
    parallel_api_test(IsingParallelEnv(IsingConfig(lattice=3), max_cycles=4), num_cycles=20)


def test_rewards_and_observations_by_hand() -> None:
    env = IsingParallelEnv(IsingConfig(lattice=3, coupling=1.0, field=0.5), max_cycles=2)
    obs, _ = env.reset(seed=0)
    assert sorted(obs) == sorted(f"site_{i}_{j}" for i in range(3) for j in range(3))
    actions = {f"site_{i}_{j}": int(GRID[i, j] > 0) for i in range(3) for j in range(3)}
    obs, rewards, terms, truncs, infos = env.step(actions)
    for i in range(3):
        for j in range(3):
            name = f"site_{i}_{j}"
            assert rewards[name] == pytest.approx(HAND_REWARDS[i, j])
            assert obs[name][0] == HAND_UP_NEIGHBOURS[i, j]
            assert not terms[name] and not truncs[name]
    assert infos["site_0_0"]["order_parameter"] == pytest.approx(3 / 9)
    np.testing.assert_array_equal(env.state(), GRID)
    _, _, _, truncs, _ = env.step(actions)
    assert all(truncs.values()) and env.agents == []


def test_rewards_count_every_bond_twice() -> None:
    """Σ_j r_j = λ·Σ_<jk> s_j s_k + h·Σ_j s_j, each bond once on the right-hand side."""
    rng = np.random.default_rng(1)
    config = IsingConfig(lattice=5, coupling=1.7, field=-0.3)
    spins = np.where(rng.random(25) < 0.5, 1, -1).astype(np.int8)
    grid = spins.reshape(5, 5).astype(float)
    bonds = (grid * np.roll(grid, -1, 0)).sum() + (grid * np.roll(grid, -1, 1)).sum()
    total = lattice_rewards(spins, config).sum()
    assert total == pytest.approx(1.7 * bonds - 0.3 * spins.sum())


def test_up_neighbours_match_roll() -> None:
    rng = np.random.default_rng(2)
    spins = np.where(rng.random((3, 36)) < 0.5, 1, -1).astype(np.int8)
    grid = spins.reshape(3, 6, 6)
    sums = sum(np.roll(grid, shift, axis) for shift in (1, -1) for axis in (1, 2))
    np.testing.assert_array_equal(up_neighbours(spins, 6), ((sums + 4) // 2).reshape(3, 36))


@pytest.mark.parametrize("lattice", [2, 3, 4, 5, 7, 20])
def test_colour_groups_separate_neighbours(lattice: int) -> None:
    groups = colour_groups(lattice)
    assert len(groups) == (2 if lattice % 2 == 0 else 3)
    assert sorted(np.concatenate(groups).tolist()) == list(range(lattice * lattice))
    table = neighbour_table(lattice)
    for group in groups:
        assert not np.isin(table[group], group).any()


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="lattice"):
        IsingConfig(lattice=1)
    with pytest.raises(ConfigError, match="coupling"):
        IsingConfig(coupling=math.nan)
    with pytest.raises(ConfigError, match="start"):
        IsingParallelEnv(start="striped")


def test_onsager() -> None:
    assert onsager_tc(1.0) == pytest.approx(1.1346, abs=1e-4)
    assert onsager_tc(2.0) == pytest.approx(2 * onsager_tc(1.0))
    assert onsager_magnetisation(1.0, 1.0) == pytest.approx(0.9113, abs=1e-4)
    assert onsager_magnetisation(1.2, 1.0) == 0.0
