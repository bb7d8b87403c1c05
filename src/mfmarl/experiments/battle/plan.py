"""The Battle reproduction's plan: its settings (:class:`BattleExperiment`), the runs it
trains and the cost it expects, and the record of them in ``OUT/config.json``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mfmarl import __version__
from mfmarl.algorithms import ALGORITHMS
from mfmarl.core.errors import require, require_choice
from mfmarl.evaluation.ratings import DEFAULT_RESAMPLES
from mfmarl.experiments.battle.env import BattleConfig
from mfmarl.experiments.battle.preset import SCALES
from mfmarl.experiments.battle.runs import (
    BattleRunJob,
    preset_job,
    scaled_preset,
)

EXPERIMENT = "battle"
BUILTINS = ("random", "attack-nearest")
EPISODE_SECONDS = {
    "quick": {"mfq": 1.3, "iql": 1.3, "mfac": 1.6, "iac": 1.6},
    "medium": {"mfq": 2.8, "iql": 2.7, "mfac": 3.3, "iac": 3.5},
    "paper": {"mfq": 15.5, "iql": 15.5, "mfac": 25.0, "iac": 25.0},
}
"""Seconds per training episode on one core of the 2-core development machine, averaged over
whole runs, where episodes end early once the armies fight: at quick from ``reproduce battle
--scale quick --seeds 2`` (b1fa1a0, 34.2 min in all: 348-621 s per run, 1.4 s per episode on
average; split between the Q-learners and the actor-critics as at medium), at medium from
``--scale medium --seeds 2`` (2026-12-04, two runs at a time: 2.7-3.6 s per episode). At
paper: measured (MF-Q) or extrapolated (×1.6 for the actor-critics) for full-length
episodes, an upper bound."""
ROUND_SECONDS = {"quick": 0.3, "medium": 0.35, "paper": 0.35}
"""Seconds per tournament round between trained players at each preset, measured: at quick,
and at medium (900 rounds of ten 64 v 64 players in about 150 s on 2 workers: trained armies
end a round in a wipe-out long before its 400 steps); paper's players fight the same battle."""
DEFAULT_ROUNDS = {"quick": 50, "medium": 20, "paper": 50}
"""Tournament rounds per pair by default: the paper's 50, and 20 at medium (chosen when a 64 v 64
round was expected to take 4.5 s; measured at 0.35 s, 50 rounds would add about 7 minutes on 2
workers: ``--rounds 50``)."""


@dataclass(frozen=True)
class BattleExperiment:
    """Settings of a Battle reproduction."""

    scale: Literal["quick", "medium", "paper"] = "quick"
    """Preset: quick (16 v 16 on 24×24, 200 steps, 300 episodes), medium (the paper's battle,
    400 episodes) or paper (64 v 64 on 40×40, 400 steps, 2000 episodes)."""
    seeds: int = 1
    """Seeds per algorithm: 0 .. seeds−1."""
    algos: tuple[str, ...] = ALGORITHMS
    """Algorithms to train."""
    rounds: int = 50
    """Tournament rounds per pair of players (the paper: 50)."""
    resamples: int = DEFAULT_RESAMPLES
    """Bootstrap resamples of the rating intervals."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Settings over the preset (fields of BattleConfig, AlgorithmConfig, BattleTrainConfig);
    changing episodes or max_steps rescales the ε and β schedules."""
    seed: int = 0
    """Seed of the tournament's rounds and bootstrap."""

    def __post_init__(self) -> None:
        require_choice("scale", self.scale, SCALES)
        require(self.seeds >= 1, f"seeds={self.seeds} must be >= 1")
        require(len(self.algos) > 0, "give at least one algorithm")
        require(len(set(self.algos)) == len(self.algos), f"algos={self.algos} repeat a name")
        for algo in self.algos:
            require_choice("algo", algo, ALGORITHMS)
        require(self.rounds >= 1, f"rounds={self.rounds} must be >= 1")
        require(self.resamples >= 1, f"resamples={self.resamples} must be >= 1")

    def battle(self) -> BattleConfig:
        """The battle every run trains on and the tournament is played on."""
        return scaled_preset(self.algos[0], self.scale, self.overrides)[0]


def run_name(algo: str, seed: int) -> str:
    return f"{algo}_s{seed}"


def plan_runs(experiment: BattleExperiment, out: Path) -> list[BattleRunJob]:
    """Every (algo, seed) run with validated configs, in report order."""
    jobs = []
    for algo in experiment.algos:
        for seed in range(experiment.seeds):
            overrides = {**experiment.overrides, "seed": seed}
            jobs.append(preset_job(algo, experiment.scale, overrides, run_name(algo, seed), out))
    return jobs


def expected_seconds(experiment: BattleExperiment, workers: int) -> tuple[float, float]:
    """``(training CPU seconds, wall seconds with workers)`` estimated from
    :data:`EPISODE_SECONDS` and :data:`ROUND_SECONDS`, scaled by the episode budget."""
    jobs = plan_runs(experiment, Path("."))
    per_run = [
        j.train_config.episodes
        * EPISODE_SECONDS[experiment.scale][j.algo]
        * j.battle.max_steps
        / (200 if experiment.scale == "quick" else 400)
        for j in jobs
    ]
    players = len(jobs) + len(BUILTINS)
    games = players * (players - 1) // 2 * experiment.rounds * ROUND_SECONDS[experiment.scale]
    cpu = float(sum(per_run)) + games
    slots = max(1, min(workers, len(jobs)))
    wall = max(max(per_run), sum(per_run) / slots) + games / max(1, workers)
    return cpu, wall


def cost_text(experiment: BattleExperiment, workers: int) -> str:
    """One sentence with the expected cost."""
    cpu, wall = expected_seconds(experiment, workers)
    return (
        f"expected cost: about {_duration(cpu)} of CPU, {_duration(wall)} wall with {workers} "
        "worker(s) (per-episode times measured on a 2-core development machine; a GPU or "
        "faster cores shorten it)"
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def experiment_record(
    experiment: BattleExperiment,
    jobs: Sequence[BattleRunJob],
    executor: str,
    command: Sequence[str] | None,
) -> dict[str, Any]:
    """The content of ``OUT/config.json``."""
    settings = dataclasses.asdict(experiment)
    settings["overrides"] = dict(experiment.overrides)
    return {
        "experiment": EXPERIMENT,
        "settings": settings,
        "battle": dataclasses.asdict(experiment.battle()),
        "runs": {
            job.name: {
                "algorithm": dataclasses.asdict(job.algo_config),
                "train": dataclasses.asdict(job.train_config),
            }
            for job in jobs
        },
        "executor": executor,
        "mfmarl_version": __version__,
        "command": list(command) if command is not None else None,
    }
