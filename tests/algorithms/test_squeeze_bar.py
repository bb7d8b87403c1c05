"""The Gaussian Squeeze headline bar, guarded: MF-Q reaches it on every seed.

The bar (docs/gaussian_squeeze.md): median final G/G* ≥ 0.95 over 3 seeds and every seed
≥ 0.90, with the quick preset and nothing tuned per setting. The fast test runs N = 50, where
the optimum needs a mean action of 8.9 (almost every agent on the highest action, far from the
initial policy near 0): on 0fad248 this test measured 0.21, 0.11 and 0.22 G*
there (actions never tried kept their initial value), so this test fails on that commit. The
slow tests run the whole range the preset promises.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mfmarl.algorithms import make_learner
from mfmarl.experiments.gaussian_squeeze import GaussianSqueeze, GaussianSqueezeConfig
from mfmarl.experiments.gaussian_squeeze.preset import gaussian_squeeze_preset
from mfmarl.training.loop import train_learner

SEEDS = (0, 1, 2)


def final_ratio(
    algo: str, n_agents: int, seed: int, mu: float = 400.0, sigma: float = 200.0, **override
) -> float:
    """Final G/G* (mean over the last 10% of episodes) of one quick-preset run."""
    env = GaussianSqueeze(GaussianSqueezeConfig(n_agents=n_agents, mu=mu, sigma=sigma))
    algo_config, train_config = gaussian_squeeze_preset(algo, n_agents, "quick")
    algo_config = dataclasses.replace(algo_config, **override)
    train_config = dataclasses.replace(train_config, seed=seed)
    learner = make_learner(algo_config, env.obs_dim, env.n_actions, env.n_agents, seed=seed)
    history = list(train_learner(env, learner, train_config))
    tail = [h["env/G"] for h in history[-len(history) // 10 :]]
    return float(np.mean(tail)) / env.optimum[1]


def assert_bar(ratios: list[float]) -> None:
    assert min(ratios) >= 0.90, ratios
    assert float(np.median(ratios)) >= 0.95, ratios


def test_preset_rules_follow_n() -> None:
    """act_tau·N = 0.3 (Q learners), actor_lr·N = 1000 (actors) and ε·N = 1 at every N: the
    population moves x at one speed."""
    for n in (50, 100, 1000, 5000):
        algo, train_config = gaussian_squeeze_preset("mfq", n, "quick")
        assert algo.act_tau * n == pytest.approx(0.3)
        assert algo.epsilon_start * n == pytest.approx(1.0) == algo.epsilon_end * n
        assert train_config.buffer_size == 64 * n and train_config.batch_size == 16 * n
        actor, _ = gaussian_squeeze_preset("mfac", n, "quick")
        assert actor.actor_lr * n == pytest.approx(1000.0) and actor.act_tau == 1.0
        assert actor.epsilon_start == algo.epsilon_start
    assert gaussian_squeeze_preset("mfq", 1, "quick")[0].act_tau == pytest.approx(0.3)


def test_mfq_reaches_the_bar_on_every_seed_at_n50() -> None:
    assert_bar([final_ratio("mfq", 50, seed) for seed in SEEDS])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_agents", "mu", "sigma"),
    [
        (100, 400.0, 200.0),
        (500, 400.0, 200.0),
        (1000, 400.0, 200.0),
        (2000, 400.0, 200.0),
        (5000, 400.0, 200.0),
        (1000, 800.0, 300.0),
        (500, 400.0, 50.0),
    ],
)
def test_mfq_reaches_the_bar_over_n_and_shapes(n_agents: int, mu: float, sigma: float) -> None:
    assert_bar([final_ratio("mfq", n_agents, seed, mu, sigma) for seed in SEEDS])
