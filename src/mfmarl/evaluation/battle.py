"""Head-to-head battles between two players (``mfmarl battle``).

A round is one episode of :class:`~mfmarl.envs.battle.BattleEnv`; it is won by the side that
killed more opponents (the paper's rule), a tie is neither. Player A plays the left army
(team 0) in the even rounds and the right army in the odd ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mfmarl.core.errors import require
from mfmarl.envs.battle import BattleConfig, BattleEnv
from mfmarl.evaluation.players import Player
from mfmarl.evaluation.stats import wilson_interval


@dataclass(frozen=True)
class RoundResult:
    """One round from the players' view: index 0 is player A, 1 is player B."""

    kills: tuple[int, int]
    survivors: tuple[int, int]
    reward: tuple[float, float]
    """Each side's summed reward over its agents and steps, divided by the team size."""
    steps: int
    a_side: int
    """The team (0 left, 1 right) player A played."""


def play_round(
    env: BattleEnv,
    players: tuple[Player, Player],
    seed: int,
    a_side: int,
    on_step: Callable[[BattleEnv], None] | None = None,
) -> RoundResult:
    """Play one episode; ``players[0]`` (A) controls team ``a_side``. ``on_step`` sees the
    environment after the reset and after every step (to render it, say)."""
    by_team = (players[0], players[1]) if a_side == 0 else (players[1], players[0])
    obs = env.reset(seed)
    for team, player in enumerate(by_team):
        player.reset(env.config, team, seed * 2 + team)
    if on_step is not None:
        on_step(env)
    totals = np.zeros(2)
    done = False
    while not done:
        actions = [by_team[t].act(obs[t]) for t in (0, 1)]
        step = env.step(actions[0], actions[1])
        totals += [float(step.rewards[0].sum()), float(step.rewards[1].sum())]
        obs, done = step.obs, step.done
        if on_step is not None:
            on_step(env)
    kills, alive = env.kills, env.alive_counts
    order = (a_side, 1 - a_side)
    return RoundResult(
        kills=(kills[order[0]], kills[order[1]]),
        survivors=(alive[order[0]], alive[order[1]]),
        reward=(totals[order[0]] / env.n_max, totals[order[1]] / env.n_max),
        steps=env.steps,
        a_side=a_side,
    )


def play_match(
    config: BattleConfig,
    players: tuple[Player, Player],
    names: tuple[str, str],
    rounds: int,
    seed: int,
    on_round: Callable[[RoundResult], None] | None = None,
) -> dict[str, Any]:
    """``rounds`` rounds (round r seeded ``seed + r``, sides swapped in the odd rounds) and
    the summary written to ``results.json``: wins, ties, win rates with 95% Wilson
    intervals, and per-round means of kills, survivors and reward (per agent), A first."""
    require(rounds >= 1, f"rounds={rounds} must be >= 1")
    env = BattleEnv(config)
    results = []
    for r in range(rounds):
        result = play_round(env, players, seed + r, a_side=r % 2)
        results.append(result)
        if on_round is not None:
            on_round(result)
    kills = np.array([res.kills for res in results], dtype=np.float64)
    wins = [int((kills[:, 0] > kills[:, 1]).sum()), int((kills[:, 1] > kills[:, 0]).sum())]
    intervals = [wilson_interval(w, rounds) for w in wins]
    return {
        "players": list(names),
        "rounds": rounds,
        "wins": wins,
        "ties": rounds - sum(wins),
        "win_rate": [i.estimate for i in intervals],
        "win_rate_ci95": [[i.low, i.high] for i in intervals],
        "kills": kills.mean(axis=0).tolist(),
        "survivors": np.mean([res.survivors for res in results], axis=0).tolist(),
        "mean_reward": np.mean([res.reward for res in results], axis=0).tolist(),
    }
