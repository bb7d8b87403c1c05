"""Mean actions against values worked out by hand and a slow O(n²) reference loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mfmarl.core import (
    ConfigError,
    global_mean_action,
    mean_action,
    one_hot,
    radius_mean_action,
    team_mean_action,
)
from mfmarl.core.mean_action import Fill

D = 3
ACTIONS = np.array([0, 1, 1, 2])


def test_one_hot() -> None:
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(one_hot(ACTIONS, D), expected)


def test_team_mean_excludes_self_by_hand() -> None:
    alive = np.ones(4, dtype=bool)
    got = team_mean_action(ACTIONS, alive, D, include_self=False)
    expected = np.array(
        [
            [0, 2 / 3, 1 / 3],  # others: 1, 1, 2
            [1 / 3, 1 / 3, 1 / 3],  # others: 0, 1, 2
            [1 / 3, 1 / 3, 1 / 3],
            [1 / 3, 2 / 3, 0],  # others: 0, 1, 1
        ]
    )
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_team_mean_includes_self_by_hand() -> None:
    got = team_mean_action(ACTIONS, np.ones(4, dtype=bool), D, include_self=True)
    np.testing.assert_allclose(got, np.tile([0.25, 0.5, 0.25], (4, 1)), atol=1e-6)


@pytest.mark.parametrize("fill, fill_row", [("zeros", [0, 0, 0]), ("uniform", [1 / 3] * 3)])
def test_team_mean_with_a_dead_agent(fill: Fill, fill_row: list[float]) -> None:
    alive = np.array([True, False, True, True])
    got = team_mean_action(ACTIONS, alive, D, include_self=False, fill=fill)
    expected = np.array(
        [
            [0, 0.5, 0.5],  # living others: 1 (agent 2), 2 (agent 3)
            fill_row,  # dead: no mean of its own
            [0.5, 0, 0.5],  # living others: 0, 2
            [0.5, 0.5, 0],  # living others: 0, 1
        ]
    )
    np.testing.assert_allclose(got, expected, atol=1e-6)
    with_self = team_mean_action(ACTIONS, alive, D, include_self=True, fill=fill)
    expected_self = np.array([[1 / 3] * 3, fill_row, [1 / 3] * 3, [1 / 3] * 3])
    np.testing.assert_allclose(with_self, expected_self, atol=1e-6)


@pytest.mark.parametrize("fill, value", [("zeros", 0.0), ("uniform", 1 / D)])
def test_agent_without_living_neighbour_gets_the_fill(fill: Fill, value: float) -> None:
    alive = np.array([False, False, True, False])
    got = team_mean_action(ACTIONS, alive, D, include_self=False, fill=fill)
    np.testing.assert_allclose(got, np.full((4, D), value), atol=1e-6)
    # With itself included, the lone survivor's mean is its own action.
    alone = team_mean_action(ACTIONS, alive, D, include_self=True, fill=fill)
    np.testing.assert_allclose(alone[2], [0, 1, 0], atol=1e-6)


def test_all_dead_is_all_fill() -> None:
    got = team_mean_action(ACTIONS, np.zeros(4, dtype=bool), D, fill="uniform")
    np.testing.assert_allclose(got, np.full((4, D), 1 / D), atol=1e-6)


def test_unknown_fill_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fill"):
        team_mean_action(ACTIONS, np.ones(4, dtype=bool), D, fill="ones")  # type: ignore[arg-type]


def test_radius_mean_on_a_line_by_hand() -> None:
    actions = np.array([0, 1, 2])
    positions = np.array([[0, 0], [1, 0], [3, 0]])
    got = radius_mean_action(actions, np.ones(3, dtype=bool), positions, 1, D)
    expected = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])  # agent 2 is 2 cells away
    np.testing.assert_allclose(got, expected, atol=1e-6)


def _reference_radius(
    actions: np.ndarray,
    alive: np.ndarray,
    positions: np.ndarray,
    radius: int,
    n_actions: int,
    include_self: bool,
    fill: Fill,
) -> np.ndarray:
    """Slow O(n²) loop over every pair of agents."""
    n = len(actions)
    out = np.zeros((n, n_actions))
    for j in range(n):
        total = np.zeros(n_actions)
        count = 0
        for k in range(n):
            if not alive[j] or not alive[k] or (k == j and not include_self):
                continue
            if np.abs(positions[j] - positions[k]).max() <= radius:
                total[actions[k]] += 1.0
                count += 1
        if count:
            out[j] = total / count
        else:
            out[j] = 0.0 if fill == "zeros" else 1.0 / n_actions
    return out


@pytest.mark.parametrize(
    "radius, include_self, fill",
    list(itertools.product([0, 1, 2, 4], [False, True], ["zeros", "uniform"])),
)
def test_radius_mean_matches_the_pairwise_loop(radius: int, include_self: bool, fill: Fill) -> None:
    rng = np.random.default_rng(radius * 10 + include_self)
    n, n_actions = 40, 5
    actions = rng.integers(0, n_actions, n)
    alive = rng.random(n) < 0.8
    positions = rng.integers(0, 8, size=(n, 2))  # several agents may share a cell
    got = radius_mean_action(
        actions,
        alive,
        positions,
        radius,
        n_actions,
        include_self,
        fill,
        grid_shape=(8, 8),
    )
    want = _reference_radius(actions, alive, positions, radius, n_actions, include_self, fill)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_global_mean_pools_every_team() -> None:
    team_a, team_b = np.array([0, 1]), np.array([2, 2])
    alive = [np.ones(2, dtype=bool), np.array([True, False])]
    got_a, got_b = global_mean_action([team_a, team_b], alive, D, include_self=True)
    # Living agents: actions 0, 1, 2 (the second agent of team b is dead).
    np.testing.assert_allclose(got_a, np.full((2, D), 1 / 3), atol=1e-6)
    np.testing.assert_allclose(got_b, np.array([[1 / 3] * 3, [0, 0, 0]]), atol=1e-6)


def test_mean_action_dispatch() -> None:
    alive = np.ones(4, dtype=bool)
    np.testing.assert_allclose(
        mean_action("team", ACTIONS, alive, D), team_mean_action(ACTIONS, alive, D)
    )
    with pytest.raises(ConfigError, match="positions"):
        mean_action("radius", ACTIONS, alive, D, radius=1)
    with pytest.raises(ConfigError, match="neighbourhood"):
        mean_action("ring", ACTIONS, alive, D)  # type: ignore[arg-type]
