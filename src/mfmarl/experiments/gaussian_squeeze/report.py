"""Markdown reports written from measured numbers (nothing in them is typed in by hand)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfmarl.algorithms.base import ALGORITHM_NAMES

if TYPE_CHECKING:
    from mfmarl.experiments.gaussian_squeeze.reproduce import RunJob, SqueezeExperiment

SUCCESS_RATIO = 0.95
"""A run "reaches the optimum" when its final G is at least this fraction of G*."""
SEED_FLOOR = 0.90
"""The headline bar also asks every seed to reach at least this fraction of G*."""
LARGE_N = 500
"""The paper's claims about independent learners concern N >= this."""


METHOD_NAMES = {**ALGORITHM_NAMES, "mfq-adv": "MF-Q (ā in A)"}
"""Display names of the Gaussian Squeeze methods (the algorithms and ``mfq-adv``)."""
BAR = f"median G/G* ≥ {SUCCESS_RATIO:.2f}, every seed ≥ {SEED_FLOOR:.2f}"


def _name(algo: str) -> str:
    return METHOD_NAMES.get(algo, algo)


def _ratio_text(row: Mapping[str, Any]) -> str:
    """``median 0.981, seeds 0.975 0.981 0.990 (n = 3)`` for one (method, N) summary row."""
    seeds = " ".join(f"{v:.3f}" for v in row.get("ratios", []))
    return f"median {row['ratio_median']:.3f}, seeds {seeds} (n = {row['seeds']})"


def _passes(row: Mapping[str, Any]) -> bool:
    if "passes_bar" in row:
        return bool(row["passes_bar"])
    return row["ratio_median"] >= SUCCESS_RATIO and row["ratio_min"] >= SEED_FLOOR


def _verdict(flags: Sequence[bool]) -> str:
    if all(flags):
        return "holds"
    if not any(flags):
        return "does not hold"
    return "holds only in part"


def _reaches_claim(rows: Mapping[tuple[str, int], Any], algo: str, ns: Sequence[int]) -> str:
    tested = [n for n in ns if (algo, n) in rows]
    if not tested:
        return f"- {_name(algo)} reaches the bar at every N: not tested."
    flags = [_passes(rows[(algo, n)]) for n in tested]
    parts = "; ".join(f"N = {n}: {_ratio_text(rows[(algo, n)])}" for n in tested)
    return f"- {_name(algo)} reaches the bar ({BAR}) at every N: **{_verdict(flags)}** ({parts})."


def _il_claim(rows: Mapping[tuple[str, int], Any], ns: Sequence[int]) -> str:
    large = [n for n in ns if n >= LARGE_N and ("iql", n) in rows]
    if not large:
        return f"- IL fails at large N (N ≥ {LARGE_N}), as the paper reports: not tested."
    flags = [not _passes(rows[("iql", n)]) for n in large]
    parts = []
    for n in large:
        text = f"N = {n}: IL {_ratio_text(rows[('iql', n)])}"
        if ("mfq", n) in rows:
            gap = rows[("mfq", n)]["ratio_median"] - rows[("iql", n)]["ratio_median"]
            text += f"; median MF-Q − IL = {gap:+.3f}"
        parts.append(text)
    return (
        f"- IL fails (misses the bar) at N ≥ {LARGE_N}, as the paper reports: "
        f"**{_verdict(flags)}** ({'; '.join(parts)})."
    )


def _mf_beats_il_claim(rows: Mapping[tuple[str, int], Any], ns: Sequence[int]) -> str:
    large = [n for n in ns if n >= LARGE_N and ("iql", n) in rows and ("mfq", n) in rows]
    if not large:
        return f"- MF-Q reaches the optimum where IL does not (N ≥ {LARGE_N}): not tested."
    flags = [_passes(rows[("mfq", n)]) and not _passes(rows[("iql", n)]) for n in large]
    parts = "; ".join(
        f"N = {n}: median MF-Q {rows[('mfq', n)]['ratio_median']:.3f} vs IL "
        f"{rows[('iql', n)]['ratio_median']:.3f}"
        for n in large
    )
    return (
        f"- MF-Q reaches the bar where IL does not (N ≥ {LARGE_N}), the paper's main claim: "
        f"**{_verdict(flags)}** ({parts})."
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
        "Final = mean over the last 10% of episodes of each run. Every seed is listed; the bar "
        f"is {BAR}. The mean's 95% Student-t interval over seeds is given for two seeds or "
        "more (with three seeds it is wide: read the seeds themselves).",
        "",
        "| method | N | seeds (n) | every seed's G/G* | median | mean [95% CI] | final x "
        "(median) | bar |",
        "|---|---:|---:|---|---:|---|---:|---|",
    ]
    for r in results["summary"]:
        low, high = r["ratio_ci95"]
        ci = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
        seeds = " ".join(f"{v:.3f}" for v in r.get("ratios", []))
        lines.append(
            f"| {_name(r['algo'])} | {r['n_agents']} | {r['seeds']} | {seeds} | "
            f"{r['ratio_median']:.3f} | {r['ratio_mean']:.3f}{ci} | "
            f"{r['final_x_median']:.1f} | {'pass' if _passes(r) else 'FAIL'} |"
        )
    return [*lines, ""]


def _forms(experiment: SqueezeExperiment, rows: Mapping[tuple[str, int], Any]) -> list[str]:
    """Which MF-Q the headline uses, and the paper's form beside it."""
    ns = list(experiment.n_agents)
    lines = [
        "## Which MF-Q",
        "",
        "The headline MF-Q (`mfq`) feeds ā to the value stream of a dueling Q only: "
        "Q_j(a, ā) = V_j(ā) + A_j(a). Fitted at the realised ā, V_j(ā) absorbs the reward "
        "change the other agents cause (a control variate), so A_j(a) is estimated with "
        "little noise. The price: the policy softmax(β·Q_j(·, ā)) = softmax(β·A_j) does not "
        "depend on ā, so this MF-Q and IL differ only in that baseline V_j(ā), not in how "
        "they act. The paper's form (`mfq-adv`, MF-Q (ā in A)) feeds ā to the advantage too, "
        "so each agent's policy is a function of the ā it sees.",
        "",
    ]
    if any(("mfq-adv", n) in rows for n in ns):
        lines.append(_reaches_claim(rows, "mfq-adv", ns))
    else:
        lines.append("- MF-Q (ā in A): not run in this reproduction (`--algos mfq-adv`).")
    return [*lines, ""]


def _comparison(experiment: SqueezeExperiment, results: Mapping[str, Any]) -> list[str]:
    rows = {(r["algo"], r["n_agents"]): r for r in results["summary"]}
    ns = list(experiment.n_agents)
    lines = [
        "## Comparison with the paper",
        "",
        "The paper (Yang et al. 2018, Figure 3) reports that MF-Q and MF-AC reach the optimum "
        "for N = 500 and 1000 where independent learners (IL) do not. Measured here, with "
        f"the bar {BAR}:",
        "",
        _reaches_claim(rows, "mfq", ns),
        _reaches_claim(rows, "mfac", ns),
        _il_claim(rows, ns),
        _mf_beats_il_claim(rows, ns),
    ]
    if "iac" in experiment.algos:
        lines.append(
            _reaches_claim(rows, "iac", ns).replace(
                "- AC", "- AC (independent actor-critic, not in the paper's figure)", 1
            )
        )
    lines += [
        "",
        "Every method runs with the same preset from "
        f"`mfmarl.experiments.gaussian_squeeze.preset` (scale `{experiment.scale}`: per-agent "
        "tables, initial policy, reward normalisation, replay, exploration ε = 1/N, and a "
        "policy step that falls as 1/N: the acting copy's rate 0.3/N for Q-learners, the "
        "actor's learning rate 1000/N for actor-critics) and the same overrides; each "
        "run's `config.json` shows what differs between them (only what defines the method). "
        f"With {experiment.seeds} seed(s) per setting, "
        + (
            "no interval can be given; read the numbers as single runs."
            if experiment.seeds < 2
            else "each seed is listed: where the seeds of two methods overlap, the difference "
            "between them is not established."
        ),
        "",
    ]
    return [*lines, *_forms(experiment, rows)]


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
