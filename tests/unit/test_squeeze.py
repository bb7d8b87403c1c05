"""Gaussian Squeeze reward and optimum against hand values and a brute-force search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfmarl.core import ConfigError
from mfmarl.experiments.gaussian_squeeze import (
    GaussianSqueeze,
    GaussianSqueezeConfig,
    squeeze_optimum,
    squeeze_reward,
)


def test_reward_by_hand() -> None:
    assert squeeze_reward(0.0, 400.0, 200.0) == 0.0
    assert squeeze_reward(400.0, 400.0, 200.0) == pytest.approx(400.0)  # exp(0) = 1
    assert squeeze_reward(600.0, 400.0, 200.0) == pytest.approx(600.0 / math.e)  # exp(-1)
    assert squeeze_reward(200.0, 400.0, 100.0) == pytest.approx(200.0 * math.exp(-4.0))


def test_optimum_by_hand_and_by_search() -> None:
    # x* = (400 + sqrt(400² + 2·200²)) / 2 = (400 + sqrt(240000)) / 2
    x_hand = (400.0 + 489.8979485566356) / 2.0
    assert x_hand == pytest.approx(444.949, abs=1e-3)
    x_star, g_star = squeeze_optimum(400.0, 200.0)
    assert x_star == pytest.approx(x_hand, abs=1e-9)
    assert g_star == pytest.approx(423.0, abs=0.05)
    # Independent check: brute-force maximisation of x·exp(−(x−µ)²/σ²) on a fine grid.
    grid = np.linspace(0.0, 2000.0, 2_000_001)
    values = grid * np.exp(-((grid - 400.0) ** 2) / 200.0**2)
    assert grid[values.argmax()] == pytest.approx(x_star, abs=2e-3)
    assert values.max() == pytest.approx(g_star, abs=1e-6)


def test_optimum_is_clipped_to_the_reachable_range() -> None:
    # N = 20, D = 10: x <= 180 < x*, and G rises on (0, x*), so the optimum is x = 180.
    x_star, g_star = squeeze_optimum(400.0, 200.0, max_x=180)
    assert x_star == 180.0
    assert g_star == pytest.approx(180.0 * math.exp(-(220.0**2) / 200.0**2))
    assert squeeze_optimum(400.0, 200.0, max_x=9000)[0] == pytest.approx(444.949, abs=1e-3)


def test_batched_step() -> None:
    env = GaussianSqueeze(GaussianSqueezeConfig(n_agents=4, mu=10.0, sigma=5.0))
    (first,) = env.reset()
    assert first.obs.shape == (4, 0) and first.alive.all()
    result = env.step([np.array([1, 2, 3, 4])])
    g = 10.0 * math.exp(0.0)
    (group,) = result.groups
    np.testing.assert_allclose(group.rewards, [g] * 4)
    assert group.terminated.all() and not group.truncated.any() and result.done
    assert not group.next.alive.any()  # every round is an episode: the agents' ends
    assert result.info == {"x": 10.0, "G": pytest.approx(g)}
    assert env.optimum[0] == pytest.approx((10 + math.sqrt(100 + 50)) / 2)


@pytest.mark.parametrize(
    "kwargs, field",
    [({"n_agents": 0}, "n_agents"), ({"sigma": 0.0}, "sigma"), ({"n_actions": 1}, "n_actions")],
)
def test_invalid_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        GaussianSqueezeConfig(**kwargs)
