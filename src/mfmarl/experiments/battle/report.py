"""The Battle reproduction's results: per-algorithm ratings and win rates over seeds
(:class:`AlgoView`), the paper's pairwise claims against them, ``results.json``, the learning
curves and ``report.md``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mfmarl import __version__
from mfmarl.algorithms.base import ALGORITHM_NAMES
from mfmarl.core.errors import ConfigError
from mfmarl.evaluation.plots import Panel, plot_learning_curves
from mfmarl.evaluation.ratings import Ratings, percentile_interval
from mfmarl.evaluation.stats import wilson_interval
from mfmarl.evaluation.tournament import (
    Tournament,
    TournamentOutcome,
)
from mfmarl.experiments.battle.env import BattleConfig
from mfmarl.experiments.battle.plan import BUILTINS, EXPERIMENT, BattleExperiment, cost_text
from mfmarl.experiments.battle.runs import (
    BattleRunJob,
)
from mfmarl.parallel.executor import TaskResult
from mfmarl.training.logger import read_metrics
from mfmarl.training.run import read_run_record

PAPER_ORDER = ("mfq", "iql", "mfac", "iac")
"""The paper's ranking: MF-Q > IL > MF-AC > AC."""
EQUAL = 1e-9
"""Rating differences below this are rounding noise (equal ratings)."""
BEATS_RANDOM = 0.8
"""The issue's bar: every trained algorithm beats random in at least this share of rounds."""


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


def paper_claims(view: AlgoView, algos: Sequence[str]) -> list[dict[str, Any]]:
    """The paper's pairwise claims "a > b" (MF-Q > IL > MF-AC > AC, every pair of the trained
    algorithms) against the measurement: the rating difference with its bootstrap interval,
    the verdict, and the head-to-head rounds with a Wilson interval."""
    present = [a for a in PAPER_ORDER if a in algos]
    claims = []
    for i, a in enumerate(present):
        for b in present[i + 1 :]:
            diff, (low, high) = view.difference(a, b)
            wins, losses, rounds = view.pooled(a, b)
            resolved = low > EQUAL or high < -EQUAL
            wilson = wilson_interval(wins, rounds) if rounds else None
            claims.append(
                {
                    "claim": f"{a} > {b}",
                    "better": a,
                    "worse": b,
                    "rating_difference": diff,
                    "ci95": [low, high],
                    "resolved": resolved,
                    "verdict": pair_verdict(diff, resolved),
                    "head_to_head": {
                        "wins": wins,
                        "losses": losses,
                        "rounds": rounds,
                        "win_rate_wilson95": None
                        if wilson is None
                        else [wilson.estimate, wilson.low, wilson.high],
                    },
                }
            )
    return claims


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
        "vs_attack_nearest": {a: view.win_rate(a, "attack-nearest") for a in algos},
        "paper_claims": paper_claims(view, algos),
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


def algorithm_name(algo: str) -> str:
    """The paper's name of ``algo`` (``iql`` -> IL)."""
    return ALGORITHM_NAMES.get(algo, algo)


def _wilson_text(wins: int, rounds: int) -> str:
    if rounds == 0:
        return "not played"
    w = wilson_interval(wins, rounds)
    return f"{w.estimate:.2f} [{w.low:.2f}, {w.high:.2f}] ({wins}/{rounds})"


def pair_verdict(diff: float, resolved: bool) -> str:
    """The paper's claim "a > b" against a measured rating difference ``a − b``: holds or
    reversed when the interval excludes 0, else the direction it leans, not resolved."""
    if resolved:
        return "holds" if diff > 0 else "reversed"
    if abs(diff) <= EQUAL:
        return "equal ratings, not resolved"
    return f"{'same' if diff > 0 else 'opposite'} direction, not resolved"


def ordering_lines(view: AlgoView, algos: Sequence[str]) -> list[str]:
    """The paper's ordering MF-Q > IL > MF-AC > AC against the measured ratings."""
    present = [a for a in PAPER_ORDER if a in algos]
    if len(present) < 2:
        return ["Fewer than two of the paper's algorithms were trained: no ordering to compare."]
    measured = sorted(present, key=lambda a: -round(view.rating(a)[0], 9))
    paper = " > ".join(algorithm_name(a) for a in present)
    lines = [
        f"- Paper: {paper}. Measured (by rating): "
        + " > ".join(algorithm_name(a) for a in measured)
        + ".",
    ]
    claims = paper_claims(view, algos)
    for c in claims:
        a, b, (low, high) = c["better"], c["worse"], c["ci95"]
        h2h = c["head_to_head"]
        certainty = "excludes" if c["resolved"] else "includes"
        lines.append(
            f"- {algorithm_name(a)} > {algorithm_name(b)}: **{c['verdict']}** (rating difference "
            f"{c['rating_difference']:+.2f} [{low:+.2f}, {high:+.2f}], the 95% interval of the "
            f"difference {certainty} 0; head-to-head {algorithm_name(a)} wins "
            f"{_wilson_text(h2h['wins'], h2h['rounds'])}, loses {h2h['losses']}, ties "
            f"{h2h['rounds'] - h2h['wins'] - h2h['losses']})."
        )
    agree = sum(c["rating_difference"] > EQUAL for c in claims)
    held = sum(c["verdict"] == "holds" for c in claims)
    if agree == len(claims):
        summary = "The measured ordering agrees with the paper's on every pair"
    elif agree == 0:
        summary = "The measured ordering is the reverse of the paper's on every pair"
    else:
        summary = f"The measured ordering agrees with the paper's on {agree} of {len(claims)} pairs"
    summary += (
        f"; {held} of {len(claims)} of the paper's claims hold with 95% intervals excluding 0."
    )
    return [summary, "", *lines]


def run_arithmetic(job: BattleRunJob) -> str:
    """How ``job`` computed, from its ``config.json``: ``"bf16 (auto), 1 thread"``; the
    configured precision where the record is missing or unreadable."""
    precision: str = job.algo_config.precision
    try:
        record = read_run_record(job.out_dir)
    except ConfigError:
        return precision
    if precision == "auto" and record.auto_precision is not None:
        precision = f"{record.auto_precision} (auto)"
    threads = record.torch_threads
    if threads is None:
        return precision
    return f"{precision}, {threads} thread{'s' if threads > 1 else ''}"


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
        f"{results['seconds'] / 60:.1f} min"
        + (
            " over its sessions (resumed; a session killed before the end counts 0)"
            if results.get("resumed")
            else ""
        )
        + f". mfmarl {__version__}.",
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
        "| run | episodes | steps/episode | seconds | s/episode | env steps/s | arithmetic |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for job in jobs:
        s = summaries.get(job.name)
        if s:
            episodes_run = s.get("episodes") or 0
            length = s.get("env_steps", math.nan) / episodes_run if episodes_run else math.nan
            lines.append(
                f"| `{job.name}` | {episodes_run} | {length:.0f} | "
                f"{s.get('seconds', math.nan):.1f} | "
                f"{s.get('seconds_per_episode', math.nan):.2f} | "
                f"{s.get('env_steps_per_second', math.nan):.1f} | {run_arithmetic(job)} |"
            )
        else:
            lines.append(f"| `{job.name}` | failed | | | | | |")
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
            f"| {algorithm_name(algo)} | {len(view.players[algo])} | {rating:+.2f} | "
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
        "| row beats column | " + " | ".join(algorithm_name(a) for a in algos) + " |",
        "|---|" + "---:|" * len(algos),
    ]
    for a in algos:
        cells = []
        for b in algos:
            value = results["cross_play"][a][b]
            cells.append("–" if value is None else f"{value:.2f}")
        lines.append(f"| {algorithm_name(a)} | " + " | ".join(cells) + " |")
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
        lines.append(f"| {algorithm_name(algo)} | " + " | ".join(cells) + " |")
    below = [
        algorithm_name(a) for a in algos if (results["vs_random"].get(a) or 0.0) < BEATS_RANDOM
    ]
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
