"""Does training help? Each trained group's episode return against the same group played at
random (``mfmarl evaluate``).

For every learning group g of a run: K episodes with every group played by the run's trained
policies, and K episodes with the same seeds in which g alone plays uniform random actions.
The difference of g's mean episode return per agent (trained − random) is paired by episode
seed; its 95% interval is the Student-t interval of the K paired differences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mfmarl.core.errors import require
from mfmarl.envs.base import MultiGroupEnv
from mfmarl.evaluation.matches import rollout
from mfmarl.evaluation.players import GroupActor, Player, load_player
from mfmarl.evaluation.stats import t_interval


@dataclass(frozen=True)
class GroupComparison:
    """One group's mean episode return per agent, trained and random, and the paired
    difference with its 95% interval."""

    group: str
    trained: float
    random: float
    difference: float
    ci95: tuple[float, float]
    episodes: int

    @property
    def beats_random(self) -> bool:
        """Whether the whole interval of the difference lies above zero."""
        return self.ci95[0] > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "trained": self.trained,
            "random": self.random,
            "difference": self.difference,
            "ci95": list(self.ci95),
            "episodes": self.episodes,
            "beats_random": self.beats_random,
        }


def _actors(
    env: MultiGroupEnv,
    players: Mapping[str, Player],
    seed: int,
    random: str | None,
) -> list[GroupActor]:
    rand = load_player("random")
    return [
        (rand if spec.name == random else players[spec.name]).actor(env, g, seed * 7 + g)
        for g, spec in enumerate(env.groups)
    ]


def compare_with_random(
    env: MultiGroupEnv,
    player: Player,
    groups: Sequence[str],
    episodes: int,
    seed: int = 0,
    on_episode: Callable[[int], None] | None = None,
    others: Mapping[str, Player] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[GroupComparison]:
    """For each of ``groups``: its return trained against played at random (the others
    trained), over ``episodes`` paired episodes seeded ``seed + e``. ``others``: the players
    of groups ``player`` was not trained for (as in training: random, scripted, frozen).
    Once ``should_stop()`` is true no further episode starts; the comparison covers the
    episodes played (each result's ``episodes`` says how many), or raises
    :class:`KeyboardInterrupt` if that is fewer than two."""
    require(episodes >= 2, f"episodes={episodes} must be >= 2 (an interval needs two)")
    names = [g.name for g in env.groups]
    cast = {name: (others or {}).get(name, player) for name in names}
    slots = np.array([g.n_slots for g in env.groups], dtype=np.float64)
    trained = np.zeros((episodes, len(names)))
    random = {g: np.zeros(episodes) for g in groups}
    for e in range(episodes):
        trained[e] = rollout(env, _actors(env, cast, seed + e, None), seed + e) / slots
        for group in groups:
            g = names.index(group)
            totals = rollout(env, _actors(env, cast, seed + e, group), seed + e)
            random[group][e] = totals[g] / slots[g]
        if on_episode is not None:
            on_episode(e)
        if should_stop is not None and should_stop():
            trained, random = trained[: e + 1], {g: r[: e + 1] for g, r in random.items()}
            break
    played = len(trained)
    if played < 2:  # stopped before an interval could be had
        raise KeyboardInterrupt
    out = []
    for group in groups:
        g = names.index(group)
        diff = trained[:, g] - random[group]
        interval = t_interval(diff)
        out.append(
            GroupComparison(
                group,
                float(trained[:, g].mean()),
                float(random[group].mean()),
                float(diff.mean()),
                (float(interval.low), float(interval.high)),
                played,
            )
        )
    return out
