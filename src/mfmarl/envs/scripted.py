"""Scripted Battle policies, vectorised over a team: uniform random and attack-nearest.

They live beside the environment because both the trainers (scripted sparring partners) and
the evaluation players use them. Actions are in the engine's frame.
"""

from __future__ import annotations

import numpy as np

from mfmarl.envs.battle import ATTACK_BASE, ATTACKS, MOVES, N_ACTIONS, STAY, VIEW_RADIUS, TeamObs

_ATTACK_ROWS = VIEW_RADIUS + ATTACKS[:, 1]
_ATTACK_COLS = VIEW_RADIUS + ATTACKS[:, 0]
_ATTACK_INDEX = np.full((3, 3), -1, dtype=np.int64)  # [dy + 1, dx + 1] -> attack cell
_ATTACK_INDEX[ATTACKS[:, 1] + 1, ATTACKS[:, 0] + 1] = np.arange(len(ATTACKS))


def random_actions(obs: TeamObs, rng: np.random.Generator) -> np.ndarray:
    """Uniform actions ``(n_max,)`` over the 21 actions."""
    return np.asarray(rng.integers(0, N_ACTIONS, size=obs.alive.shape[0]))


def attack_nearest_actions(
    obs: TeamObs, rng: np.random.Generator, opponent_channel: int = 3, focus: str = "nearest"
) -> np.ndarray:
    """Move toward the nearest living opponent and attack when in reach; ``(n_max,)``
    actions, whole-team numpy.

    ``focus="nearest"`` (the ``attack-nearest`` player): attack the nearest opponent when it
    is in one of the 8 attack cells (orthogonal before diagonal, random among equals).
    ``focus="weakest"`` (``attack-weakest``): attack the opponent with the lowest hp among
    those in the 8 cells, so the team focuses its fire. ``opponent_channel``: the view
    channel of opponent presence (3, or 4 with the minimap); the next one holds their hp.
    """
    n = obs.alive.shape[0]
    actions = np.full(n, STAY, dtype=np.int64)
    enemies = obs.opponent_positions
    if enemies.shape[0] == 0:
        return actions
    pos = obs.positions
    gap = enemies[None, :, :] - pos[:, None, :]  # (n, m, 2)
    dist = (gap**2).sum(-1) + rng.random(gap.shape[:2]) * 0.5  # random among equals
    nearest = np.argmin(dist, axis=1)
    target = enemies[nearest]  # (n, 2)
    # move: the move that brings the agent closest (Chebyshev, then Euclid) to a cell next to
    # its nearest opponent; random tie-breaks keep blocked agents from freezing
    after = pos[:, None, :] + MOVES[None, :, :]  # (n, 13, 2)
    delta = np.abs(after - target[:, None, :])
    cheb = delta.max(-1)
    cost = np.abs(cheb - 1) * 100.0 + (delta**2).sum(-1) + rng.random(cheb.shape)
    cost[cheb == 0] = np.inf  # the opponent's own cell is taken
    actions[:] = np.where(obs.alive, np.argmin(cost, axis=1), STAY)
    if focus == "weakest":
        ch = opponent_channel
        present = obs.view[:, _ATTACK_ROWS, _ATTACK_COLS, ch] > 0  # (n, 8)
        hp = obs.view[:, _ATTACK_ROWS, _ATTACK_COLS, ch + 1]
        score = np.where(present, hp, np.inf)
        can_attack = present.any(axis=1) & obs.alive
        actions[can_attack] = ATTACK_BASE + np.argmin(score[can_attack], axis=1)
        return actions
    offset = target - pos  # (n, 2) as (dx, dy)
    in_reach = (np.abs(offset).max(-1) == 1) & obs.alive
    cell = _ATTACK_INDEX[offset[in_reach, 1] + 1, offset[in_reach, 0] + 1]
    actions[in_reach] = ATTACK_BASE + cell
    return actions
