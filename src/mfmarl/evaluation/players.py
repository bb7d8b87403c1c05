"""Battle players: anything with ``act(obs: TeamObs) -> (n_max,) actions``.

Built-ins: ``random`` (uniform over the 21 actions) and ``attack-nearest`` (scripted: attack
an opponent in reach, else move toward the nearest opponent). Trained learners implement
:class:`Player` too; :func:`make_player` turns a command-line name into a player.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from mfmarl.core.errors import ConfigError
from mfmarl.envs.battle import (
    ATTACK_BASE,
    ATTACKS,
    MOVES,
    N_ACTIONS,
    STAY,
    VIEW_RADIUS,
    BattleConfig,
    TeamObs,
)


class Player(Protocol):
    """A battle policy for one team."""

    name: str

    def reset(self, config: BattleConfig, team: int, seed: int) -> None:
        """Called before each round: the battle's settings, the side played (0 left, 1
        right) and a seed for the player's own randomness."""
        ...

    def act(self, obs: TeamObs) -> np.ndarray:
        """``(n_max,)`` actions in ``[0, 21)``; entries of dead slots are ignored."""
        ...


class RandomPlayer:
    """Uniform random actions."""

    name = "random"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, config: BattleConfig, team: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: TeamObs) -> np.ndarray:
        return np.asarray(self.rng.integers(0, N_ACTIONS, size=obs.alive.shape[0]))


class AttackNearestPlayer:
    """Scripted: attack the weakest opponent in the 8 cells around, else step toward the
    nearest living opponent (by grid position). Whole-team numpy, no per-agent loop."""

    name = "attack-nearest"

    def __init__(self, opponent_channel: int = 3) -> None:
        self.opponent_channel = opponent_channel
        self.rng = np.random.default_rng(0)
        self._rows = VIEW_RADIUS + ATTACKS[:, 1]
        self._cols = VIEW_RADIUS + ATTACKS[:, 0]

    def reset(self, config: BattleConfig, team: int, seed: int) -> None:
        self.opponent_channel = 4 if config.minimap else 3
        self.rng = np.random.default_rng(seed)

    def act(self, obs: TeamObs) -> np.ndarray:
        n = obs.alive.shape[0]
        actions = np.full(n, STAY, dtype=np.int64)
        enemies = obs.opponent_positions
        if enemies.shape[0] == 0:
            return actions
        # move: the move that brings the agent closest (Chebyshev, then Euclid) to a cell next
        # to its nearest opponent; random tie-breaks keep blocked agents from freezing
        pos = obs.positions
        gap = enemies[None, :, :] - pos[:, None, :]  # (n, m, 2)
        nearest = np.argmin((gap**2).sum(-1), axis=1)
        target = enemies[nearest]  # (n, 2)
        after = pos[:, None, :] + MOVES[None, :, :]  # (n, 13, 2)
        delta = np.abs(after - target[:, None, :])
        cheb = delta.max(-1)
        cost = np.abs(cheb - 1) * 100.0 + (delta**2).sum(-1) + self.rng.random(cheb.shape)
        cost[cheb == 0] = np.inf  # the opponent's own cell is taken
        actions[:] = np.argmin(cost, axis=1)
        # attack: opponents in the 8 attack cells, weakest (lowest hp) first
        ch = self.opponent_channel
        present = obs.view[:, self._rows, self._cols, ch] > 0  # (n, 8)
        hp = obs.view[:, self._rows, self._cols, ch + 1]
        score = np.where(present, hp, np.inf)
        can_attack = present.any(axis=1)
        actions[can_attack] = ATTACK_BASE + np.argmin(score[can_attack], axis=1)
        return actions


BUILTIN_PLAYERS = {"random": RandomPlayer, "attack-nearest": AttackNearestPlayer}


def make_player(spec: str) -> Player:
    """A built-in player by name. A path is meant for a trained checkpoint (not loadable yet);
    anything else is a :class:`ConfigError`."""
    if spec in BUILTIN_PLAYERS:
        player: Player = BUILTIN_PLAYERS[spec]()
        return player
    builtins = ", ".join(BUILTIN_PLAYERS)
    if Path(spec).exists():
        raise ConfigError(
            f"player {spec!r}: loading trained checkpoints is not supported yet; "
            f"use a built-in player ({builtins})"
        )
    raise ConfigError(
        f"player {spec!r}: not a built-in player ({builtins}) and no such checkpoint path"
    )
