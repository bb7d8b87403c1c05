"""Left-right mirroring of Battle observations and actions."""

from __future__ import annotations

import numpy as np
import torch  # noqa: F401  (torch before magent2)

from mfmarl.envs.battle import (
    ATTACKS,
    MIRROR_ACTIONS,
    MOVES,
    BattleConfig,
    BattleEnv,
    mirror_observations,
)


def test_mirror_actions_negate_dx_and_are_an_involution() -> None:
    # Hand-checked entries: move (0,-2) stays, (-1,-1) <-> (1,-1), (-2,0) <-> (2,0), stay stays;
    # attack (-1,-1) (13) <-> (1,-1) (15), (-1,0) (16) <-> (1,0) (17).
    assert MIRROR_ACTIONS[0] == 0 and MIRROR_ACTIONS[1] == 3 and MIRROR_ACTIONS[4] == 8
    assert MIRROR_ACTIONS[6] == 6 and MIRROR_ACTIONS[13] == 15 and MIRROR_ACTIONS[16] == 17
    assert np.array_equal(MIRROR_ACTIONS[MIRROR_ACTIONS], np.arange(21))
    assert np.array_equal(MOVES[MIRROR_ACTIONS[:13]], MOVES * [-1, 1])
    assert np.array_equal(ATTACKS[MIRROR_ACTIONS[13:] - 13], ATTACKS * [-1, 1])


def test_mirrored_play_is_the_same_battle_seen_from_the_other_side() -> None:
    """Red moving right and blue moving left are mirror images: blue's mirrored features
    record the action red took, and a view reversed twice is the view."""
    env = BattleEnv(BattleConfig(map_size=20))
    env.reset(0)
    right, left = 7, 5
    step = env.step(np.full(env.n_max, right), np.full(env.n_max, left))
    red, blue = step.obs
    view, features = mirror_observations(blue.view, blue.features)
    assert np.all(features[blue.alive, 10 + right] == 1.0)
    assert np.all(features[:, :10] == 0.0)
    assert np.array_equal(features[:, 31], blue.features[:, 31])
    again, _ = mirror_observations(view, features)
    assert np.array_equal(again, blue.view)
    assert np.array_equal(view[:, :, 0, :], blue.view[:, :, -1, :])
