"""The PettingZoo path of Gaussian Squeeze: API conformance, determinism, batched parity."""

from __future__ import annotations

import numpy as np
from pettingzoo.test import parallel_api_test

from mfmarl.experiments.gaussian_squeeze import (
    GaussianSqueeze,
    GaussianSqueezeConfig,
    GaussianSqueezeParallelEnv,
)

CONFIG = GaussianSqueezeConfig(n_agents=6, mu=20.0, sigma=10.0, n_actions=5)


def test_parallel_api() -> None:
    parallel_api_test(GaussianSqueezeParallelEnv(CONFIG, max_cycles=4), num_cycles=20)


def _rollout(seed: int, steps: int) -> list[tuple[dict, dict]]:
    """Reset with ``seed``, then play seeded random actions for ``steps`` rounds."""
    env = GaussianSqueezeParallelEnv(CONFIG, max_cycles=steps)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    trace = []
    while env.agents:
        actions = {a: int(rng.integers(0, CONFIG.n_actions)) for a in env.agents}
        _, rewards, terminations, truncations, infos = env.step(actions)
        trace.append((rewards, {a: (terminations[a], truncations[a]) for a in rewards}))
    return trace


def test_multi_step_determinism() -> None:
    first, second = _rollout(3, 10), _rollout(3, 10)
    assert len(first) == 10
    assert first == second
    assert all(
        done == (False, t == 9) for t, (_, flags) in enumerate(first) for done in flags.values()
    )


def test_batched_path_equals_pettingzoo_path() -> None:
    batched = GaussianSqueeze(CONFIG)
    env = GaussianSqueezeParallelEnv(CONFIG, max_cycles=5)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(5):
        array = rng.integers(0, CONFIG.n_actions, CONFIG.n_agents)
        actions = {agent: int(a) for agent, a in zip(env.agents, array)}
        _, rewards, _, _, infos = env.step(actions)
        result = batched.step([array])
        got = result.groups[0].rewards
        np.testing.assert_allclose([rewards[a] for a in actions], got, rtol=1e-6)
        assert infos["agent_0"]["x"] == result.info["x"] == float(array.sum())
        assert infos["agent_0"]["G"] == result.info["G"]
    assert env.agents == []
