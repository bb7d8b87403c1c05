"""The environment boundary of the training loop: groups of agents in fixed slot arrays.

A *group* is a set of interchangeable agents: a team, or one agent type within a team (the
melee units of the red army, say). Each group has a fixed number of *slots*; slot ``i`` is one
agent for as long as it lives, and a dead or not-yet-joined slot is masked (``alive`` false).
Everything per group is an array over its slots, so the loop makes one batched pass per group
and never loops over agents in Python.

Per step and group, the environment returns the next observations, the rewards, and which
agents' episodes ended: ``terminated`` (a death or a terminal state: no bootstrap) kept apart
from ``truncated`` (a time limit: the value of the next state still counts).

Slot rules every adapter follows:

- an agent alive before a step has a transition: its reward, its next observation (its final
  one when it ended) and its end flags;
- an agent that ends in a step has ``alive`` false from the next observation on;
- a slot freed in a step takes a new agent from the following step on, never in the same
  step (so a transition's next observation always belongs to the agent that acted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from mfmarl.core.errors import require


@dataclass(frozen=True)
class GroupSpec:
    """The fixed shape of one group."""

    name: str
    """The group's name (``red``, ``redmelee``, ``agent``)."""
    n_slots: int
    """Slots: the most agents the group ever has at once."""
    obs_dim: int
    """Length of one agent's flat observation (0 for a stateless game)."""
    n_actions: int
    """Discrete actions of one agent."""
    view_shape: tuple[int, int, int] | None = None
    """``(H, W, C)`` when the first ``H·W·C`` observation columns are a grid view (channels
    last), read by convolutional networks; the remaining columns are flat features."""
    binary_columns: tuple[int, ...] = field(default=(), compare=False)
    """Observation columns whose values are only ever 0 or 1 (stored as uint8 in replay)."""
    grid: tuple[int, int] | None = None
    """``(width, height)`` of the grid when the group reports agent positions."""

    def __post_init__(self) -> None:
        require(bool(self.name), "a group needs a name")
        require(self.n_slots >= 1, f"group {self.name}: n_slots={self.n_slots} must be >= 1")
        require(self.obs_dim >= 0, f"group {self.name}: obs_dim={self.obs_dim} must be >= 0")
        require(self.n_actions >= 1, f"group {self.name}: n_actions must be >= 1")
        if self.view_shape is not None:
            h, w, c = self.view_shape
            require(
                h * w * c <= self.obs_dim,
                f"group {self.name}: view {self.view_shape} is larger than obs_dim",
            )

    def binary_mask(self) -> np.ndarray | None:
        """``(obs_dim,)`` bool mask of :attr:`binary_columns` (``None`` when there are none)."""
        if not self.binary_columns:
            return None
        mask = np.zeros(self.obs_dim, dtype=bool)
        mask[list(self.binary_columns)] = True
        return mask


class GroupObs(NamedTuple):
    """One group's observation of the world, over its slots."""

    obs: np.ndarray
    """(n_slots, obs_dim) float32; zeros in empty slots."""
    alive: np.ndarray
    """(n_slots,) bool: the slot holds a living agent that acts now."""
    positions: np.ndarray | None = None
    """(n_slots, 2) int64 grid cells ``(x, y)`` (−1 in empty slots), when the env has them."""


class GroupStep(NamedTuple):
    """What one step did to one group."""

    next: GroupObs
    """Observations after the step (an agent that ended keeps its final one, alive false)."""
    rewards: np.ndarray
    """(n_slots,) float32; 0 for slots that were empty before the step."""
    terminated: np.ndarray
    """(n_slots,) bool: the agent's episode ended in a terminal state (death included)."""
    truncated: np.ndarray
    """(n_slots,) bool: the agent's episode was cut by a time limit."""


class EnvStep(NamedTuple):
    """One step of every group."""

    groups: tuple[GroupStep, ...]
    """In the order of :attr:`MultiGroupEnv.groups`."""
    done: bool
    """The episode is over."""
    info: Mapping[str, float]
    """Scalar statistics of the step, averaged over the episode and logged as ``env/<key>``."""


class MultiGroupEnv(Protocol):
    """What the training loop needs from an environment."""

    groups: tuple[GroupSpec, ...]
    continuing: bool
    """True for a repeated game whose mean actions carry over from one episode to the next."""

    def reset(self, seed: int | None = None) -> tuple[GroupObs, ...]:
        """Start an episode; returns each group's first observation."""
        ...

    def step(self, actions: Sequence[np.ndarray]) -> EnvStep:
        """``actions[g]: (n_slots_g,)`` ints; entries of empty slots are ignored."""
        ...

    def episode_info(self) -> dict[str, float]:
        """Scalars about the episode that just ended (logged as ``env/<key>``)."""
        ...


def group_index(groups: Sequence[GroupSpec], name: str) -> int:
    """Position of group ``name``; a :class:`~mfmarl.core.errors.ConfigError` naming the
    groups there are when it does not exist."""
    names = [g.name for g in groups]
    require(name in names, f"no group {name!r}; the groups are {', '.join(names)}")
    return names.index(name)
