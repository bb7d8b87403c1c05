"""Head-to-head matches between two players (``mfmarl battle``), on any environment with two
sides.

An :class:`Arena` is an environment source and its two *sides*, each a set of groups (Battle:
``red`` and ``blue``; combined arms: the red and the blue melee and ranged groups). A round is
one episode; player A plays side 0 in the even rounds and side 1 in the odd ones. A round is
won by the side that killed more (the paper's rule: the other side's deaths, where the
environment reports them), else by the higher total reward; equal is a tie.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfmarl.algorithms import act_together
from mfmarl.core.errors import require
from mfmarl.envs.base import MultiGroupEnv
from mfmarl.envs.magent2 import team_of
from mfmarl.envs.source import EnvSource
from mfmarl.evaluation.players import GroupActor, Player, agreed_env
from mfmarl.evaluation.stats import wilson_interval


@dataclass(frozen=True)
class Arena:
    """Where two players meet: an environment and its two sides (group names)."""

    env: EnvSource
    sides: tuple[tuple[str, ...], tuple[str, ...]] = ()  # type: ignore[assignment]
    trust: bool = False
    """The user named the environment factory (build it even outside mfmarl)."""
    name: str = ""

    def build(self) -> MultiGroupEnv:
        return self.env.build(trust=self.trust)

    def resolved(self, env: MultiGroupEnv | None = None) -> Arena:
        """This arena with its sides filled in from the environment's groups when not
        given: two groups are two sides; otherwise groups are split by team name (``red…``
        and ``blue…``)."""
        if self.sides:
            return self
        env = env or self.build()
        names = [g.name for g in env.groups]
        if len(names) == 2:
            return Arena(self.env, ((names[0],), (names[1],)), self.trust, self.name)
        teams = list(dict.fromkeys(team_of(n) for n in names))
        require(
            len(teams) == 2,
            f"cannot tell two sides apart among the groups {', '.join(names)}",
        )
        sides = tuple(tuple(n for n in names if team_of(n) == t) for t in teams)
        return Arena(self.env, sides, self.trust, self.name)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env.to_dict(), "sides": [list(s) for s in self.sides]}

    def describe(self, env: MultiGroupEnv) -> str:
        """``battle: red (6) v blue (6), map_size=16, max_steps=200`` for a terminal."""
        slots = {g.name: g.n_slots for g in env.groups}
        sides = " v ".join(
            "+".join(side) + f" ({sum(slots[g] for g in side)})" for side in self.sides
        )
        kwargs = dict(self.env.kwargs)
        shown = ", ".join(
            f"{k}={kwargs[k]}"
            for k in ("name", "map_size", "max_steps", "max_cycles")
            if k in kwargs
        )
        name = self.env.factory.rsplit(":", 1)[-1].removeprefix("make_").removesuffix("_env")
        return f"{name}: {sides}" + (f", {shown}" if shown else "")


def check_fit(env: MultiGroupEnv, arena: Arena, players: Sequence[Player]) -> None:
    """Every player can play every side of ``arena`` in ``env`` (a one-line ConfigError
    otherwise), checked before any round is played."""
    names = [g.name for g in env.groups]
    for player in players:
        for side in arena.sides:
            for group in side:
                require(group in names, f"the arena has no group {group!r}")
                player.actor(env, names.index(group), 0)


@dataclass(frozen=True)
class RoundResult:
    """One round from the players' view: index 0 is player A, 1 is player B."""

    kills: tuple[int, int]
    survivors: tuple[int, int]
    reward: tuple[float, float]
    """Each side's summed reward over its agents and steps, divided by its slots."""
    steps: int
    a_side: int
    """The side (0 or 1) player A played."""
    winner: int | None
    """0 (A), 1 (B) or None (a tie)."""


@dataclass
class _Side:
    groups: list[int]
    actors: list[GroupActor] = field(default_factory=list)


def rollout(
    env: MultiGroupEnv,
    actors: Sequence[GroupActor],
    seed: int,
    on_step: Callable[[MultiGroupEnv], None] | None = None,
) -> np.ndarray:
    """One episode with ``actors[g]`` playing group ``g``: policies act through
    :func:`~mfmarl.algorithms.policy.act_together` (one batched pass per group), scripted
    players through their functions. Returns each group's summed reward ``(groups,)``."""
    obs = env.reset(seed)
    if on_step is not None:
        on_step(env)
    previous = [a.rule.initial() if a.rule is not None else None for a in actors]
    policies = [g for g, a in enumerate(actors) if a.policy is not None]
    totals = np.zeros(len(actors))
    done = False
    while not done:
        actions: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(actors)
        if policies:
            acted = act_together(
                [actors[g].policy for g in policies],  # type: ignore[misc]
                [obs[g].obs for g in policies],
                [previous[g] for g in policies],  # type: ignore[misc]
                0,
                [obs[g].alive for g in policies],
            )
            for g, (chosen, _) in zip(policies, acted):
                actions[g] = chosen
        for g, actor in enumerate(actors):
            if actor.script is not None:
                actions[g] = actor.script(obs, actor.rng)
        result = env.step(actions)
        alive = [o.alive for o in obs]
        positions = [o.positions for o in obs]
        for g in policies:
            rule = actors[g].rule
            assert rule is not None
            previous[g] = rule.compute(actions, alive, positions)
        totals += [float(s.rewards.sum(dtype=np.float64)) for s in result.groups]
        obs = tuple(s.next for s in result.groups)
        done = result.done
        if on_step is not None:
            on_step(env)
    return totals


def play_round(
    env: MultiGroupEnv,
    arena: Arena,
    players: tuple[Player, Player],
    seed: int,
    a_side: int,
    on_step: Callable[[MultiGroupEnv], None] | None = None,
) -> RoundResult:
    """Play one episode; ``players[0]`` (A) plays side ``a_side``. ``on_step`` sees the
    environment after the reset and after every step (to render it, say)."""
    names = [g.name for g in env.groups]
    by_side = (players[0], players[1]) if a_side == 0 else (players[1], players[0])
    actors: list[GroupActor | None] = [None] * len(names)
    for side, player in enumerate(by_side):
        for group in arena.sides[side]:
            g = names.index(group)
            actors[g] = player.actor(env, g, seed * 2 + side)
    idle = [names[g] for g, a in enumerate(actors) if a is None]
    require(not idle, f"no player for group(s) {', '.join(idle)}")
    totals = rollout(env, [a for a in actors if a is not None], seed, on_step)
    return _result(env, arena, names, totals, a_side)


def _result(
    env: MultiGroupEnv, arena: Arena, names: list[str], totals: np.ndarray, a_side: int
) -> RoundResult:
    info = env.episode_info()
    sides = [[names.index(g) for g in side] for side in arena.sides]
    deaths = [sum(info.get(f"{names[g]}/deaths", 0.0) for g in side) for side in sides]
    survivors = [int(sum(info.get(f"{names[g]}/survivors", 0.0) for g in side)) for side in sides]
    slots = [sum(env.groups[g].n_slots for g in side) for side in sides]
    reward = [float(totals[side].sum()) / n for side, n in zip(sides, slots)]
    kills = [int(deaths[1]), int(deaths[0])]  # by side
    if any(f"{n}/deaths" in info for n in names) and kills[0] != kills[1]:
        winner_side: int | None = int(kills[1] > kills[0])
    elif not any(f"{n}/deaths" in info for n in names) and reward[0] != reward[1]:
        winner_side = int(reward[1] > reward[0])
    else:
        winner_side = None
    order = (a_side, 1 - a_side)
    winner = None if winner_side is None else (0 if winner_side == a_side else 1)
    steps = int(getattr(env, "steps", 0))
    return RoundResult(
        kills=(kills[order[0]], kills[order[1]]),
        survivors=(survivors[order[0]], survivors[order[1]]),
        reward=(reward[order[0]], reward[order[1]]),
        steps=steps,
        a_side=a_side,
        winner=winner,
    )


def play_match(
    arena: Arena,
    players: tuple[Player, Player],
    names: tuple[str, str],
    rounds: int,
    seed: int,
    on_round: Callable[[RoundResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """``rounds`` rounds (round r seeded ``seed + r``, sides swapped in the odd rounds) and
    the summary written to ``results.json``: wins, ties, win rates with 95% Wilson
    intervals, and per-round means of kills, survivors and reward (per agent), A first.
    Once ``should_stop()`` is true the match ends after the current round; the summary
    covers the rounds played and says ``"interrupted": true``."""
    require(rounds >= 1, f"rounds={rounds} must be >= 1")
    env = arena.build()
    arena = arena.resolved(env)
    results = []
    for r in range(rounds):
        result = play_round(env, arena, players, seed + r, a_side=r % 2)
        results.append(result)
        if on_round is not None:
            on_round(result)
        if should_stop is not None and should_stop():
            break
    played = len(results)
    wins = [sum(res.winner == k for res in results) for k in (0, 1)]
    intervals = [wilson_interval(w, played) for w in wins]
    return {
        "players": list(names),
        "sides": [list(s) for s in arena.sides],
        "rounds": played,
        "interrupted": played < rounds,
        "wins": wins,
        "ties": played - sum(wins),
        "win_rate": [i.estimate for i in intervals],
        "win_rate_ci95": [[i.low, i.high] for i in intervals],
        "kills": np.mean([res.kills for res in results], axis=0).tolist(),
        "survivors": np.mean([res.survivors for res in results], axis=0).tolist(),
        "mean_reward": np.mean([res.reward for res in results], axis=0).tolist(),
        "round_kills": [[int(k) for k in res.kills] for res in results],
        "round_winner": [res.winner for res in results],
    }


def arena_for(
    players: Sequence[Player],
    default: EnvSource,
    overrides: Mapping[str, Any] | None = None,
    env: EnvSource | None = None,
) -> Arena:
    """The arena the players meet in: ``env`` when the user named one, else the one the
    trained players were trained on (they must agree, after ``overrides``), else
    ``default``; ``overrides`` replace keyword arguments of its factory (``map_size``,
    ``max_steps``, ...; None values are ignored)."""
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}

    def changed(source: EnvSource) -> EnvSource:
        return EnvSource(source.factory, {**dict(source.kwargs), **changes}, source.adapter)

    if env is not None:
        return Arena(changed(env), trust=True)
    trained = [changed(p.env.played_on()) for p in players if p.trained and p.env is not None]
    return Arena(agreed_env(trained) or changed(default))
