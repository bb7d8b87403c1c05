"""Built-in players, scripted targets by hand, and head-to-head matches."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.core.errors import ConfigError
from mfmarl.envs.magent2_engine import RawObs
from mfmarl.envs.scripted import attack_nearest_actions
from mfmarl.evaluation.matches import play_match
from mfmarl.evaluation.players import load_player
from mfmarl.experiments.battle.env import ATTACK_BASE, BattleConfig, battle_arena, make_battle_env


@pytest.mark.parametrize("name", ["random", "attack-nearest", "attack-weakest"])
def test_players_give_valid_actions(name: str) -> None:
    env = make_battle_env(map_size=20)
    actor = load_player(name).actor(env, 0, seed=1)
    assert actor.script is not None
    obs = env.reset(seed=0)
    n = env.groups[0].n_slots
    for _ in range(20):
        actions = actor.script(obs, actor.rng)
        assert actions.shape == (n,)
        assert ((actions >= 0) & (actions < 21)).all()
        obs = tuple(s.next for s in env.step([actions, np.full(n, 6)]).groups)


def test_attack_nearest_attacks_adjacent_and_approaches() -> None:
    env = make_battle_env(map_size=20)
    actor = load_player("attack-nearest").actor(env, 0, seed=0)
    assert actor.script is not None
    obs = env.reset(seed=0)
    n = env.groups[0].n_slots
    # at the start nobody is in reach: every agent moves right (dx > 0) toward the enemy
    actions = actor.script(obs, actor.rng)
    assert (actions < ATTACK_BASE).all() and (actions != 6).all()
    for _ in range(15):
        obs = tuple(s.next for s in env.step([actor.script(obs, actor.rng), np.full(n, 6)]).groups)
    assert (actor.script(obs, actor.rng) >= ATTACK_BASE).any()


def test_attack_nearest_beats_random_on_either_side() -> None:
    players = (load_player("attack-nearest"), load_player("random"))
    arena = battle_arena(BattleConfig(map_size=20))
    result = play_match(arena, players, ("attack-nearest", "random"), 4, 0)
    assert result["wins"] == [4, 0] and result["rounds"] == 4
    assert result["kills"][0] > result["kills"][1]
    assert result["sides"] == [["red"], ["blue"]]


def test_unknown_player(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not a built-in"):
        load_player("nobody")
    with pytest.raises(ConfigError, match="neither a training run nor a checkpoint"):
        load_player(str(tmp_path))
    arena = battle_arena(BattleConfig(map_size=20))
    with pytest.raises(ConfigError):
        play_match(arena, (load_player("random"),) * 2, ("r", "r"), 0, 0)


def _scene() -> RawObs:
    """Agent 0 at (5, 5) with opponents at (6, 5) (east, full hp) and (4, 4) (north-west,
    hp 0.2); agent 1 at (12, 5), out of reach, nearest opponent to its west; slot 2 dead."""
    view = np.zeros((3, 13, 13, 5), dtype=np.float32)
    view[0, 6, 7, 3:5] = (1.0, 1.0)  # row = y offset 0, col = x offset +1
    view[0, 5, 5, 3:5] = (1.0, 0.2)  # row = y offset -1, col = x offset -1
    return RawObs(
        view=view,
        features=np.zeros((3, 32), dtype=np.float32),
        alive=np.array([True, True, False]),
        positions=np.array([[5, 5], [12, 5], [-1, -1]]),
    )


def test_scripted_targets_by_hand() -> None:
    layout = make_battle_env(map_size=20).layouts[0]
    enemies = np.array([[6, 5], [4, 4]])
    rng = np.random.default_rng(0)
    nearest = attack_nearest_actions(_scene(), enemies, rng, layout, focus="nearest")
    weakest = attack_nearest_actions(_scene(), enemies, rng, layout, focus="weakest")
    # the attack cells, as (dx, dy): (1, 0) is cell 4, (-1, -1) is cell 0
    assert nearest[0] == ATTACK_BASE + 4  # the nearest: orthogonal, distance 1
    assert weakest[0] == ATTACK_BASE + 0  # the one with less hp
    # agent 1 at (12, 5) heads west to a cell next to (6, 5): move (-2, 0) is action 4
    assert nearest[1] == 4 and weakest[1] == 4
    assert nearest[2] == 6  # the dead slot stays
