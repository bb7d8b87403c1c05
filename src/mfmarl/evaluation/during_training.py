"""Evaluation during training: every ``eval_every`` episodes the run's trained side plays
``eval_rounds`` rounds against each of ``eval_opponents``, exactly as ``mfmarl battle RUN
OPPONENT`` would with the run's current networks (its policy average when it keeps one, no
ε, sides swapped every other round). The rounds use their own generators and a copy of the
environment, so the training run itself is the same with or without evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mfmarl.algorithms import Learner
from mfmarl.core.errors import ConfigError, require
from mfmarl.evaluation.matches import Arena, play_match
from mfmarl.evaluation.players import Player, load_player, player_from_learners
from mfmarl.evaluation.render import record_round
from mfmarl.training.spec import Evaluation, RunSpec

EVAL_SEED = 1_000_000
"""Seed of round 0 of every evaluation (the same rounds each time: the curve shows the
networks changing, not the draws)."""


def evaluate_during_training(
    spec: RunSpec, learners: Mapping[str, Learner], episode: int
) -> Evaluation:
    """Metrics ``eval/<opponent>/win_rate``, ``.../win_rate_low``, ``.../win_rate_high``
    (95% Wilson) and ``.../tie_rate`` of the trained side against each opponent; with
    ``spec.eval_gif`` the frames of one round against the first (its round 0)."""
    player = player_from_learners("training", dict(learners), spec)
    arena = Arena(spec.env.played_on(), trust=True)
    out: dict[str, float] = {}
    for name in spec.eval_opponents:
        opponent = load_player(name)
        result = play_match(
            arena, (player, opponent), ("training", name), spec.eval_rounds, EVAL_SEED
        )
        low, high = result["win_rate_ci95"][0]
        key = f"eval/{name.replace('/', '_')}"
        out[f"{key}/win_rate"] = float(result["win_rate"][0])
        out[f"{key}/win_rate_low"] = float(low)
        out[f"{key}/win_rate_high"] = float(high)
        out[f"{key}/tie_rate"] = result["ties"] / result["rounds"]
    frames = None
    if spec.eval_gif:
        first = load_player(spec.eval_opponents[0])
        shots, _ = record_round(arena, (player, first), EVAL_SEED, cell=4)
        frames = np.stack(shots)
    return Evaluation(out, frames)


def check_evaluation(spec: RunSpec) -> None:
    """Raise :class:`~mfmarl.core.errors.ConfigError` before training if the evaluation
    cannot run: an opponent that does not load, or a game without two sides."""
    if not spec.eval_every:
        return
    for name in spec.eval_opponents:
        load_player(name)
    arena = Arena(spec.env.played_on(), trust=True)
    try:
        env = arena.build()  # once: for its sides and, with eval_gif, its render method
        arena.resolved(env)
    except ConfigError as exc:
        raise ConfigError(f"evaluation during training needs two sides: {exc}") from exc
    if spec.eval_gif:
        require(
            hasattr(env, "render"),
            "--eval-gif: this environment cannot be drawn (no render method)",
        )


__all__ = ["Player", "check_evaluation", "evaluate_during_training"]
