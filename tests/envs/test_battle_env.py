"""The Battle experiment's environment: its layout and config, and its PettingZoo env
against battle_v4 (the fast path is tested in test_magent2.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import
from magent2.environments import battle_v4
from pettingzoo.test import parallel_api_test

from mfmarl.core.errors import ConfigError
from mfmarl.experiments.battle.env import BattleConfig, battle_layout, make_battle_parallel_env


def test_layout_and_config() -> None:
    for size, n in ((20, 12), (24, 16), (30, 30), (40, 64)):
        left, right = battle_layout(size)
        assert len(left) == len(right) == n == BattleConfig(map_size=size).n_agents
    left, right = battle_layout(40, 20)
    assert len(left) == len(right) == 20
    # the kept agents are the front ones: the left army's right edge is unchanged
    assert max(x for x, _ in left) == max(x for x, _ in battle_layout(40)[0])
    for bad in ({"map_size": 11}, {"max_steps": 0}, {"team_size": 0}, {"team_size": 500}):
        with pytest.raises(ConfigError):
            BattleConfig(**bad)


@pytest.mark.parametrize("extra", [False, True])
def test_parallel_api(extra: bool) -> None:
    env = make_battle_parallel_env(BattleConfig(map_size=16, max_steps=30, extra_features=extra))
    parallel_api_test(env, num_cycles=30)


def test_parallel_env_matches_battle_v4() -> None:
    ours = make_battle_parallel_env(BattleConfig(map_size=20, max_steps=20))
    theirs = battle_v4.parallel_env(map_size=20, max_cycles=20)
    a, _ = ours.reset(seed=3)
    b, _ = theirs.reset(seed=3)
    theirs.team_sizes = [theirs.env.get_num(h) for h in theirs.handles]
    rng = np.random.default_rng(0)
    for _ in range(10):
        assert a.keys() == b.keys()
        for agent in a:
            np.testing.assert_array_equal(a[agent], b[agent])
        actions = {agent: int(rng.integers(21)) for agent in ours.agents}
        a, ra, *_ = ours.step(actions)
        b, rb, *_ = theirs.step(actions)
        assert ra == rb
