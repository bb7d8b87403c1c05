"""Built-in battle players and head-to-head matches."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.core.errors import ConfigError
from mfmarl.envs.battle import ATTACK_BASE, BattleConfig, BattleEnv, TeamObs
from mfmarl.envs.scripted import attack_nearest_actions
from mfmarl.evaluation.battle import play_match
from mfmarl.evaluation.players import AttackNearestPlayer, make_player


@pytest.mark.parametrize("name", ["random", "attack-nearest", "attack-weakest"])
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


def _scene() -> TeamObs:
    """Agent 0 at (5, 5) with opponents at (6, 5) (east, full hp) and (4, 4) (north-west,
    hp 0.2); agent 1 at (12, 5), out of reach, nearest opponent to its west; slot 2 dead."""
    view = np.zeros((3, 13, 13, 5), dtype=np.float32)
    view[0, 6, 7, 3:5] = (1.0, 1.0)  # row = y offset 0, col = x offset +1
    view[0, 5, 5, 3:5] = (1.0, 0.2)  # row = y offset -1, col = x offset -1
    return TeamObs(
        view=view,
        features=np.zeros((3, 32), dtype=np.float32),
        alive=np.array([True, True, False]),
        ids=np.array([0, 1, -1]),
        positions=np.array([[5, 5], [12, 5], [-1, -1]]),
        opponent_positions=np.array([[6, 5], [4, 4]]),
    )


def test_scripted_targets_by_hand() -> None:
    rng = np.random.default_rng(0)
    nearest = attack_nearest_actions(_scene(), rng, focus="nearest")
    weakest = attack_nearest_actions(_scene(), rng, focus="weakest")
    # ATTACKS lists (dx, dy): (1, 0) is cell 4, (-1, -1) is cell 0
    assert nearest[0] == ATTACK_BASE + 4  # the nearest: orthogonal, distance 1
    assert weakest[0] == ATTACK_BASE + 0  # the one with less hp
    # agent 1 at (12, 5) heads west to a cell next to (6, 5): move (-2, 0) is action 4
    assert nearest[1] == 4 and weakest[1] == 4
    assert nearest[2] == 6  # the dead slot stays
