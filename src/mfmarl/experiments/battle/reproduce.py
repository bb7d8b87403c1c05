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
"vs_random": {"<algo>": win_rate}, "seconds"}``. An algorithm's rating is the mean of its
seeds' Bradley–Terry ratings in the tournament, its interval the percentile interval of that
mean over the same bootstrap replicates (rounds resampled within each pair). Win rates are
averaged over seeds (over every pair of seeds for cross-play; a same-algorithm entry needs
two seeds and is ``null`` with one).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mfmarl import __version__
from mfmarl.algorithms import ALGORITHMS
from mfmarl.algorithms.base import ALGORITHM_NAMES
from mfmarl.core.errors import require, require_choice
from mfmarl.evaluation.players import load_player
from mfmarl.evaluation.plots import Panel, plot_learning_curves
from mfmarl.evaluation.ratings import DEFAULT_RESAMPLES, Ratings, percentile_interval
from mfmarl.evaluation.stats import wilson_interval
from mfmarl.evaluation.tournament import (
    TOURNAMENT_OUTPUTS,
    Tournament,
    TournamentOutcome,
    run_tournament,
    write_failures,
)
from mfmarl.experiments.battle.env import BattleConfig, battle_arena
from mfmarl.experiments.battle.preset import SCALES
from mfmarl.experiments.battle.runs import (
    BattleRunJob,
    preset_job,
    read_summary,
    scaled_preset,
    train_battle_run,
)
from mfmarl.parallel.executor import Executor, OnDone, StopCheck, Task, TaskResult
from mfmarl.training.logger import read_metrics
from mfmarl.training.rundir import write_config, write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

EXPERIMENT = "battle"
BATTLE_OUTPUTS: tuple[str, ...] = (*TOURNAMENT_OUTPUTS, "tournament", "*.gif")
"""What the reproduction writes into its directory (cleared by ``--force``)."""
BUILTINS = ("random", "attack-nearest")
PAPER_ORDER = ("mfq", "iql", "mfac", "iac")
"""The paper's ranking: MF-Q > IL > MF-AC > AC."""
EQUAL = 1e-9
"""Rating differences below this are rounding noise (equal ratings)."""
BEATS_RANDOM = 0.8
"""The issue's bar: every trained algorithm beats random in at least this share of rounds."""
EPISODE_SECONDS = {
    "quick": {"mfq": 2.5, "iql": 2.5, "mfac": 4.0, "iac": 4.0},
    "medium": {"mfq": 3.5, "iql": 3.5, "mfac": 4.6, "iac": 4.6},
    "paper": {"mfq": 15.5, "iql": 15.5, "mfac": 25.0, "iac": 25.0},
}
"""Seconds per training episode on one core of the 2-core development machine, at each
preset's map and episode length: measured (MF-Q) or extrapolated (×1.6 for the actor-critics)
for full-length episodes at quick and paper; at medium, measured over whole 64 v 64 runs
(MF-Q and MF-AC, 240 episodes side by side, 813 s and 1108 s), where episodes end early once
the armies fight."""
ROUND_SECONDS = {"quick": 0.3, "medium": 4.5, "paper": 4.5}
"""Seconds per tournament round between trained players at each preset (measured at quick;
extrapolated from acting alone at 90 env steps/s for a full 64 v 64 round)."""
DEFAULT_ROUNDS = {"quick": 50, "medium": 20, "paper": 50}
"""Tournament rounds per pair by default: the paper's 50, and 20 at medium, whose tournament of
ten 64 v 64 players would take about 1.5 h of the 2.5 h budget with 50."""


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


# -- aggregation over seeds -----------------------------------------------------------------------
def _mean_or_none(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


@dataclass(frozen=True)
class AlgoView:
    """The tournament seen per algorithm: ``players[algo]`` = indices of its seeds."""

    tournament: Tournament
    ratings: Ratings
    players: dict[str, list[int]]

    def index(self, name: str) -> int:
        return self.tournament.names.index(name)

    def rating(self, algo: str) -> tuple[float, tuple[float, float]]:
        return self.ratings.group(self.players[algo])

    def difference(self, a: str, b: str) -> tuple[float, tuple[float, float]]:
        """Rating of ``a`` minus ``b`` with its bootstrap interval."""
        rep = self.ratings.replicates
        diffs = rep[:, self.players[a]].mean(axis=1) - rep[:, self.players[b]].mean(axis=1)
        return self.rating(a)[0] - self.rating(b)[0], percentile_interval(diffs)

    def win_rate(self, a: str, b: str) -> float | None:
        """Mean win rate of ``a``'s seeds against ``b``'s (a name of a built-in works too)."""
        rate = self.tournament.win_rate()
        rows = self.players.get(a, [self.index(a)] if a in self.tournament.names else [])
        cols = self.players.get(b, [self.index(b)] if b in self.tournament.names else [])
        return _mean_or_none([rate[i, j] for i in rows for j in cols if i != j])

    def pooled(self, a: str, b: str) -> tuple[int, int, int]:
        """``(wins, losses, rounds)`` of ``a``'s seeds against ``b``'s, pooled."""
        t = self.tournament
        rows = self.players[a] if a in self.players else [self.index(a)]
        cols = self.players[b] if b in self.players else [self.index(b)]
        pairs = [(i, j) for i in rows for j in cols if i != j]
        return (
            int(sum(t.wins[i, j] for i, j in pairs)),
            int(sum(t.wins[j, i] for i, j in pairs)),
            int(sum(t.rounds[i, j] for i, j in pairs)),
        )


def results_dict(experiment: BattleExperiment, view: AlgoView, seconds: float) -> dict[str, Any]:
    """The content of ``results.json`` (the contract in the module docstring)."""
    algos = [a for a in experiment.algos if view.players.get(a)]
    ratings = {}
    for algo in algos:
        rating, (low, high) = view.rating(algo)
        ratings[algo] = {"rating": rating, "ci95": [low, high]}
    return {
        "experiment": EXPERIMENT,
        "scale": experiment.scale,
        "seeds": experiment.seeds,
        "ratings": ratings,
        "cross_play": {a: {b: view.win_rate(a, b) for b in algos} for a in algos},
        "vs_random": {a: view.win_rate(a, "random") for a in algos},
        "seconds": seconds,
    }


# -- plots and report -----------------------------------------------------------------------------
def _curves(jobs: Sequence[BattleRunJob]) -> dict[str, dict[str, list[np.ndarray]]]:
    """``curves[algo label][key]``: per-seed arrays from each run's metrics.csv; ``kills`` is
    the mean of the two armies' kills (self-play)."""
    curves: dict[str, dict[str, list[np.ndarray]]] = {}
    for job in jobs:
        path = Path(job.out_dir) / "metrics.csv"
        if not path.is_file():
            continue
        columns = read_metrics(path)
        per_algo = curves.setdefault(ALGORITHM_NAMES.get(job.algo, job.algo), {})
        for key in ("charts/episodic_return", "charts/episode_length"):
            if key in columns:
                per_algo.setdefault(key, []).append(np.asarray(columns[key]))
        if "env/red/kills" in columns:
            kills = (np.asarray(columns["env/red/kills"]) + columns["env/blue/kills"]) / 2
            per_algo.setdefault("kills", []).append(kills)
    return curves


def write_learning_curves(jobs: Sequence[BattleRunJob], battle: BattleConfig, out: Path) -> Path:
    panels = [
        Panel("charts/episodic_return", "return per agent (mean of the two armies)"),
        Panel("kills", "kills per army", float(battle.n_agents), "army size"),
        Panel("charts/episode_length", "episode length (steps)"),
    ]
    title = (
        f"Battle self-play, {battle.n_agents} v {battle.n_agents} on {battle.map_size}×"
        f"{battle.map_size} (mean over seeds, band: min–max)"
    )
    return plot_learning_curves(out / "learning_curves.png", title, panels, _curves(jobs))


def _name(algo: str) -> str:
    return ALGORITHM_NAMES.get(algo, algo)


def _wilson_text(wins: int, rounds: int) -> str:
    if rounds == 0:
        return "not played"
    w = wilson_interval(wins, rounds)
    return f"{w.estimate:.2f} [{w.low:.2f}, {w.high:.2f}] ({wins}/{rounds})"


def ordering_lines(view: AlgoView, algos: Sequence[str]) -> list[str]:
    """The paper's ordering MF-Q > IL > MF-AC > AC against the measured ratings."""
    present = [a for a in PAPER_ORDER if a in algos]
    if len(present) < 2:
        return ["Fewer than two of the paper's algorithms were trained: no ordering to compare."]
    measured = sorted(present, key=lambda a: -round(view.rating(a)[0], 9))
    paper = " > ".join(_name(a) for a in present)
    lines = [
        f"- Paper: {paper}. Measured (by rating): " + " > ".join(_name(a) for a in measured) + ".",
    ]
    agree = 0
    pairs = [(a, b) for i, a in enumerate(present) for b in present[i + 1 :]]
    for a, b in pairs:
        diff, (low, high) = view.difference(a, b)
        wins, losses, rounds = view.pooled(a, b)
        holds = diff > EQUAL
        agree += holds
        resolved = low > EQUAL or high < -EQUAL
        verdict = "holds" if holds else ("equal ratings" if abs(diff) <= EQUAL else "does not hold")
        certainty = (
            "the 95% interval of the difference excludes 0"
            if resolved
            else "not resolved: the 95% interval of the difference includes 0"
        )
        lines.append(
            f"- {_name(a)} > {_name(b)}: **{verdict}** (rating difference {diff:+.2f} "
            f"[{low:+.2f}, {high:+.2f}], {certainty}; head-to-head {_name(a)} wins "
            f"{_wilson_text(wins, rounds)}, loses {losses}, ties {rounds - wins - losses})."
        )
    if agree == len(pairs):
        summary = "The measured ordering agrees with the paper's on every pair."
    elif agree == 0:
        summary = "The measured ordering is the reverse of the paper's on every pair."
    else:
        summary = f"The measured ordering agrees with the paper's on {agree} of {len(pairs)} pairs."
    return [summary, "", *lines]


def battle_report(
    experiment: BattleExperiment,
    jobs: Sequence[BattleRunJob],
    summaries: Mapping[str, Mapping[str, Any]],
    outcome: TournamentOutcome | None,
    view: AlgoView | None,
    results: Mapping[str, Any],
    gif: Path | None,
    failures: Sequence[TaskResult],
    executor: str,
    workers: int,
    command: Sequence[str] | None,
) -> str:
    """``report.md`` of the reproduction, written from the measured numbers."""
    battle = experiment.battle()
    episodes = jobs[0].train_config.episodes if jobs else 0
    lines = [
        "# Battle reproduction (MAgent2)",
        "",
        f"Scale `{experiment.scale}`: {battle.n_agents} v {battle.n_agents} on a "
        f"{battle.map_size}×{battle.map_size} map, at most {battle.max_steps} steps per "
        f"episode, {episodes} self-play episodes per run; {experiment.seeds} seed(s) per "
        f"algorithm; tournament of every trained player plus `random` and `attack-nearest`, "
        f"{experiment.rounds} rounds per pair. Ran on {executor} in "
        f"{results['seconds'] / 60:.1f} min. mfmarl {__version__}.",
        "",
    ]
    if experiment.overrides:
        changed = ", ".join(f"{k}={v}" for k, v in experiment.overrides.items())
        lines += [f"Settings changed from the preset: {changed}.", ""]
    if command:
        lines += ["```", " ".join(command), "```", ""]
    paper = BattleExperiment(scale="paper", seeds=experiment.seeds, algos=experiment.algos)
    lines += [
        f"`--scale paper` (64 v 64, 40×40, 2000 episodes, {experiment.seeds} seed(s)): "
        f"{cost_text(paper, workers)}.",
        "",
        "## Training",
        "",
        "| run | episodes | seconds | s/episode | env steps/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for job in jobs:
        s = summaries.get(job.name)
        if s:
            lines.append(
                f"| `{job.name}` | {s.get('episodes')} | {s.get('seconds', math.nan):.1f} | "
                f"{s.get('seconds_per_episode', math.nan):.2f} | "
                f"{s.get('env_steps_per_second', math.nan):.1f} |"
            )
        else:
            lines.append(f"| `{job.name}` | failed | | | |")
    lines += ["", "![learning curves](learning_curves.png)", ""]
    if outcome is None or view is None:
        lines += ["No trained player finished: no tournament.", ""]
        return "\n".join(lines)
    algos = [a for a in experiment.algos if view.players.get(a)]
    lines += [
        "## Ratings",
        "",
        "| algorithm | seeds | rating | 95% interval |",
        "|---|---:|---:|---|",
    ]
    for algo in sorted(algos, key=lambda a: -round(view.rating(a)[0], 9)):
        rating, (low, high) = view.rating(algo)
        lines.append(
            f"| {_name(algo)} | {len(view.players[algo])} | {rating:+.2f} | "
            f"[{low:+.2f}, {high:+.2f}] |"
        )
    for name in BUILTINS:
        i = view.index(name)
        low, high = view.ratings.interval(i)
        lines.append(
            f"| `{name}` | – | {view.ratings.rating[i]:+.2f} | [{low:+.2f}, {high:+.2f}] |"
        )
    lines += [
        "",
        "Bradley–Terry ratings (log-odds of winning a round, mean 0 over all players; ties "
        "half a win each, one virtual tie per pair) fitted to the whole tournament. An "
        "algorithm's rating is the mean of its seeds' ratings; its interval is the 95% "
        "percentile interval of that mean over "
        f"{experiment.resamples} bootstrap replicates (rounds resampled within each pair). "
        "It covers the noise of the games, not the "
        "variation between training seeds beyond the seeds that were run. Every player's "
        "rating: [tournament/report.md](tournament/report.md).",
        "",
        "## Cross-play",
        "",
        "Win rate of the row algorithm against the column, averaged over the seeds' pairs "
        "(the same algorithm: over pairs of different seeds; – with one seed).",
        "",
        "| row beats column | " + " | ".join(_name(a) for a in algos) + " |",
        "|---|" + "---:|" * len(algos),
    ]
    for a in algos:
        cells = []
        for b in algos:
            value = results["cross_play"][a][b]
            cells.append("–" if value is None else f"{value:.2f}")
        lines.append(f"| {_name(a)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Every player against every other (ties in brackets): "
        "![cross-play matrix](tournament/cross_play.png)",
        "",
        "## Against the built-in players",
        "",
        "Win rates pooled over seeds, with 95% Wilson intervals.",
        "",
        "| algorithm | vs random | vs attack-nearest |",
        "|---|---|---|",
    ]
    for algo in algos:
        cells = []
        for builtin in BUILTINS:
            wins, _, rounds = view.pooled(algo, builtin)
            cells.append(_wilson_text(wins, rounds))
        lines.append(f"| {_name(algo)} | " + " | ".join(cells) + " |")
    below = [_name(a) for a in algos if (results["vs_random"].get(a) or 0.0) < BEATS_RANDOM]
    lines += [
        "",
        f"Every trained algorithm beats `random` in ≥ {BEATS_RANDOM:.0%} of rounds: "
        + ("**yes**." if not below else f"**no** ({', '.join(below)} below)."),
        "",
        "## Against the paper's ordering",
        "",
        *ordering_lines(view, algos),
        "",
    ]
    if gif is not None:
        lines += ["## The two best-rated trained players", "", f"![one round]({gif.name})", ""]
    if failures:
        lines += ["## Failed tasks", ""]
        lines += [f"- {f.key}: `{f.error}`" for f in failures]
        lines += ["", "See failures.json for the tracebacks.", ""]
    return "\n".join(lines)


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
    jobs = plan_runs(experiment, out)
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
    seconds = time.perf_counter() - started
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
            "seconds": seconds,
        }
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


def summary_text(results: Mapping[str, Any]) -> str:
    """Per-algorithm rating and win rate vs random, for a terminal."""
    lines = [f"{'algo':<6} {'rating':>7} {'95% interval':>17} {'vs random':>9}"]
    for algo, r in sorted(results["ratings"].items(), key=lambda kv: -kv[1]["rating"]):
        low, high = r["ci95"]
        vs = results["vs_random"].get(algo)
        vs_text = "n/a" if vs is None else f"{vs:.2f}"
        lines.append(
            f"{_name(algo):<6} {r['rating']:>+7.2f} [{low:+7.2f}, {high:+7.2f}] {vs_text:>9}"
        )
    return "\n".join(lines)
