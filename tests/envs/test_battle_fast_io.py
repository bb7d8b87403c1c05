"""The adapter's direct engine reads: positions, ids, action checks, mirrored inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.envs.battle import MIRROR_ACTIONS, BattleConfig, BattleEnv
from mfmarl.evaluation.players import AttackNearestPlayer
from mfmarl.training.battle import team_inputs


def test_positions_ids_and_alive_match_the_engine_getters() -> None:
    env = BattleEnv(BattleConfig(map_size=20, max_steps=200))
    obs = env.reset(seed=1)
    players = [AttackNearestPlayer(), AttackNearestPlayer()]
    for team, p in enumerate(players):
        p.reset(env.config, team, seed=team)
    deaths = 0
    while not env.done and deaths < 6:
        result = env.step(players[0].act(obs[0]), players[1].act(obs[1]))
        obs = result.obs
        deaths += sum(result.kills)
        for t, team in enumerate(result.obs):
            handle = env.handles[t]
            # after clear_dead the engine holds exactly the living agents, in slot order
            living = np.flatnonzero(team.alive)
            np.testing.assert_array_equal(team.positions[living], env.engine.get_pos(handle))
            np.testing.assert_array_equal(team.ids[living], env.engine.get_agent_id(handle))
            other = result.obs[1 - t]
            np.testing.assert_array_equal(other.opponent_positions, team.positions[living])
    assert deaths > 0


def test_negative_and_too_large_actions_are_rejected() -> None:
    env = BattleEnv(BattleConfig(map_size=20))
    env.reset(seed=0)
    ok = np.full(env.n_max, 6)
    for bad in (-1, 21, 2**32):
        wrong = ok.copy()
        wrong[3] = bad
        with pytest.raises(ValueError):
            env.step(ok, wrong)


def test_team_inputs_by_hand() -> None:
    env = BattleEnv(BattleConfig(map_size=20))
    obs = env.reset(seed=0)
    rng = np.random.default_rng(0)
    obs = env.step(rng.integers(0, 21, env.n_max), rng.integers(0, 21, env.n_max)).obs
    blue = obs[1]
    x = team_inputs(blue, 1)
    n, size = env.n_max, 13 * 13 * 5
    np.testing.assert_array_equal(x[:, :size], blue.view[:, :, ::-1, :].reshape(n, -1))
    features = x[:, size:]
    assert not features[:, :10].any()  # id bits zeroed
    last = blue.features[:, 10:31].argmax(1)
    assert (features[:, 10:31].argmax(1) == MIRROR_ACTIONS[last]).all()
    np.testing.assert_array_equal(features[:, 31], blue.features[:, 31])
    red = team_inputs(obs[0], 0)
    np.testing.assert_array_equal(red[:, :size], obs[0].view.reshape(n, -1))
    np.testing.assert_array_equal(red[:, size:], obs[0].features)
