"""The Battle reproduction (docs/method.md 6.3): train MF-Q, MF-AC, IL and AC for K seeds by
self-play, play the tournament of all of them plus the built-in players, and report.

Output layout::

    OUT/config.json                 the experiment's settings and every run's configs
    OUT/runs/<algo>_s<seed>/        one training run each (see mfmarl.training.run)
    OUT/tournament/                 the tournament (results.json, matches/, report.md, PNG)
    OUT/results.json                per-algorithm ratings, cross-play and win rate vs random
    OUT/learning_curves.png         return, kills and episode length per algorithm
    OUT/best_two.gif                one round between the two best-rated trained players
    OUT/report.md                   settings, tables, plots, comparison with the paper
    OUT/failures.json               only when a task failed: its error and traceback

``results.json``: ``{"experiment": "battle", "scale", "seeds", "ratings": {"<algo>":
{"rating": x, "ci95": [lo, hi]}}, "cross_play": {"<algo>": {"<algo>": win_rate}},
"vs_random": {"<algo>": win_rate}, "vs_attack_nearest": {"<algo>": win_rate},
"paper_claims": [{"claim": "mfq > iql", "rating_difference", "ci95", "resolved", "verdict",
"head_to_head": {"wins", "losses", "rounds", "win_rate_wilson95"}}], "seconds"}``. An
algorithm's rating is the mean of its seeds' Bradley–Terry ratings in the tournament, its
interval the percentile interval of that mean over the same bootstrap replicates (rounds
resampled within each pair). Win rates are averaged over seeds (over every pair of seeds for
cross-play; a same-algorithm entry needs two seeds and is ``null`` with one).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfmarl.evaluation.players import load_player
from mfmarl.evaluation.tournament import (
    TOURNAMENT_OUTPUTS,
    TournamentOutcome,
    run_tournament,
    write_failures,
)
from mfmarl.experiments.battle.env import BattleConfig, battle_arena
from mfmarl.experiments.battle.plan import (
    BUILTINS,
    EPISODE_SECONDS,
    EXPERIMENT,
    BattleExperiment,
    experiment_record,
    plan_runs,
)
from mfmarl.experiments.battle.report import (
    AlgoView,
    algorithm_name,
    battle_report,
    results_dict,
    write_learning_curves,
)
from mfmarl.experiments.battle.runs import (
    read_summary,
    train_battle_run,
    with_auto_precision,
)
from mfmarl.parallel.executor import Executor, OnDone, StopCheck, Task, TaskResult
from mfmarl.training.rundir import read_json, write_config, write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

BATTLE_OUTPUTS: tuple[str, ...] = (*TOURNAMENT_OUTPUTS, "tournament", "*.gif")
"""What the reproduction writes into its directory (cleared by ``--force``)."""


# -- the experiment -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BattleOutcome:
    results: dict[str, Any]
    failures: list[TaskResult]
    tasks: int
    tournament: TournamentOutcome | None


def _best_two(view: AlgoView, trained: Sequence[str]) -> list[str]:
    names = list(view.tournament.names)
    order = sorted(names, key=lambda n: -view.ratings.rating[names.index(n)])
    best = [n for n in order if n in trained][:2]
    if len(best) < 2:
        best += [n for n in order if n not in best][: 2 - len(best)]
    return best


def write_best_two_gif(
    view: AlgoView, specs: Mapping[str, str], config: BattleConfig, out: Path, seed: int
) -> Path:
    """One round between the two best-rated trained players (A on the left)."""
    from mfmarl.evaluation.render import render_gif

    a, b = _best_two(view, [n for n in specs if n not in BUILTINS])
    players = (load_player(specs[a]), load_player(specs[b]))
    path = out / "best_two.gif"
    render_gif(battle_arena(config), players, path, seed)
    return path


def reproduce_battle(
    experiment: BattleExperiment,
    out_dir: str | Path,
    executor: Executor,
    workers: int = 1,
    on_done: OnDone | None = None,
    command: Sequence[str] | None = None,
    should_stop: StopCheck | None = None,
    resume: bool = False,
) -> BattleOutcome:
    """Train, play the tournament and write everything into ``out_dir`` (which must exist).

    Every config is built and validated before the first run starts. Runs that fail are
    reported (failures.json, report.md) and left out of the tournament.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    earlier = _earlier_seconds(out) if resume else 0.0
    jobs = with_auto_precision(plan_runs(experiment, out))
    battle = experiment.battle()
    write_config(
        out / "config.json",
        experiment_record(experiment, jobs, executor.description, command),
        resume,
    )
    order = sorted(jobs, key=lambda j: -EPISODE_SECONDS[experiment.scale][j.algo])
    tasks = [Task(job.name, train_battle_run, (job, resume), stoppable=True) for job in order]
    trained = executor.map(tasks, on_done, should_stop)
    failures = [r for r in trained if not r.ok]
    ok = {r.key for r in trained if r.ok}
    done_jobs = [job for job in jobs if job.name in ok]
    summaries = {job.name: read_summary(job) for job in done_jobs}
    specs = {job.name: job.out_dir for job in done_jobs}
    specs.update({name: name for name in BUILTINS})
    outcome = view = None
    gif = None
    if done_jobs:
        (out / "tournament").mkdir(exist_ok=True)
        outcome = run_tournament(
            list(specs.values()),
            battle_arena(battle),
            experiment.rounds,
            experiment.seed,
            out / "tournament",
            executor,
            names=list(specs),
            resamples=experiment.resamples,
            on_done=on_done,
            should_stop=should_stop,
            command=command,
            resume=resume,
        )
        failures += outcome.failures
        names = list(specs)
        players = {
            algo: [names.index(j.name) for j in done_jobs if j.algo == algo]
            for algo in experiment.algos
        }
        view = AlgoView(outcome.tournament, outcome.ratings, players)
        try:
            gif = write_best_two_gif(view, specs, battle, out, experiment.seed)
        except Exception as exc:  # a missing GIF writer must not lose the results
            log.warning("no GIF: %s", exc)
            failures.append(TaskResult("best_two.gif", error=f"{type(exc).__name__}: {exc}"))
    seconds = earlier + time.perf_counter() - started
    if view is not None:
        results = results_dict(experiment, view, seconds)
    else:
        results = {
            "experiment": EXPERIMENT,
            "scale": experiment.scale,
            "seeds": experiment.seeds,
            "ratings": {},
            "cross_play": {},
            "vs_random": {},
            "vs_attack_nearest": {},
            "paper_claims": [],
            "seconds": seconds,
        }
    if resume:
        results["resumed"] = True
    write_json_atomic(out / "results.json", results)
    write_failures(out, failures)
    write_learning_curves(jobs, battle, out)
    report = battle_report(
        experiment,
        jobs,
        summaries,
        outcome,
        view,
        results,
        gif,
        failures,
        executor.description,
        workers,
        command,
    )
    write_text_atomic(out / "report.md", report)
    pairs = len(specs) * (len(specs) - 1) // 2 if done_jobs else 0
    return BattleOutcome(results, failures, len(tasks) + pairs, outcome)


def _earlier_seconds(out: Path) -> float:
    """Wall seconds an earlier session of the reproduction in ``out`` recorded in its
    results.json (0 when there is none: a session killed before the end records nothing)."""
    try:
        seconds = read_json(out / "results.json").get("seconds")
    except (OSError, ValueError, AttributeError):
        return 0.0
    valid = isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0
    return float(seconds) if valid else 0.0


def summary_text(results: Mapping[str, Any]) -> str:
    """Per-algorithm rating and win rate vs random, for a terminal."""
    lines = [f"{'algo':<6} {'rating':>7} {'95% interval':>17} {'vs random':>9}"]
    for algo, r in sorted(results["ratings"].items(), key=lambda kv: -kv[1]["rating"]):
        low, high = r["ci95"]
        vs = results["vs_random"].get(algo)
        vs_text = "n/a" if vs is None else f"{vs:.2f}"
        name = algorithm_name(algo)
        lines.append(f"{name:<6} {r['rating']:>+7.2f} [{low:+7.2f}, {high:+7.2f}] {vs_text:>9}")
    return "\n".join(lines)
