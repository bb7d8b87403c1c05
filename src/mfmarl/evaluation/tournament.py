"""Round-robin tournaments of players (``mfmarl tournament``), on any two-sided arena.

Every pair of players plays one :func:`~mfmarl.evaluation.matches.play_match` of ``rounds``
rounds with the tournament's seed, so a pair's numbers are exactly those of
``mfmarl battle A B --rounds R --seed S`` (sides swapped every other round; a round is won by
the side with more kills, a tie is neither). Each pair is one task of an executor (local
processes or Ray) and writes its match to ``OUT/matches/<i>-<j>.json``; the tournament is
assembled from those files.

Output layout::

    OUT/config.json              players, arena, rounds, seed, command
    OUT/matches/<i>-<j>.json     one pair: ``mfmarl battle``'s results.json + kills per round
    OUT/results.json             players, rounds, win_rate, ties, ratings (the contract below)
    OUT/cross_play.png           the matrix as a heatmap (colour: win rate + ties / 2)
    OUT/report.md                ranking table, cross-play matrix, method
    OUT/failures.json            only when some pair failed: its error and traceback

``results.json``: ``{"players": [...], "rounds": R, "win_rate": [[...]], "ties": [[...]],
"ratings": {"<player>": {"rating": x, "ci95": [lo, hi]}}}`` with ``win_rate[i][j]`` player i's
win rate against j and ``ties[i][j]`` the tied fraction, so ``win_rate[i][j] +
win_rate[j][i] + ties[i][j] = 1``. The diagonal is ``null`` (a player does not play itself),
as are the entries of a pair whose match failed. Ratings: Bradley–Terry, see
:mod:`mfmarl.evaluation.ratings`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mfmarl import __version__
from mfmarl.core.errors import require
from mfmarl.evaluation.matches import Arena, play_match
from mfmarl.evaluation.players import load_player
from mfmarl.evaluation.ratings import (
    DEFAULT_RESAMPLES,
    DEFAULT_VIRTUAL_TIES,
    Ratings,
    rate,
)
from mfmarl.evaluation.stats import wilson_interval
from mfmarl.parallel.executor import Executor, OnDone, StopCheck, Task, TaskResult
from mfmarl.training.rundir import (
    EXPERIMENT_OUTPUTS,
    read_json,
    write_config,
    write_json_atomic,
    write_text_atomic,
)

TOURNAMENT_OUTPUTS: tuple[str, ...] = (*EXPERIMENT_OUTPUTS, "matches", "failures.json")
"""What a tournament writes into its directory (cleared by ``--force``)."""


# -- players and their arena ----------------------------------------------------------------------
def check_names(names: Sequence[str]) -> None:
    """At least two players, none named twice."""
    require(len(names) >= 2, f"a tournament needs at least 2 players, got {len(names)}")
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    require(not repeated, f"players repeat: {', '.join(repeated)}")


# -- the matches ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchJob:
    """One pair's match (picklable: a task of an executor)."""

    first: int
    second: int
    specs: tuple[str, str]
    names: tuple[str, str]
    arena: Arena
    rounds: int
    seed: int
    path: str
    """Where the match's JSON is written."""

    @property
    def key(self) -> str:
        return f"{self.names[0]} vs {self.names[1]}"


def match_path(out: Path, first: int, second: int) -> Path:
    return out / "matches" / f"{first:02d}-{second:02d}.json"


def play_pair(
    job: MatchJob, resume: bool = False, should_stop: StopCheck | None = None
) -> dict[str, Any]:
    """Load both players, play the match, write it to ``job.path`` and return it: the dict
    of ``mfmarl battle``'s results.json plus ``round_kills``, the kills (A, B) per round.
    ``resume``: a match already written in full is kept. A match stopped by
    ``should_stop`` is not written, and :class:`KeyboardInterrupt` is raised."""
    import torch  # noqa: F401  (torch before magent2)

    if resume:
        done = _finished_match(job)
        if done is not None:
            return done
    players = (load_player(job.specs[0]), load_player(job.specs[1]))
    results = play_match(job.arena, players, job.names, job.rounds, job.seed, None, should_stop)
    if results["interrupted"]:
        raise KeyboardInterrupt
    write_json_atomic(job.path, results)
    return results


def _finished_match(job: MatchJob) -> dict[str, Any] | None:
    """The match at ``job.path`` if it was written in full for these players, else None."""
    try:
        data = read_json(job.path)
    except (OSError, ValueError):
        return None
    complete = (
        isinstance(data, dict)
        and data.get("players") == list(job.names)
        and data.get("rounds") == job.rounds
        and not data.get("interrupted")
    )
    return data if complete else None


def plan_matches(
    specs: Sequence[str],
    names: Sequence[str],
    arena: Arena,
    rounds: int,
    seed: int,
    out: Path,
) -> list[MatchJob]:
    """Every pair ``i < j``, each seeded ``seed`` (so it equals ``mfmarl battle``)."""
    require(rounds >= 1, f"rounds={rounds} must be >= 1")
    return [
        MatchJob(
            i,
            j,
            (specs[i], specs[j]),
            (names[i], names[j]),
            arena,
            rounds,
            seed,
            str(match_path(out, i, j)),
        )
        for i in range(len(specs))
        for j in range(i + 1, len(specs))
    ]


def match_tasks(jobs: Sequence[MatchJob], resume: bool = False) -> list[Task]:
    return [Task(job.key, play_pair, (job, resume), stoppable=True) for job in jobs]


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tournament:
    """Counts of a finished tournament: ``wins[i, j]`` rounds i won against j, ``ties[i, j]``
    tied rounds, ``rounds[i, j]`` rounds played (0: not played)."""

    names: tuple[str, ...]
    wins: np.ndarray
    ties: np.ndarray
    rounds: np.ndarray

    @classmethod
    def from_matches(
        cls, names: Sequence[str], matches: Mapping[tuple[int, int], Mapping[str, Any]]
    ) -> Tournament:
        p = len(names)
        wins, ties, rounds = np.zeros((p, p)), np.zeros((p, p)), np.zeros((p, p))
        for (i, j), match in matches.items():
            wins[i, j], wins[j, i] = match["wins"]
            ties[i, j] = ties[j, i] = match["ties"]
            rounds[i, j] = rounds[j, i] = match["rounds"]
        return cls(tuple(names), wins, ties, rounds)

    def win_rate(self) -> np.ndarray:
        """``(P, P)`` win rates, ``nan`` where not played (and on the diagonal)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.rounds > 0, self.wins / self.rounds, np.nan)

    def tie_rate(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.rounds > 0, self.ties / self.rounds, np.nan)

    def played(self) -> np.ndarray:
        """``(P,)``: whether each player played at least one round."""
        return self.rounds.sum(axis=1) > 0


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[float(v) if math.isfinite(v) else None for v in row] for row in values]


def rate_tournament(
    tournament: Tournament, seed: int, resamples: int = DEFAULT_RESAMPLES
) -> Ratings:
    """Bradley–Terry ratings of the players (ties half a win each, one virtual tie per
    pair) with bootstrap replicates over rounds resampled within each pair."""
    return rate(tournament.wins, tournament.ties, DEFAULT_VIRTUAL_TIES, resamples, seed)


def ratings_dict(
    names: Sequence[str], ratings: Ratings, played: np.ndarray
) -> dict[str, dict[str, Any]]:
    """``{name: {"rating": x, "ci95": [lo, hi]}}``; ``null`` for a player with no rounds."""
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        if played[i]:
            low, high = ratings.interval(i)
            out[name] = {"rating": float(ratings.rating[i]), "ci95": [low, high]}
        else:
            out[name] = {"rating": None, "ci95": [None, None]}
    return out


def results_dict(tournament: Tournament, rounds: int, ratings: Ratings) -> dict[str, Any]:
    """The content of ``results.json`` (the contract in the module docstring)."""
    return {
        "players": list(tournament.names),
        "rounds": rounds,
        "win_rate": _matrix(tournament.win_rate()),
        "ties": _matrix(tournament.tie_rate()),
        "ratings": ratings_dict(tournament.names, ratings, tournament.played()),
    }


def short_label(name: str, width: int = 24) -> str:
    """A path's last component (``runs/mfq_s0`` -> ``mfq_s0``), cut to ``width``."""
    label = (Path(name).name or name) if ("/" in name or "\\" in name) else name
    return label if len(label) <= width else label[: width - 1] + "…"


def plot_cross_play(path: Path, tournament: Tournament) -> Path:
    """Heatmap of the row's score against the column (win rate + half the ties, so an
    all-tie pair is neutral), annotated with the win rate and the tie fraction."""
    rate_ = tournament.win_rate()
    ties = tournament.tie_rate()
    score = rate_ + ties / 2
    p = len(tournament.names)
    labels = [short_label(n) for n in tournament.names]
    size = 1.2 + 0.9 * p
    fig = Figure(figsize=(size + 1.5, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(score), vmin=0.0, vmax=1.0, cmap="RdBu")
    for i in range(p):
        for j in range(p):
            if math.isfinite(rate_[i, j]):
                colour = "white" if abs(score[i, j] - 0.5) > 0.3 else "black"
                text = f"win {rate_[i, j]:.2f}\nties {ties[i, j]:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
            elif i == j:
                ax.text(j, i, "-", ha="center", va="center", fontsize=8, color="grey")
    ax.set_xticks(range(p), labels, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(p), labels, fontsize=8)
    ax.set_xlabel("opponent (column)")
    ax.set_ylabel("player (row)")
    rounds = int(tournament.rounds.max()) if tournament.rounds.size else 0
    ax.set_title(
        f"Row against column, {rounds} rounds per pair (colour: win rate + ties / 2)", fontsize=9
    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="score: win rate + ties / 2")
    fig.savefig(path, dpi=110)
    return path


def ranking_rows(
    tournament: Tournament, ratings: Ratings
) -> list[tuple[int, str, float, float, float, float]]:
    """``(rank, name, rating, low, high, win rate over all its rounds)``, best first."""
    order = np.argsort(-ratings.rating, kind="stable")
    rows = []
    for rank, i in enumerate(order, start=1):
        if not tournament.played()[i]:
            continue
        low, high = ratings.interval(int(i))
        total = tournament.rounds[i].sum()
        overall = float(tournament.wins[i].sum() / total)
        rows.append((rank, tournament.names[i], float(ratings.rating[i]), low, high, overall))
    return rows


def ranking_table(tournament: Tournament, ratings: Ratings) -> str:
    """Markdown table: rank, player, rating with 95% interval, win rate (Wilson)."""
    lines = [
        "| rank | player | rating | 95% interval | wins / rounds | win rate (95% Wilson) |",
        "|---:|---|---:|---|---:|---|",
    ]
    for rank, name, rating, low, high, _ in ranking_rows(tournament, ratings):
        i = tournament.names.index(name)
        wins, total = int(tournament.wins[i].sum()), int(tournament.rounds[i].sum())
        w = wilson_interval(wins, total)
        lines.append(
            f"| {rank} | `{name}` | {rating:+.2f} | [{low:+.2f}, {high:+.2f}] | "
            f"{wins} / {total} | {w.estimate:.2f} [{w.low:.2f}, {w.high:.2f}] |"
        )
    return "\n".join(lines)


def matrix_table(tournament: Tournament) -> str:
    """Markdown cross-play table: win rate of the row against the column (ties)."""
    labels = [short_label(n) for n in tournament.names]
    rate_, ties = tournament.win_rate(), tournament.tie_rate()
    lines = [
        "| row beats column | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for i, label in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            if i == j:
                cells.append("–")
            elif math.isfinite(rate_[i, j]):
                cells.append(f"{rate_[i, j]:.2f} ({ties[i, j]:.2f})")
            else:
                cells.append("failed")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


METHOD_NOTE = (
    "Ratings: Bradley–Terry, fitted by maximum likelihood. Player i beats j in a round with "
    "probability σ(r_i − r_j) (σ the logistic function), so ratings are log-odds, centred to "
    "mean 0; ×173.7 (= 400 / ln 10) gives an Elo-like scale. A tied round counts as half a "
    "win for each side, and every pair gets one virtual tied round (half a win each way) so "
    "that a player who wins every round keeps a finite rating. Intervals: 95% percentile "
    "bootstrap, {resamples} resamples of the rounds within each pair (seeded). The win-rate "
    "diagonal is null: players do not play themselves."
)


def arena_text(arena: Arena) -> str:
    """``battle (map_size=24, max_steps=200): red v blue`` for reports."""
    kwargs = ", ".join(f"{k}={v}" for k, v in sorted(dict(arena.env.kwargs).items()))
    name = arena.env.factory.rsplit(":", 1)[-1]
    sides = " v ".join("+".join(side) for side in arena.sides)
    return f"`{name}({kwargs})`, sides {sides}"


def tournament_report(
    tournament: Tournament,
    ratings: Ratings,
    arena: Arena,
    rounds: int,
    seed: int,
    resamples: int,
    failures: Sequence[TaskResult],
    command: Sequence[str] | None,
) -> str:
    """``report.md`` of a tournament."""
    lines = [
        "# Tournament",
        "",
        f"{len(tournament.names)} players, every pair {rounds} rounds in {arena_text(arena)}; "
        f"round r seeded {seed} + r, sides swapped every other "
        "round; a round is won by the side with more kills (a tie is neither). Each pair's "
        "numbers equal `mfmarl battle A B --rounds "
        f"{rounds} --seed {seed}`. mfmarl {__version__}.",
        "",
    ]
    if command:
        lines += ["```", " ".join(command), "```", ""]
    lines += [
        "## Ranking",
        "",
        ranking_table(tournament, ratings),
        "",
        METHOD_NOTE.format(resamples=resamples),
        "",
        "## Cross-play",
        "",
        "Win rate of the row player against the column player (tied fraction in brackets).",
        "",
        matrix_table(tournament),
        "",
        "![cross-play matrix](cross_play.png)",
        "",
    ]
    if failures:
        lines += ["## Failed matches", ""]
        lines += [f"- {f.key}: `{f.error}`" for f in failures]
        lines += ["", "Their entries are null in results.json; see failures.json.", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class TournamentOutcome:
    """What :func:`run_tournament` wrote, in memory."""

    results: dict[str, Any]
    tournament: Tournament
    ratings: Ratings
    failures: list[TaskResult]


def write_failures(out: Path, failures: Sequence[TaskResult], name: str = "failures.json") -> None:
    """``[{"task", "error", "traceback"}]`` of the failed tasks (nothing when none failed)."""
    if failures:
        records = [{"task": f.key, "error": f.error, "traceback": f.traceback} for f in failures]
        write_json_atomic(out / name, records)


def run_tournament(
    specs: Sequence[str],
    arena: Arena,
    rounds: int,
    seed: int,
    out: Path,
    executor: Executor,
    names: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    on_done: OnDone | None = None,
    should_stop: StopCheck | None = None,
    command: Sequence[str] | None = None,
    resume: bool = False,
) -> TournamentOutcome:
    """Play every pair into ``out`` (which must exist) and write results.json,
    cross_play.png, report.md (and failures.json). Players must have been checked
    (:func:`check_players`). ``resume``: continue an earlier tournament with the same
    settings there, playing only the matches it had not finished."""
    names = list(names if names is not None else specs)
    jobs = plan_matches(specs, names, arena, rounds, seed, out)
    write_config(
        out / "config.json",
        {
            "experiment": "tournament",
            "players": names,
            "specs": list(specs),
            "arena": arena.to_dict(),
            "rounds": rounds,
            "seed": seed,
            "resamples": resamples,
            "executor": executor.description,
            "mfmarl_version": __version__,
            "command": list(command) if command is not None else None,
        },
        resume,
    )
    (out / "matches").mkdir(exist_ok=True)
    results = executor.map(match_tasks(jobs, resume), on_done, should_stop)
    # the matches travel as files (on a cluster: through the shared output directory)
    matches = {
        (job.first, job.second): read_json(job.path) for job, r in zip(jobs, results) if r.ok
    }
    failures = [r for r in results if not r.ok]
    tournament = Tournament.from_matches(names, matches)
    ratings = rate_tournament(tournament, seed, resamples)
    data = results_dict(tournament, rounds, ratings)
    write_json_atomic(out / "results.json", data)
    write_failures(out, failures)
    plot_cross_play(out / "cross_play.png", tournament)
    report = tournament_report(
        tournament, ratings, arena, rounds, seed, resamples, failures, command
    )
    write_text_atomic(out / "report.md", report)
    return TournamentOutcome(data, tournament, ratings, failures)


def summary_text(outcome: TournamentOutcome) -> str:
    """The ranking as plain text for a terminal."""
    lines = [f"{'rank':>4}  {'rating':>7}  {'95% interval':>17}  {'win rate':>8}  player"]
    for rank, name, rating, low, high, overall in ranking_rows(outcome.tournament, outcome.ratings):
        lines.append(
            f"{rank:>4}  {rating:>+7.2f}  [{low:+7.2f}, {high:+7.2f}]  {overall:>8.2f}  {name}"
        )
    return "\n".join(lines)
