"""Mean one-hot actions of an agent's neighbours (docs/method.md 2), with alive masks.

All functions take agent arrays: ``actions: (n,)`` integer actions, ``alive: (n,)`` booleans.
They return ``(n, D)`` float arrays whose rows lie on the probability simplex. Dead agents
neither contribute to any mean nor get one of their own: their row is the fill, like an agent
with no living neighbour. ``fill`` is ``"zeros"`` (the reference code's choice) or
``"uniform"`` (``1/D`` everywhere).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from mfmarl.core.errors import ConfigError, require, require_choice

Fill = Literal["zeros", "uniform"]
Neighbourhood = Literal["team", "radius", "global"]
FILLS: tuple[str, ...] = ("zeros", "uniform")
NEIGHBOURHOODS: tuple[str, ...] = ("team", "radius", "global")


def one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    """``actions: (n,)`` ints in ``[0, D)`` -> ``(n, D)`` float32 one-hot rows."""
    actions = np.asarray(actions)
    out = np.zeros((actions.shape[0], n_actions), dtype=np.float32)
    out[np.arange(actions.shape[0]), actions] = 1.0
    return out


def _finish(
    sums: np.ndarray, counts: np.ndarray, alive: np.ndarray, n_actions: int, fill: Fill
) -> np.ndarray:
    """Divide neighbour sums ``(n, D)`` by counts ``(n,)``; fill rows with no neighbour."""
    require_choice("fill", fill, FILLS)
    has = (counts > 0) & alive
    out = np.full(sums.shape, 0.0 if fill == "zeros" else 1.0 / n_actions, dtype=np.float32)
    np.divide(sums, counts[:, None], out=out, where=has[:, None])
    return out


def team_mean_action(
    actions: np.ndarray,
    alive: np.ndarray,
    n_actions: int,
    include_self: bool = False,
    fill: Fill = "zeros",
) -> np.ndarray:
    """Mean one-hot action of the living agents of one team, per agent.

    ``actions: (n,)``, ``alive: (n,)`` -> ``(n, D)``. With ``include_self=False`` agent j's mean
    leaves out its own action (the paper's ā_j); with ``True`` every living agent gets the same
    team mean (the reference code's choice for Battle).
    """
    alive = np.asarray(alive, dtype=bool)
    hot = one_hot(actions, n_actions) * alive[:, None]
    total = hot.sum(axis=0, keepdims=True)
    count = float(alive.sum())
    if include_self:
        sums = np.broadcast_to(total, hot.shape)
        counts = np.full(alive.shape[0], count)
    else:
        sums = total - hot
        counts = count - alive.astype(np.float64)
    return _finish(sums, counts, alive, n_actions, fill)


def radius_mean_action(
    actions: np.ndarray,
    alive: np.ndarray,
    positions: np.ndarray,
    radius: int,
    n_actions: int,
    include_self: bool = False,
    fill: Fill = "zeros",
    grid_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Mean one-hot action of the living agents within Chebyshev distance ``radius``.

    ``positions: (n, 2)`` integer grid cells ``(x, y)``. Runs in ``O(n + H·W·D)`` time: actions
    are scattered on the grid and each agent reads its ``(2r+1)²`` window from a summed-area
    table, so no pair of agents is ever compared.
    """
    require(radius >= 0, f"radius={radius} must be >= 0")
    alive = np.asarray(alive, dtype=bool)
    positions = np.asarray(positions, dtype=np.int64)
    if grid_shape is None:
        width = int(positions[:, 0].max(initial=0)) + 1
        height = int(positions[:, 1].max(initial=0)) + 1
    else:
        width, height = grid_shape
    hot = one_hot(actions, n_actions) * alive[:, None]
    # Summed-area table with a zero border: table[y, x] = sum of cells [0, y) x [0, x).
    table = np.zeros((height + 1, width + 1, n_actions), dtype=np.float64)
    np.add.at(table, (positions[:, 1] + 1, positions[:, 0] + 1), hot)
    table = table.cumsum(axis=0).cumsum(axis=1)
    x0 = np.clip(positions[:, 0] - radius, 0, width)
    x1 = np.clip(positions[:, 0] + radius + 1, 0, width)
    y0 = np.clip(positions[:, 1] - radius, 0, height)
    y1 = np.clip(positions[:, 1] + radius + 1, 0, height)
    sums = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    counts = sums.sum(axis=1)
    if not include_self:
        sums = sums - hot
        counts = counts - alive.astype(np.float64)
    return _finish(sums, counts, alive, n_actions, fill)


def global_mean_action(
    actions: list[np.ndarray],
    alive: list[np.ndarray],
    n_actions: int,
    include_self: bool = False,
    fill: Fill = "zeros",
) -> list[np.ndarray]:
    """Mean one-hot action over all living agents of every team, returned per team.

    ``actions[t]: (n_t,)`` and ``alive[t]: (n_t,)`` for each team t -> list of ``(n_t, D)``.
    """
    sizes = [len(a) for a in actions]
    joint = team_mean_action(
        np.concatenate(actions), np.concatenate(alive), n_actions, include_self, fill
    )
    return np.split(joint, np.cumsum(sizes)[:-1])


def mean_action(
    kind: Neighbourhood,
    actions: np.ndarray,
    alive: np.ndarray,
    n_actions: int,
    include_self: bool = False,
    fill: Fill = "zeros",
    positions: np.ndarray | None = None,
    radius: int = 0,
    grid_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Dispatch on the neighbourhood kind for one array of agents (``"global"`` = ``"team"``
    over an array that already holds every agent)."""
    require_choice("neighbourhood", kind, NEIGHBOURHOODS)
    if kind == "radius":
        if positions is None:
            raise ConfigError("a radius neighbourhood needs agent positions")
        return radius_mean_action(
            actions, alive, positions, radius, n_actions, include_self, fill, grid_shape
        )
    return team_mean_action(actions, alive, n_actions, include_self, fill)


def other_group_mean_action(
    target_alive: np.ndarray,
    source_actions: np.ndarray,
    source_alive: np.ndarray,
    n_actions: int,
    fill: Fill = "zeros",
    radius: int | None = None,
    target_positions: np.ndarray | None = None,
    source_positions: np.ndarray | None = None,
    grid_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Mean one-hot action of another group's living agents, seen by each agent of a target
    group (multi-type mean field: the target agent is never among the sources).

    ``target_alive: (n,)``; ``source_actions, source_alive: (m,)`` with ``D = n_actions``
    actions -> ``(n, D)``. ``radius=None``: every target sees the whole source group;
    otherwise the sources within Chebyshev distance ``radius`` of its cell, read from a
    summed-area table of the sources (``O(m + H·W·D)``), with positions ``(x, y)`` of both.
    Dead targets and targets with no living source in reach get the fill.
    """
    target_alive = np.asarray(target_alive, dtype=bool)
    source_alive = np.asarray(source_alive, dtype=bool)
    n = target_alive.shape[0]
    hot = one_hot(source_actions, n_actions) * source_alive[:, None]
    if radius is None:
        total = hot.sum(axis=0, keepdims=True).astype(np.float64)
        sums = np.broadcast_to(total, (n, n_actions))
        counts = np.full(n, float(source_alive.sum()))
        return _finish(sums, counts, target_alive, n_actions, fill)
    require(radius >= 0, f"radius={radius} must be >= 0")
    if target_positions is None or source_positions is None:
        raise ConfigError("a radius mean action needs the positions of both groups")
    tpos = np.asarray(target_positions, dtype=np.int64)
    spos = np.asarray(source_positions, dtype=np.int64)
    if grid_shape is None:
        width = int(max(tpos[:, 0].max(initial=0), spos[:, 0].max(initial=0))) + 1
        height = int(max(tpos[:, 1].max(initial=0), spos[:, 1].max(initial=0))) + 1
    else:
        width, height = grid_shape
    table = np.zeros((height + 1, width + 1, n_actions), dtype=np.float64)
    live = source_alive & (spos[:, 0] >= 0) & (spos[:, 1] >= 0)
    np.add.at(table, (spos[live, 1] + 1, spos[live, 0] + 1), hot[live])
    table = table.cumsum(axis=0).cumsum(axis=1)
    x0 = np.clip(tpos[:, 0] - radius, 0, width)
    x1 = np.clip(tpos[:, 0] + radius + 1, 0, width)
    y0 = np.clip(tpos[:, 1] - radius, 0, height)
    y1 = np.clip(tpos[:, 1] + radius + 1, 0, height)
    sums = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    return _finish(sums, sums.sum(axis=1), target_alive, n_actions, fill)
