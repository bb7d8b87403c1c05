"""Who plays each group of an environment during training.

A role is written as text (on the command line and in ``config.json``):

- ``mfq``, ``mfac``, ``iql``, ``iac``: a learner of that algorithm, owned by this group; it
  acts for the group and learns from the group's transitions;
- ``shared:G``: group G's learner acts for this group too, and learns from both groups'
  transitions (one network for several groups of the same shape, e.g. both armies of a
  mirrored battle);
- ``snapshot:G`` / ``pool:G``: self-play against frozen copies of group G's learner: the
  newest copy, or one drawn each episode from a pool of the last few (fictitious self-play).
  Their transitions train G's learner too when ``TrainConfig.store_opponents`` is on and the
  groups have the same shape;
- ``random``: uniform random actions;
- ``scripted:NAME``: a scripted player the environment provides (``attack-nearest`` and
  ``attack-weakest`` on the MAgent2 combat games);
- ``frozen:PATH``: a trained policy from a run or checkpoint directory, never updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mfmarl.algorithms.config import ALGORITHMS
from mfmarl.core.errors import ConfigError, require

RoleKind = Literal["learn", "shared", "snapshot", "pool", "random", "scripted", "frozen"]
FOLLOWERS = ("shared", "snapshot", "pool")
"""Roles played by another group's learner (or copies of it)."""


@dataclass(frozen=True)
class Role:
    """A parsed role: ``kind`` and its argument (the algorithm, the learner's group, the
    scripted player's name or the policy's path)."""

    kind: RoleKind
    arg: str = ""

    def __str__(self) -> str:
        if self.kind == "learn":
            return self.arg
        return self.kind if not self.arg else f"{self.kind}:{self.arg}"

    @property
    def learns(self) -> bool:
        return self.kind == "learn"

    @property
    def follows(self) -> str | None:
        """The group whose learner this role plays with (shared, snapshot, pool)."""
        return self.arg if self.kind in FOLLOWERS else None

    @property
    def is_opponent(self) -> bool:
        """Frozen copies of a learner (self-play opponents)."""
        return self.kind in ("snapshot", "pool")


def parse_role(text: str) -> Role:
    """``"mfq"``, ``"pool:red"``, ``"scripted:attack-nearest"``, ``"frozen:runs/x"``, ... ->
    :class:`Role`; anything else is a one-line ConfigError listing the forms."""
    text = text.strip()
    if text in ALGORITHMS:
        return Role("learn", text)
    if text == "random":
        return Role("random")
    kind, sep, arg = text.partition(":")
    if sep and arg and kind in (*FOLLOWERS, "scripted", "frozen"):
        return Role(kind, arg)  # type: ignore[arg-type]
    forms = ", ".join(ALGORITHMS) + ", shared:G, snapshot:G, pool:G, random, scripted:NAME, "
    raise ConfigError(f"role {text!r} is not one of {forms}frozen:PATH")


def check_roles(roles: dict[str, Role], group_names: list[str]) -> None:
    """Every group has a role, every role names existing groups, a follower follows a group
    that learns, and at least one group learns."""
    missing = [g for g in group_names if g not in roles]
    require(not missing, f"no role for group(s) {', '.join(missing)}")
    unknown = [g for g in roles if g not in group_names]
    require(not unknown, f"no group {', '.join(unknown)}; the groups are {', '.join(group_names)}")
    for group, role in roles.items():
        leader = role.follows
        if leader is not None:
            require(leader in roles, f"group {group}: role {role}: no group {leader!r}")
            require(
                roles[leader].learns,
                f"group {group}: role {role}: group {leader} does not learn (its role is "
                f"{roles[leader]})",
            )
    require(any(r.learns for r in roles.values()), "no group learns: give one a learner role")
