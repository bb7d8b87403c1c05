"""Scripted Battle policies, vectorised over a team: uniform random and attack-nearest.

They live beside the environment because both the trainers (scripted sparring partners) and
the evaluation players use them. Actions are in the engine's frame.
"""

from __future__ import annotations

import numpy as np

from mfmarl.envs.battle import ATTACK_BASE, ATTACKS, MOVES, N_ACTIONS, STAY, VIEW_RADIUS, TeamObs

_ATTACK_ROWS = VIEW_RADIUS + ATTACKS[:, 1]
_ATTACK_COLS = VIEW_RADIUS + ATTACKS[:, 0]


def random_actions(obs: TeamObs, rng: np.random.Generator) -> np.ndarray:
    """Uniform actions ``(n_max,)`` over the 21 actions."""
    return np.asarray(rng.integers(0, N_ACTIONS, size=obs.alive.shape[0]))


def attack_nearest_actions(
    obs: TeamObs, rng: np.random.Generator, opponent_channel: int = 3
) -> np.ndarray:
    """Attack the weakest opponent in the 8 cells around, else step toward the nearest living
    opponent (by grid position); ``(n_max,)`` actions, whole-team numpy.

    ``opponent_channel``: the view channel of opponent presence (3, or 4 with the minimap);
    the next channel holds their hp.
    """
    n = obs.alive.shape[0]
    actions = np.full(n, STAY, dtype=np.int64)
    enemies = obs.opponent_positions
    if enemies.shape[0] == 0:
        return actions
    # move: the move that brings the agent closest (Chebyshev, then Euclid) to a cell next to
    # its nearest opponent; random tie-breaks keep blocked agents from freezing
    pos = obs.positions
    gap = enemies[None, :, :] - pos[:, None, :]  # (n, m, 2)
    nearest = np.argmin((gap**2).sum(-1), axis=1)
    target = enemies[nearest]  # (n, 2)
    after = pos[:, None, :] + MOVES[None, :, :]  # (n, 13, 2)
    delta = np.abs(after - target[:, None, :])
    cheb = delta.max(-1)
    cost = np.abs(cheb - 1) * 100.0 + (delta**2).sum(-1) + rng.random(cheb.shape)
    cost[cheb == 0] = np.inf  # the opponent's own cell is taken
    actions[:] = np.argmin(cost, axis=1)
    # attack: opponents in the 8 attack cells, weakest (lowest hp) first
    ch = opponent_channel
    present = obs.view[:, _ATTACK_ROWS, _ATTACK_COLS, ch] > 0  # (n, 8)
    hp = obs.view[:, _ATTACK_ROWS, _ATTACK_COLS, ch + 1]
    score = np.where(present, hp, np.inf)
    can_attack = present.any(axis=1)
    actions[can_attack] = ATTACK_BASE + np.argmin(score[can_attack], axis=1)
    return actions
