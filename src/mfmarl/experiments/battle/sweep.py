"""Sweeps of Battle training over algorithms, seeds and settings (``mfmarl sweep battle``).

The grid is the product of the algorithms, every ``--set KEY=V1,V2,...`` list and the seeds;
each point is one training run (an executor task) that, when ``eval_rounds > 0``, then
plays the built-in players. Output layout::

    OUT/config.json                  the sweep's settings and every run's configs
    OUT/runs/<name>/                 one training run each, plus eval.json
    OUT/results.json                 every run: its settings, status, error, summary, win rates
    OUT/report.md                    a table per run and per setting (mean over seeds)
    OUT/failures.json                only when a run failed: its error and traceback

A run's name is ``<algo>_<key>=<value>_..._s<seed>`` over the keys with more than one value.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mfmarl import __version__
from mfmarl.algorithms import ALGORITHMS
from mfmarl.algorithms.base import ALGORITHM_NAMES
from mfmarl.core.errors import require, require_choice
from mfmarl.evaluation.matches import play_match
from mfmarl.evaluation.players import load_player
from mfmarl.evaluation.tournament import TOURNAMENT_OUTPUTS, write_failures
from mfmarl.experiments.battle.env import battle_arena
from mfmarl.experiments.battle.preset import SCALES
from mfmarl.experiments.battle.runs import (
    BattleRunJob,
    preset_job,
    read_summary,
    train_battle_run,
    with_auto_precision,
)
from mfmarl.parallel.executor import Executor, OnDone, StopCheck, Task, TaskResult
from mfmarl.training.rundir import read_json, write_config, write_json_atomic, write_text_atomic

SWEEP_OUTPUTS: tuple[str, ...] = TOURNAMENT_OUTPUTS
EVAL_OPPONENTS = ("random", "attack-nearest")


@dataclass(frozen=True)
class SweepExperiment:
    """Settings of a Battle sweep."""

    algos: tuple[str, ...] = ("mfq",)
    """Algorithms to train."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds."""
    scale: Literal["quick", "medium", "paper"] = "quick"
    """Preset the settings start from."""
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """Setting name -> values (one value: a fixed override)."""
    eval_rounds: int = 20
    """Rounds against each built-in player after training (0: no evaluation)."""
    eval_seed: int = 0
    """Seed of the evaluation rounds."""

    def __post_init__(self) -> None:
        require(len(self.algos) > 0, "give at least one algorithm")
        for algo in self.algos:
            require_choice("algo", algo, ALGORITHMS)
        require(len(self.seeds) > 0, "give at least one seed")
        require(len(set(self.seeds)) == len(self.seeds), f"seeds={self.seeds} repeat")
        require_choice("scale", self.scale, SCALES)
        require(self.eval_rounds >= 0, f"eval_rounds={self.eval_rounds} must be >= 0")

    @property
    def swept(self) -> list[str]:
        """The keys with more than one value (they name the runs)."""
        return [k for k, values in self.grid.items() if len(values) > 1]


def _format(value: Any) -> str:
    return str(value).replace("/", "-").replace(" ", "")


def plan_sweep(experiment: SweepExperiment, out: Path) -> list[BattleRunJob]:
    """Every (algo, settings, seed) run with validated configs."""
    keys = list(experiment.grid)
    jobs = []
    for algo in experiment.algos:
        for values in itertools.product(*(experiment.grid[k] for k in keys)):
            params = dict(zip(keys, values))
            label = "".join(f"_{k}={_format(params[k])}" for k in experiment.swept)
            for seed in experiment.seeds:
                swept = tuple((k, params[k]) for k in experiment.swept)
                overrides = {**params, "seed": seed}
                name = f"{algo}{label}_s{seed}"
                jobs.append(preset_job(algo, experiment.scale, overrides, name, out, swept))
    return jobs


def train_and_evaluate(
    job: BattleRunJob,
    rounds: int,
    seed: int,
    resume: bool = False,
    should_stop: StopCheck | None = None,
) -> dict[str, Any]:
    """Task: train ``job``; then, with ``rounds > 0``, play the built-in players and write
    ``eval.json`` (their ``mfmarl battle`` results) into the run directory. ``resume``:
    continue the run there, keeping a finished run and its evaluation."""
    summary = train_battle_run(job, resume, should_stop)
    if summary.get("interrupted"):
        return summary
    if rounds > 0 and not (resume and _eval(job)):
        player = load_player(job.out_dir)
        arena = battle_arena(job.battle)
        matches = {
            name: play_match(arena, (player, load_player(name)), (job.name, name), rounds, seed)
            for name in EVAL_OPPONENTS
        }
        write_json_atomic(Path(job.out_dir) / "eval.json", matches)
    return summary


def _eval(job: BattleRunJob) -> dict[str, Any]:
    path = Path(job.out_dir) / "eval.json"
    data = read_json(path) if path.is_file() else {}
    return dict(data) if isinstance(data, dict) else {}


def run_record(job: BattleRunJob, result: TaskResult) -> dict[str, Any]:
    """One run in ``results.json``."""
    record: dict[str, Any] = {
        "name": job.name,
        "algo": job.algo,
        "seed": job.seed,
        "params": dict(job.params),
        "status": "ok" if result.ok else "failed",
        "error": result.error,
        "summary": None,
    }
    for name in EVAL_OPPONENTS:
        record[f"vs_{name.replace('-', '_')}"] = None
    if result.ok:
        record["summary"] = read_summary(job)
        for name, match in _eval(job).items():
            record[f"vs_{name.replace('-', '_')}"] = match["win_rate"][0]
    return record


def sweep_results(
    experiment: SweepExperiment, jobs: Sequence[BattleRunJob], results: Sequence[TaskResult]
) -> dict[str, Any]:
    """The content of ``results.json``."""
    runs = [run_record(job, result) for job, result in zip(jobs, results)]
    return {
        "experiment": "sweep",
        "env": "battle",
        "scale": experiment.scale,
        "algos": list(experiment.algos),
        "seeds": list(experiment.seeds),
        "grid": {k: list(v) for k, v in experiment.grid.items()},
        "eval_rounds": experiment.eval_rounds,
        "runs": runs,
        "failed": sum(r["status"] == "failed" for r in runs),
    }


def _cell(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def sweep_report(
    experiment: SweepExperiment, results: Mapping[str, Any], command: Sequence[str] | None
) -> str:
    """``report.md``: every run, then the mean over seeds of each (algo, settings)."""
    keys = experiment.swept
    lines = [
        "# Battle sweep",
        "",
        f"Preset `{experiment.scale}`; algorithms {', '.join(experiment.algos)}; seeds "
        f"{', '.join(map(str, experiment.seeds))}; grid "
        + (", ".join(f"{k} ∈ {list(v)}" for k, v in experiment.grid.items()) or "none")
        + f". After training each run plays {experiment.eval_rounds} rounds against each "
        f"built-in player. mfmarl {__version__}.",
        "",
    ]
    if command:
        lines += ["```", " ".join(command), "```", ""]
    header = ["run", "status", "seconds", "vs random", "vs attack-nearest"]
    lines += ["| " + " | ".join(header) + " |", "|---|---|---:|---:|---:|"]
    for run in results["runs"]:
        seconds = (run["summary"] or {}).get("seconds")
        status = run["status"] if run["status"] == "ok" else f"failed: `{run['error']}`"
        lines.append(
            f"| `{run['name']}` | {status} | {_cell(seconds, 1)} | "
            f"{_cell(run['vs_random'])} | {_cell(run['vs_attack_nearest'])} |"
        )
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for run in results["runs"]:
        if run["status"] == "ok":
            key = (run["algo"], *(run["params"].get(k) for k in keys))
            groups.setdefault(key, []).append(run)
    if groups and experiment.eval_rounds > 0:
        lines += [
            "",
            "Mean over seeds:",
            "",
            "| algorithm | "
            + " | ".join(keys)
            + (" | " if keys else "")
            + "seeds | vs random | vs attack-nearest |",
            "|---|" + "---|" * len(keys) + "---:|---:|---:|",
        ]
        for key, runs in groups.items():
            means = [
                float(np.mean([r[col] for r in runs if r[col] is not None] or [math.nan]))
                for col in ("vs_random", "vs_attack_nearest")
            ]
            params = "".join(f" {v} |" for v in key[1:])
            lines.append(
                f"| {ALGORITHM_NAMES.get(key[0], key[0])} |{params} {len(runs)} | "
                f"{_cell(means[0])} | {_cell(means[1])} |"
            )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SweepOutcome:
    results: dict[str, Any]
    failures: list[TaskResult]


def run_sweep(
    experiment: SweepExperiment,
    out_dir: str | Path,
    executor: Executor,
    on_done: OnDone | None = None,
    command: Sequence[str] | None = None,
    should_stop: StopCheck | None = None,
    resume: bool = False,
) -> SweepOutcome:
    """Train (and evaluate) every run of the sweep into ``out_dir`` (which must exist);
    ``resume``: continue an earlier sweep with the same settings there."""
    out = Path(out_dir)
    jobs = with_auto_precision(plan_sweep(experiment, out))
    write_config(
        out / "config.json",
        {
            "experiment": "sweep",
            "env": "battle",
            "settings": {
                **dataclasses.asdict(experiment),
                "grid": {k: list(v) for k, v in experiment.grid.items()},
            },
            "runs": {
                job.name: {
                    "battle": dataclasses.asdict(job.battle),
                    "algorithm": dataclasses.asdict(job.algo_config),
                    "train": dataclasses.asdict(job.train_config),
                }
                for job in jobs
            },
            "executor": executor.description,
            "mfmarl_version": __version__,
            "command": list(command) if command is not None else None,
        },
        resume,
    )
    args = (experiment.eval_rounds, experiment.eval_seed, resume)
    tasks = [Task(job.name, train_and_evaluate, (job, *args), stoppable=True) for job in jobs]
    results = executor.map(tasks, on_done, should_stop)
    data = sweep_results(experiment, jobs, results)
    failures = [r for r in results if not r.ok]
    write_json_atomic(out / "results.json", data)
    write_failures(out, failures)
    write_text_atomic(out / "report.md", sweep_report(experiment, data, command))
    return SweepOutcome(data, failures)
