"""Battle on MAgent2: the batched adapter against PettingZoo battle_v4, and the API test."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import
from magent2.environments import battle_v4
from pettingzoo.test import parallel_api_test

from mfmarl.core.errors import ConfigError
from mfmarl.envs.battle import BattleConfig, BattleEnv, battle_layout, make_battle_parallel_env
from mfmarl.evaluation.players import AttackNearestPlayer, RandomPlayer


def _pz_actions(pz, actions) -> dict[str, int]:
    return {
        a: int(actions[0 if a.startswith("red") else 1][int(a.split("_")[1])]) for a in pz.agents
    }


def _assert_same(pz_obs, obs, n, rewards=None, pz_rewards=None) -> int:
    """Compare every agent PettingZoo returned; return how many were compared."""
    compared = 0
    for team, name in enumerate(("red", "blue")):
        o = obs[team]
        channels = o.view.shape[-1]
        for i in range(n):
            agent = f"{name}_{i}"
            if agent not in pz_obs:
                continue
            x = pz_obs[agent]
            np.testing.assert_array_equal(x[..., :channels], o.view[i], err_msg=agent)
            np.testing.assert_allclose(x[0, 0, channels:], o.features[i], err_msg=agent)
            if rewards is not None:
                assert pz_rewards[agent] == pytest.approx(float(rewards[team][i])), agent
            compared += 1
    return compared


@pytest.mark.parametrize("minimap", [False, True])
def test_adapter_matches_pettingzoo_battle_v4(minimap: bool) -> None:
    config = BattleConfig(map_size=20, minimap=minimap, extra_features=True, max_steps=60)
    pz = battle_v4.parallel_env(
        map_size=20, minimap_mode=minimap, extra_features=True, max_cycles=60
    )
    env = BattleEnv(config)
    pz_obs, _ = pz.reset(seed=11)
    # magent2 0.3.4 counts the teams before placing them in reset, so its first step would
    # drop every action; set the counts as its own step does afterwards
    pz.team_sizes = [pz.env.get_num(h) for h in pz.handles]
    obs = env.reset(seed=11)
    n = env.n_max
    assert n == 12 and _assert_same(pz_obs, obs, n) == 2 * n
    # the scripted player makes contact quickly, so agents die within the steps compared
    players = [AttackNearestPlayer(), RandomPlayer()]
    for team, p in enumerate(players):
        p.reset(config, team, seed=team)
    deaths = 0
    for _ in range(config.max_steps):
        actions = [players[t].act(obs[t]) for t in (0, 1)]
        pz_obs, pz_rewards, terms, truncs, _ = pz.step(_pz_actions(pz, actions))
        step = env.step(actions[0], actions[1])
        obs = step.obs
        _assert_same(pz_obs, obs, n, step.rewards, pz_rewards)
        for team, name in enumerate(("red", "blue")):
            for i in np.flatnonzero(step.died[team]):
                assert terms[f"{name}_{i}"]
            assert not (step.died[team] & obs[team].alive).any()
        deaths += int(step.died[0].sum() + step.died[1].sum())
        if step.done:
            break
    assert deaths > 0
    assert env.kills[0] > 0 and sum(env.kills) == deaths


def test_dead_slots_are_masked() -> None:
    env = BattleEnv(BattleConfig(map_size=20, max_steps=100))
    obs = env.reset(seed=0)
    players = [AttackNearestPlayer(), RandomPlayer()]
    dead_before = np.zeros(env.n_max, dtype=bool)
    while not env.done:
        step = env.step(players[0].act(obs[0]), players[1].act(obs[1]))
        obs = step.obs
        blue = obs[1]
        # slots dead before this step carry nothing; slots that died now keep final data
        assert not blue.view[dead_before].any() and not step.rewards[1][dead_before].any()
        assert (blue.ids[dead_before] == -1).all() and (blue.positions[dead_before] == -1).all()
        assert np.array_equal(blue.alive, ~dead_before & ~step.died[1])
        assert len(obs[0].opponent_positions) == int(blue.alive.sum())
        dead_before |= step.died[1]
    assert env.alive_counts[1] == 0 and env.kills[0] == env.n_max
    with pytest.raises(RuntimeError):
        env.step(np.zeros(env.n_max, int), np.zeros(env.n_max, int))


def test_step_rejects_bad_actions() -> None:
    env = BattleEnv(BattleConfig(map_size=20))
    env.reset(seed=0)
    ok = np.full(env.n_max, 6)
    with pytest.raises(ValueError):
        env.step(ok, np.full(env.n_max, 21))
    with pytest.raises(ValueError):
        env.step(ok, ok[:-1])


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


def test_custom_team_size_and_rewards() -> None:
    config = BattleConfig(map_size=24, team_size=5, kill_reward=1.0, step_reward=-1.0)
    env = BattleEnv(config)
    obs = env.reset(seed=0)
    assert env.n_max == 5 and obs[0].alive.all() and obs[1].view.shape == (5, 13, 13, 5)
    step = env.step(np.full(5, 6), np.full(5, 6))
    np.testing.assert_allclose(step.rewards[0], -1.0)


def test_render_rgb() -> None:
    env = BattleEnv(BattleConfig(map_size=20))
    env.reset(seed=0)
    image = env.render(cell=4)
    assert image.shape == (80, 80, 3) and image.dtype == np.uint8
    assert (image != 255).any(axis=-1).sum() == 2 * env.n_max * 16


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
