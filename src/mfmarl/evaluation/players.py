"""Battle players: anything with ``act(obs: TeamObs) -> (n_max,) actions``.

Built-ins: ``random`` (uniform over the 21 actions) and ``attack-nearest`` (scripted: attack
an opponent in reach, else move toward the nearest opponent). Trained learners implement
:class:`Player` too; :func:`make_player` turns a command-line name into a player.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from mfmarl.algorithms import Learner
from mfmarl.core.errors import ConfigError, require
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
from mfmarl.training.battle import realised_mean_action, team_inputs, to_engine_actions
from mfmarl.training.checkpoint import learner_from_checkpoint
from mfmarl.training.loop import fill_mean_action


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


class LearnerPlayer:
    """A trained learner from a checkpoint: one batched forward pass per step on the team's
    observations (mirrored on the right side, as in training) and the previous step's ā; it
    samples from the learner's policy without the training-time ε."""

    def __init__(self, learner: Learner, name: str) -> None:
        self.learner = learner
        self.name = name
        self.team = 0
        self.config = BattleConfig()
        self.previous: np.ndarray | None = None
        self.generator = torch.Generator().manual_seed(0)

    def reset(self, config: BattleConfig, team: int, seed: int) -> None:
        self.config, self.team, self.previous = config, team, None
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def act(self, obs: TeamObs) -> np.ndarray:
        learner = self.learner
        n, d = obs.alive.shape[0], learner.n_actions
        if self.previous is None:
            self.previous = fill_mean_action(n, d, learner.config.initial_mean_action)
        inputs = torch.as_tensor(team_inputs(obs, self.team)).unsqueeze(0)
        mean = torch.as_tensor(self.previous).unsqueeze(0)
        probs = learner.policy(inputs, mean, learner.env_steps)[0]
        actions = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1).numpy()
        self.previous = realised_mean_action(actions, obs, d, learner.config.initial_mean_action)
        return to_engine_actions(actions, self.team)


def load_learner_player(spec: str) -> LearnerPlayer:
    """A training run's ``--out`` directory (its ``checkpoint/``) or a checkpoint directory."""
    path = Path(spec)
    checkpoint = path / "checkpoint" if (path / "checkpoint").is_dir() else path
    learner = learner_from_checkpoint(checkpoint)
    require(
        learner.view_shape is not None,
        f"player {spec!r}: the checkpoint is not a Battle learner (it has no view input)",
    )
    return LearnerPlayer(learner, name=str(spec))


BUILTIN_PLAYERS = {"random": RandomPlayer, "attack-nearest": AttackNearestPlayer}


def make_player(spec: str) -> Player:
    """A built-in player by name, or a trained learner from a run directory or checkpoint
    directory; anything else (or a corrupt or mismatched checkpoint) is a
    :class:`ConfigError`."""
    if spec in BUILTIN_PLAYERS:
        player: Player = BUILTIN_PLAYERS[spec]()
        return player
    builtins = ", ".join(BUILTIN_PLAYERS)
    if Path(spec).exists():
        return load_learner_player(spec)
    raise ConfigError(
        f"player {spec!r}: not a built-in player ({builtins}) and no such checkpoint path"
    )
