"""Built-in battle players and head-to-head matches."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.core.errors import ConfigError
from mfmarl.envs.battle import ATTACK_BASE, BattleConfig, BattleEnv
from mfmarl.evaluation.battle import play_match
from mfmarl.evaluation.players import AttackNearestPlayer, make_player


@pytest.mark.parametrize("name", ["random", "attack-nearest"])
def test_players_give_valid_actions(name: str) -> None:
    config = BattleConfig(map_size=20)
    env = BattleEnv(config)
    player = make_player(name)
    player.reset(config, 0, seed=1)
    obs = env.reset(seed=0)
    for _ in range(20):
        actions = player.act(obs[0])
        assert actions.shape == (env.n_max,)
        assert ((actions >= 0) & (actions < env.n_actions)).all()
        obs = env.step(actions, np.full(env.n_max, 6)).obs


def test_attack_nearest_attacks_adjacent_and_approaches() -> None:
    config = BattleConfig(map_size=20)
    env = BattleEnv(config)
    player = AttackNearestPlayer()
    player.reset(config, 0, seed=0)
    obs = env.reset(seed=0)
    # at the start nobody is in reach: every agent moves right (dx > 0) toward the enemy
    actions = player.act(obs[0])
    assert (actions < ATTACK_BASE).all() and (actions != 6).all()
    for _ in range(15):
        step = env.step(player.act(obs[0]), np.full(env.n_max, 6))
        obs = step.obs
    attacks = player.act(obs[0]) >= ATTACK_BASE
    assert attacks.any()


def test_attack_nearest_beats_random() -> None:
    players = (make_player("attack-nearest"), make_player("random"))
    result = play_match(BattleConfig(map_size=20), players, ("attack-nearest", "random"), 4, 0)
    assert result["wins"] == [4, 0] and result["rounds"] == 4
    assert result["kills"][0] > result["kills"][1]


def test_unknown_player(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not a built-in"):
        make_player("nobody")
    with pytest.raises(ConfigError, match="missing model.safetensors"):
        make_player(str(tmp_path))
    with pytest.raises(ConfigError):
        play_match(BattleConfig(map_size=20), (make_player("random"),) * 2, ("r", "r"), 0, 0)
