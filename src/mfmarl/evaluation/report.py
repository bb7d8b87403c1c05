"""Markdown reports written from measured numbers (nothing in them is typed in by hand)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfmarl.algorithms.base import ALGORITHM_NAMES

if TYPE_CHECKING:
    from mfmarl.evaluation.gaussian_squeeze import RunJob, SqueezeExperiment

SUCCESS_RATIO = 0.95
"""A run "reaches the optimum" when its final G is at least this fraction of G*."""
LARGE_N = 500
"""The paper's claims about independent learners concern N >= this."""


def _name(algo: str) -> str:
    return ALGORITHM_NAMES.get(algo, algo)


def _ratio_text(row: Mapping[str, Any]) -> str:
    """``0.981 [0.970, 0.992], 3/3 seeds ≥ 0.95`` for one (algo, N) summary row."""
    low, high = row["ratio_ci95"]
    ci = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
    return (
        f"{row['ratio_mean']:.3f}{ci}, {row['seeds_reaching_95']}/{row['seeds']} seeds "
        f"≥ {SUCCESS_RATIO}"
    )


def _verdict(flags: Sequence[bool]) -> str:
    if all(flags):
        return "holds"
    if not any(flags):
        return "does not hold"
    return "holds only in part"


def _reaches_claim(rows: Mapping[tuple[str, int], Any], algo: str, ns: Sequence[int]) -> str:
    tested = [n for n in ns if (algo, n) in rows]
    if not tested:
        return f"- {_name(algo)} reaches ≥ {SUCCESS_RATIO} G* at every N: not tested."
    flags = [rows[(algo, n)]["ratio_mean"] >= SUCCESS_RATIO for n in tested]
    parts = "; ".join(f"N = {n}: {_ratio_text(rows[(algo, n)])}" for n in tested)
    return (
        f"- {_name(algo)} reaches ≥ {SUCCESS_RATIO} G* (mean over seeds) at every N: "
        f"**{_verdict(flags)}** ({parts})."
    )


def _il_claim(rows: Mapping[tuple[str, int], Any], ns: Sequence[int]) -> str:
    large = [n for n in ns if n >= LARGE_N and ("iql", n) in rows]
    if not large:
        return f"- IL fails at large N (N ≥ {LARGE_N}), as the paper reports: not tested."
    flags = [rows[("iql", n)]["ratio_mean"] < SUCCESS_RATIO for n in large]
    parts = []
    for n in large:
        text = f"N = {n}: IL {_ratio_text(rows[('iql', n)])}"
        if ("mfq", n) in rows:
            gap = rows[("mfq", n)]["ratio_mean"] - rows[("iql", n)]["ratio_mean"]
            text += f"; MF-Q − IL = {gap:+.3f}"
        parts.append(text)
    return (
        f"- IL fails (mean G/G* < {SUCCESS_RATIO}) at N ≥ {LARGE_N}, as the paper reports: "
        f"**{_verdict(flags)}** ({'; '.join(parts)})."
    )


def _mf_beats_il_claim(rows: Mapping[tuple[str, int], Any], ns: Sequence[int]) -> str:
    large = [n for n in ns if n >= LARGE_N and ("iql", n) in rows and ("mfq", n) in rows]
    if not large:
        return f"- MF-Q reaches the optimum where IL does not (N ≥ {LARGE_N}): not tested."
    flags = [
        rows[("mfq", n)]["ratio_mean"] >= SUCCESS_RATIO > rows[("iql", n)]["ratio_mean"]
        for n in large
    ]
    parts = "; ".join(
        f"N = {n}: MF-Q {rows[('mfq', n)]['ratio_mean']:.3f} vs IL "
        f"{rows[('iql', n)]['ratio_mean']:.3f}"
        for n in large
    )
    return (
        f"- MF-Q reaches ≥ {SUCCESS_RATIO} G* where IL does not (N ≥ {LARGE_N}), the paper's "
        f"main claim: **{_verdict(flags)}** ({parts})."
    )


def _settings(experiment: SqueezeExperiment, jobs: Sequence[RunJob]) -> list[str]:
    episodes = sorted({job.train_config.episodes for job in jobs})
    return [
        "## Settings",
        "",
        f"- µ = {experiment.mu:g}, σ = {experiment.sigma:g}, D = {experiment.n_actions} actions",
        f"- N ∈ {{{', '.join(str(n) for n in experiment.n_agents)}}}",
        f"- algorithms: {', '.join(_name(a) for a in experiment.algos)}",
        f"- seeds per setting: {experiment.seeds} (0 … {experiment.seeds - 1})",
        f"- scale: {experiment.scale}; episodes per run: {', '.join(map(str, episodes))}",
        f"- overrides: algorithm {dict(experiment.algo_overrides) or 'none'}, "
        f"training {dict(experiment.train_overrides) or 'none'}",
        "- every run's full configuration: `runs/<algo>_n<N>_s<seed>/config.json`",
        "",
    ]


def _optimum_table(results: Mapping[str, Any], ns: Sequence[int]) -> list[str]:
    by_n = {r["n_agents"]: r for r in results["summary"]}
    lines = [
        "## Optimum",
        "",
        f"Unclipped: x* = (µ + √(µ² + 2σ²))/2 = {results['optimum_x']:.3f}, "
        f"G* = G(x*) = {results['optimum_G']:.3f}. When (D−1)·N < x*, the reachable optimum is "
        "x = (D−1)·N.",
        "",
        "| N | x* | G* |",
        "|---:|---:|---:|",
    ]
    for n in ns:
        if n in by_n:
            lines.append(f"| {n} | {by_n[n]['optimum_x']:.3f} | {by_n[n]['optimum_G']:.3f} |")
    return [*lines, ""]


def _results_table(results: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Final G / G*",
        "",
        "Final = mean over the last 10% of episodes of each run. Mean over seeds with a 95% "
        "Student-t interval (none for one seed), median, and min–max over seeds.",
        "",
        "| algorithm | N | seeds | G/G* mean [95% CI] | median | min–max | final x (median) |",
        "|---|---:|---:|---|---:|---|---:|",
    ]
    for r in results["summary"]:
        low, high = r["ratio_ci95"]
        ci = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
        lines.append(
            f"| {_name(r['algo'])} | {r['n_agents']} | {r['seeds']} | "
            f"{r['ratio_mean']:.3f}{ci} | {r['ratio_median']:.3f} | "
            f"{r['ratio_min']:.3f}–{r['ratio_max']:.3f} | {r['final_x_median']:.1f} |"
        )
    return [*lines, ""]


def _comparison(experiment: SqueezeExperiment, results: Mapping[str, Any]) -> list[str]:
    rows = {(r["algo"], r["n_agents"]): r for r in results["summary"]}
    ns = list(experiment.n_agents)
    lines = [
        "## Comparison with the paper",
        "",
        "The paper (Yang et al. 2018, Figure 3) reports that MF-Q and MF-AC reach the optimum "
        "for N = 500 and 1000 where independent learners (IL) do not. Measured here:",
        "",
        _reaches_claim(rows, "mfq", ns),
        _reaches_claim(rows, "mfac", ns),
        _il_claim(rows, ns),
        _mf_beats_il_claim(rows, ns),
    ]
    if "iac" in experiment.algos:
        lines.append(
            "- AC (independent actor-critic, not in the paper's figure): "
            + "; ".join(
                f"N = {n}: {_ratio_text(rows[('iac', n)])}" for n in ns if ("iac", n) in rows
            )
            + "."
        )
    lines += [
        "",
        f"Every algorithm runs with its preset from `mfmarl.training.presets` (scale "
        f"`{experiment.scale}`) and the same overrides; each run's `config.json` shows what "
        f"differs between them. With {experiment.seeds} seed(s) per setting, "
        + (
            "no interval can be given; read the numbers as single runs."
            if experiment.seeds < 2
            else "intervals are 95% Student-t intervals over seeds; where two overlap, the "
            "difference between them is not established."
        ),
        "",
    ]
    return lines


def squeeze_report(
    experiment: SqueezeExperiment,
    jobs: Sequence[RunJob],
    results: Mapping[str, Any],
    plots: Sequence[Path],
) -> str:
    """The Markdown text of ``report.md`` for a Gaussian Squeeze reproduction."""
    lines = [
        "# Gaussian Squeeze: mean field MARL vs independent learners",
        "",
        f"Written by mfmarl {results['version']}. Numbers in `results.json`; learning curves "
        "are seed means of moving averages with a min–max band over seeds.",
        "",
        *_settings(experiment, jobs),
        *_optimum_table(results, experiment.n_agents),
        *_results_table(results),
        *_comparison(experiment, results),
        "## Plots",
        "",
    ]
    for plot in plots:
        name = os.path.basename(plot)
        lines += [f"![{name}]({name})", ""]
    return "\n".join(lines)
