"""Mean-action rules per group: what ā each agent of a group is given.

A rule is one or several *parts* joined by ``+``; the parts' means are concatenated, so
``Q_j(o, a, ā^1, …, ā^K)`` (multi-type mean field) when there are several. A part names whose
actions are averaged and over which neighbourhood:

- ``own``: the agent's own group, without itself (the paper's ā_j; the default);
- ``<group>``: another group's agents (their action count may differ);
- ``...@R``: only the agents within Chebyshev distance R on the grid (needs positions),
  e.g. ``own@6``, ``blue@6``.

``own+blue`` gives each red agent the mean of its team-mates and the mean of the blue team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from mfmarl.core.errors import ConfigError, require
from mfmarl.core.mean_action import (
    Fill,
    other_group_mean_action,
    radius_mean_action,
    team_mean_action,
)
from mfmarl.envs.base import GroupSpec, group_index

OWN = "own"


@dataclass(frozen=True)
class MeanFieldPart:
    """One mean in ā: over ``source`` (a group name, or ``own``), within ``radius`` cells
    (``None``: the whole group)."""

    source: str = OWN
    radius: int | None = None

    def __str__(self) -> str:
        return self.source if self.radius is None else f"{self.source}@{self.radius}"


def parse_mean_field(text: str) -> tuple[MeanFieldPart, ...]:
    """``"own+blue@6"`` -> its parts; a malformed rule is a one-line ConfigError."""
    parts = []
    for item in text.split("+"):
        item = item.strip()
        source, sep, radius = item.partition("@")
        require(bool(source), f"mean field {text!r}: empty part")
        value: int | None = None
        if sep:
            try:
                value = int(radius)
            except ValueError:
                message = f"mean field {text!r}: radius {radius!r} is not an integer"
                raise ConfigError(message) from None
            require(value >= 0, f"mean field {text!r}: radius must be >= 0")
        parts.append(MeanFieldPart(source, value))
    require(len(set(parts)) == len(parts), f"mean field {text!r} repeats a part")
    return tuple(parts)


class MeanFieldRule:
    """ā of one group, computed from every group's actions of one step.

    ``compute`` returns ``(n_slots, width)`` float32 rows (the parts side by side); rows of
    dead agents and of agents with no living agent to average over hold the fill.
    """

    def __init__(
        self,
        groups: Sequence[GroupSpec],
        group: int,
        parts: Sequence[MeanFieldPart],
        fill: str = "zeros",
    ) -> None:
        require(fill in ("zeros", "uniform"), f"fill={fill!r}: zeros or uniform")
        self.group = group
        self.fill = cast(Fill, fill)
        self.parts = tuple(parts)
        self.sources = [
            group if p.source == OWN else group_index(groups, p.source) for p in self.parts
        ]
        self.own_spec = groups[group]
        self.specs = [groups[s] for s in self.sources]
        for part, spec in zip(self.parts, self.specs):
            if part.radius is not None:
                require(
                    spec.grid is not None and self.own_spec.grid is not None,
                    f"mean field {part} of group {self.own_spec.name}: the environment gives "
                    "no positions, so no radius can be used",
                )
        self.widths = [spec.n_actions for spec in self.specs]
        self.width = sum(self.widths)

    def __str__(self) -> str:
        return "+".join(str(p) for p in self.parts)

    def initial(self) -> np.ndarray:
        """ā before any action: ``(n_slots, width)`` of the fill (zeros, or 1/D per part)."""
        n = self.own_spec.n_slots
        if self.fill == "zeros":
            return np.zeros((n, self.width), dtype=np.float32)
        return np.concatenate(
            [np.full((n, d), 1.0 / d, dtype=np.float32) for d in self.widths], axis=1
        )

    def compute(
        self,
        actions: Sequence[np.ndarray],
        alive: Sequence[np.ndarray],
        positions: Sequence[np.ndarray | None],
    ) -> np.ndarray:
        """ā ``(n_slots, width)`` from every group's ``actions[g]``, ``alive[g]`` (who acted)
        and ``positions[g]`` of this step."""
        means = [
            self._part(part, source, spec, actions, alive, positions)
            for part, source, spec in zip(self.parts, self.sources, self.specs)
        ]
        return means[0] if len(means) == 1 else np.concatenate(means, axis=1)

    def _part(
        self,
        part: MeanFieldPart,
        source: int,
        spec: GroupSpec,
        actions: Sequence[np.ndarray],
        alive: Sequence[np.ndarray],
        positions: Sequence[np.ndarray | None],
    ) -> np.ndarray:
        g, d = self.group, spec.n_actions
        if source == g:
            if part.radius is None:
                return team_mean_action(actions[g], alive[g], d, include_self=False, fill=self.fill)
            pos = positions[g]
            assert pos is not None
            return radius_mean_action(
                actions[g],
                alive[g],
                np.where(pos >= 0, pos, 0),
                part.radius,
                d,
                False,
                self.fill,
                spec.grid,
            )
        return other_group_mean_action(
            alive[g],
            actions[source],
            alive[source],
            d,
            self.fill,
            part.radius,
            positions[g],
            positions[source],
            spec.grid,
        )
