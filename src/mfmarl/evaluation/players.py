"""Battle players: anything with ``act(obs: TeamObs) -> (n_max,) actions``.

Built-ins: ``random`` (uniform over the 21 actions) and ``attack-nearest`` (scripted: attack
an opponent in reach, else move toward the nearest opponent). Trained learners implement
:class:`Player` too; :func:`make_player` turns a command-line name into a player.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from mfmarl.algorithms import Learner
from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.battle import BattleConfig, TeamObs
from mfmarl.envs.scripted import attack_nearest_actions, random_actions
from mfmarl.training.battle import realised_mean_action, team_inputs, to_engine_actions
from mfmarl.training.checkpoint import META_FILE, learner_from_checkpoint, resolve_checkpoint_dir
from mfmarl.training.loop import fill_mean_action
from mfmarl.training.rundir import read_json


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
        return random_actions(obs, self.rng)


class AttackNearestPlayer:
    """Scripted: step toward the nearest living opponent and attack it when it is in reach
    (:func:`~mfmarl.envs.scripted.attack_nearest_actions`)."""

    name = "attack-nearest"
    focus = "nearest"

    def __init__(self, opponent_channel: int = 3) -> None:
        self.opponent_channel = opponent_channel
        self.rng = np.random.default_rng(0)

    def reset(self, config: BattleConfig, team: int, seed: int) -> None:
        self.opponent_channel = 4 if config.minimap else 3
        self.rng = np.random.default_rng(seed)

    def act(self, obs: TeamObs) -> np.ndarray:
        return attack_nearest_actions(obs, self.rng, self.opponent_channel, self.focus)


class AttackWeakestPlayer(AttackNearestPlayer):
    """Scripted, stronger: moves as attack-nearest, but attacks the opponent with the lowest
    hp among those in reach, so the team focuses its fire."""

    name = "attack-weakest"
    focus = "weakest"


class LearnerPlayer:
    """A trained learner from a checkpoint: one batched forward pass per step on the team's
    observations (mirrored on the right side, as in training) and the previous step's ā; it
    samples from the learner's policy without the training-time ε (with the Polyak average of
    its weights when the run kept one, ``average_tau`` > 0). ``trained_on``: the
    battle settings recorded in its checkpoint; ``neighbourhood``/``radius``: how its ā is
    formed, as in training."""

    def __init__(
        self,
        learner: Learner,
        name: str,
        trained_on: BattleConfig | None = None,
        neighbourhood: str = "team",
        radius: int = 6,
    ) -> None:
        self.learner = learner
        self.name = name
        self.trained_on = trained_on
        self.neighbourhood = neighbourhood
        self.radius = radius
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
        self.previous = realised_mean_action(
            actions,
            obs,
            d,
            learner.config.initial_mean_action,
            self.neighbourhood,
            self.radius,
            self.config.map_size,
        )
        return to_engine_actions(actions, self.team)


def load_learner_player(spec: str) -> LearnerPlayer:
    """A training run's ``--out`` directory (its ``checkpoint/``) or a checkpoint directory."""
    path = Path(spec)
    run_checkpoint = path / "checkpoint"
    is_run = run_checkpoint.is_dir() or run_checkpoint.with_name("checkpoint.old").is_dir()
    checkpoint = resolve_checkpoint_dir(run_checkpoint if is_run else path)
    learner = learner_from_checkpoint(checkpoint)
    require(
        learner.view_shape is not None,
        f"player {spec!r}: the checkpoint is not a Battle learner (it has no view input)",
    )
    learner.use_average()
    meta = read_json(checkpoint / META_FILE)
    try:
        env = meta.get("env") or {}
        trained_on = BattleConfig(**env["config"]) if env.get("name") == "battle" else None
        train = meta.get("train") or {}
        neighbourhood = str(train.get("neighbourhood", "team"))
        radius = int(train.get("radius", 6))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"player {spec!r}: bad battle settings in its checkpoint ({exc})"
        ) from exc
    return LearnerPlayer(learner, str(spec), trained_on, neighbourhood, radius)


def match_config(
    players: Sequence[Player],
    map_size: int | None = None,
    team_size: int | None = None,
    max_steps: int | None = None,
) -> BattleConfig:
    """The battle to play: each setting given, else the one the trained players were trained
    with (they must agree), else the paper's (40 map, its layout's 64 v 64, 400 steps)."""
    trained = [p.trained_on for p in players if isinstance(p, LearnerPlayer) and p.trained_on]
    settings: dict[str, Any] = {}
    for name, value in (("map_size", map_size), ("team_size", team_size), ("max_steps", max_steps)):
        if value is not None:
            settings[name] = value
            continue
        seen = sorted({getattr(t, name) for t in trained}, key=str)
        if len(seen) > 1:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"the checkpoints were trained with different {name} "
                f"({', '.join(map(str, seen))}); give {flag}"
            )
        if seen:
            settings[name] = seen[0]
    return BattleConfig(**settings)


BUILTIN_PLAYERS: dict[str, type[RandomPlayer] | type[AttackNearestPlayer]] = {
    "random": RandomPlayer,
    "attack-nearest": AttackNearestPlayer,
    "attack-weakest": AttackWeakestPlayer,
}


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
