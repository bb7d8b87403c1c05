"""Scripted MAgent2 combat players, vectorised over a group: attack-nearest and
attack-weakest.

They live beside the environment because both the trainers (scripted sparring partners) and
the evaluation players use them. Actions are in the engine's frame, for any action layout
(:class:`~mfmarl.envs.magent2_engine.ActionLayout`: the moves and attacks of the group's agent
type).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfmarl.envs.magent2_engine import ActionLayout, RawObs

SCRIPTED_FOCUS = {"attack-nearest": "nearest", "attack-weakest": "weakest"}
"""Scripted player names -> the target they attack among those in reach."""


def attack_nearest_actions(
    obs: RawObs,
    enemies: np.ndarray,
    rng: np.random.Generator,
    layout: ActionLayout,
    opponent_channel: int = 3,
    focus: str = "nearest",
) -> np.ndarray:
    """Move toward the nearest living enemy and attack when in reach; ``(n,)`` actions.

    ``obs``: the group's arrays (positions, alive, view); ``enemies: (m, 2)`` the living
    enemies' cells ``(x, y)``. ``focus="nearest"`` attacks the nearest enemy when it is in an
    attack cell (random among equals); ``focus="weakest"`` attacks the enemy with the lowest hp
    among those in the attack cells (read from the view: ``opponent_channel`` is the enemies'
    presence channel, the next one their hp), so the group focuses its fire.
    """
    n = obs.alive.shape[0]
    moves, attacks = layout.moves, layout.attacks
    actions = np.full(n, layout.stay, dtype=np.int64)
    if enemies.shape[0] == 0:
        return actions
    pos = obs.positions
    gap = enemies[None, :, :] - pos[:, None, :]  # (n, m, 2)
    dist = (gap**2).sum(-1) + rng.random(gap.shape[:2]) * 0.5  # random among equals
    nearest = np.argmin(dist, axis=1)
    target = enemies[nearest]  # (n, 2)
    # move: the move that brings the agent closest (Chebyshev, then Euclid) to a cell next to
    # its nearest enemy; random tie-breaks keep blocked agents from freezing
    after = pos[:, None, :] + moves[None, :, :]  # (n, moves, 2)
    delta = np.abs(after - target[:, None, :])
    cheb = delta.max(-1)
    cost = np.abs(cheb - 1) * 100.0 + (delta**2).sum(-1) + rng.random(cheb.shape)
    cost[cheb == 0] = np.inf  # the enemy's own cell is taken
    actions[:] = np.where(obs.alive, np.argmin(cost, axis=1), layout.stay)
    if attacks.shape[0] == 0:
        return actions
    if focus == "weakest":
        h, w = obs.view.shape[1:3]
        rows, cols = h // 2 + attacks[:, 1], w // 2 + attacks[:, 0]
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
        present = (obs.view[:, rows, cols, opponent_channel] > 0) & inside
        hp = obs.view[:, rows, cols, opponent_channel + 1]
        score = np.where(present, hp, np.inf)
        can_attack = present.any(axis=1) & obs.alive
        actions[can_attack] = layout.attack_base + np.argmin(score[can_attack], axis=1)
        return actions
    offset = target - pos  # (n, 2) as (dx, dy)
    hits = (offset[:, None, :] == attacks[None, :, :]).all(axis=-1)  # (n, attacks)
    in_reach = hits.any(axis=1) & obs.alive
    actions[in_reach] = layout.attack_base + hits[in_reach].argmax(axis=1)
    return actions
