"""The Ising reproduction's plots and ``report.md``, written from the measured numbers
(``results.json``) and the jobs' arrays; the bounds of the checks against the paper."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from mfmarl.evaluation.stats import moving_average
from mfmarl.experiments.ising.env import onsager_magnetisation

if TYPE_CHECKING:
    from mfmarl.experiments.ising.reproduce import IsingExperiment, JobResult

# What the paper's Ising claim means here (issue 5): for λ = 1, both Tc in [1.05, 1.35] and
# within 0.1 of each other, and ξ(T) of MF-Q and MCMC within 0.05 on average. Tc ∝ λ, so the
# Tc range and the Tc tolerance are multiplied by λ; ξ is dimensionless and its bound is not.
MAX_MEAN_ABS_DIFF = 0.05
MAX_TC_DIFF = 0.1
TC_RANGE = (1.05, 1.35)
ONSAGER_CHECK_FRACTION = 0.9
"""MCMC is compared with Onsager's M(T) at grid temperatures below this fraction of Tc
(closer to Tc the finite lattice's ξ departs from the infinite one)."""
ONSAGER_TOLERANCE = 0.03


# -- plots ------------------------------------------------------------------------------------
def _nearest(temps: np.ndarray, target: float) -> int:
    return int(np.argmin(np.abs(temps - target)))


def _plot_order_parameter(out: Path, experiment: IsingExperiment, res: Mapping[str, Any]) -> Path:
    temps = np.asarray(res["temperatures"])
    fig = Figure(figsize=(7.0, 4.6), layout="constrained")
    ax = fig.subplots()
    for key, label, style in (
        ("mfq", "MF-Q (tabular)", "o-"),
        ("mcmc", "Metropolis MCMC", "s--"),
    ):
        mean = np.asarray(res[key]["order_parameter"])
        std = np.asarray(res[key]["order_parameter_std"])
        line = ax.plot(temps, mean, style, markersize=4, label=label)[0]
        ax.fill_between(temps, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax.plot(
        temps,
        res["mcmc"]["random_start"]["order_parameter"],
        "x:",
        markersize=4,
        color="grey",
        label="MCMC, random start",
    )
    ax.plot(
        temps,
        res["mfq"]["no_warmup"]["order_parameter"],
        "+:",
        markersize=5,
        color="tab:red",
        label="MF-Q without warm-up",
    )
    tc = res["onsager"]["tc"]
    if experiment.field == 0:
        dense = np.linspace(temps.min(), temps.max(), 400)
        exact = [onsager_magnetisation(t, experiment.coupling) for t in dense]
        ax.plot(dense, exact, "k-", linewidth=1.0, label="Onsager (infinite lattice)")
    ax.axvline(tc, color="black", linewidth=0.8, linestyle=":")
    for key, color in (("mfq", "tab:blue"), ("mcmc", "tab:orange")):
        ax.axvline(res["tc"][key], color=color, linewidth=0.8, linestyle="-.")
    ax.set_xlabel("temperature T")
    ax.set_ylabel("ξ = |N↑ − N↓| / N")
    ax.set_title(
        f"Ising {experiment.lattice}×{experiment.lattice}, λ = {experiment.coupling:g}, "
        f"h = {experiment.field:g}: Tc MF-Q {res['tc']['mfq']:.3f}, "
        f"MCMC {res['tc']['mcmc']:.3f}, Onsager {tc:.3f}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = out / "order_parameter.png"
    fig.savefig(path, dpi=110)
    return path


def _plot_susceptibility(out: Path, res: Mapping[str, Any]) -> Path:
    temps = np.asarray(res["temperatures"])
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for key, label, color in (("mfq", "MF-Q", "tab:blue"), ("mcmc", "MCMC", "tab:orange")):
        ax.plot(temps, res[key]["susceptibility"], "o-", markersize=3, label=label, color=color)
        ax.axvline(res["tc"][key], color=color, linestyle="-.", linewidth=0.8)
    ax.axvline(res["onsager"]["tc"], color="black", linestyle=":", linewidth=0.8)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("χ = N(<m²> − <|m|>²)/T")
    ax.set_title("Susceptibility; vertical lines: Tc estimates (dash-dot), Onsager (dotted)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = out / "susceptibility.png"
    fig.savefig(path, dpi=110)
    return path


def _plot_snapshots(
    out: Path, experiment: IsingExperiment, results: Sequence[JobResult], tc: float
) -> Path:
    temps = experiment.grid
    picks = sorted({_nearest(temps, f * tc) for f in (0.8, 1.0, 1.5)})
    rows = [
        (r.job.method, r.spins)
        for r in results
        if r.job.seed == 0
        and (r.job.method, r.job.variant) in {("mfq", "main"), ("mcmc", "ordered")}
    ]
    fig = Figure(figsize=(2.6 * len(picks), 2.8 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), len(picks), squeeze=False)
    size = experiment.lattice
    for r, (method, spins) in enumerate(rows):
        for c, i in enumerate(picks):
            ax = axes[r][c]
            ax.imshow(spins[i].reshape(size, size), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            name = "MF-Q" if method == "mfq" else "MCMC"
            ax.set_title(f"{name}, T = {temps[i]:.2f}", fontsize=9)
    fig.suptitle(f"Final lattices, seed 0 (white: up); Tc estimate {tc:.3f}", fontsize=9)
    path = out / "snapshots.png"
    fig.savefig(path, dpi=110)
    return path


def _plot_training(
    out: Path, experiment: IsingExperiment, results: Sequence[JobResult], tc: float
) -> Path:
    temps = experiment.grid
    picks = sorted({_nearest(temps, f * tc) for f in (0.7, 0.95, 1.1, 1.5)})
    run = next(r for r in results if r.job.method == "mfq" and r.job.variant == "main")
    assert run.trace is not None
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    window = max(1, run.trace.shape[0] // 100)
    for i in picks:
        xi = np.abs(run.trace[:, i])
        ax.plot(moving_average(xi, window), linewidth=1.0, label=f"T = {temps[i]:.2f}")
    measure = run.job.mfq.measure_sweeps if run.job.mfq else 0
    ax.axvline(run.trace.shape[0] - measure, color="black", linestyle=":", linewidth=0.8)
    ax.set_xlabel("sweep at T (after the warm-up); dotted: start of the measurement")
    ax.set_ylabel(f"ξ (moving average over {window} sweeps)")
    ax.set_title("MF-Q ξ over training, seed 0", fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = out / "training.png"
    fig.savefig(path, dpi=110)
    return path


def ising_plots(
    out: Path, experiment: IsingExperiment, res: Mapping[str, Any], results: Sequence[JobResult]
) -> list[Path]:
    """Write the four PNGs into ``out``; the snapshots and training curves are taken around
    MF-Q's Tc estimate (Onsager's Tc when MF-Q's χ has no peak inside the grid)."""
    tc = res["tc"]["mfq"] if math.isfinite(res["tc"]["mfq"]) else res["onsager"]["tc"]
    return [
        _plot_order_parameter(out, experiment, res),
        _plot_susceptibility(out, res),
        _plot_snapshots(out, experiment, results, tc),
        _plot_training(out, experiment, results, tc),
    ]


# -- report -----------------------------------------------------------------------------------
def _ok(flag: bool) -> str:
    return "**holds**" if flag else "**does not hold**"


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def ising_report(experiment: IsingExperiment, res: Mapping[str, Any], plots: Sequence[Path]) -> str:
    """The Markdown text of ``report.md``."""
    c = res["checks"]
    lam = experiment.coupling
    mfq_cfg = res["mfq"]["config"]
    mcmc_cfg = res["mcmc"]["config"]
    low, high = c["tc_range"]
    lines = [
        "# Ising model: tabular MF-Q against Metropolis MCMC",
        "",
        f"Written by mfmarl {res['version']}. Numbers in `results.json`.",
        "",
        "## Settings",
        "",
        f"- lattice {experiment.lattice}×{experiment.lattice} (periodic, 4 neighbours), "
        f"λ = {lam:g}, h = {experiment.field:g}; agents' reward "
        "r_j = h·s_j + (λ/2)·s_j·Σ_k s_k, so MCMC samples H = −(λ/2)·Σ_<jk> s_j s_k − h·Σ s_j "
        f"(J = λ/2 = {lam / 2:g}); Onsager Tc = λ/ln(1+√2) = {res['onsager']['tc']:.4f}",
        f"- temperatures: {', '.join(f'{t:g}' for t in res['temperatures'])}",
        f"- scale {res['scale']}, seeds 0 … {res['seeds'] - 1} per method",
        f"- MF-Q: α = {mfq_cfg['alpha']:g}, γ = {mfq_cfg['gamma']:g}, schedule "
        f"{mfq_cfg['schedule']}, neighbourhood {mfq_cfg['neighbourhood']}, "
        f"{mfq_cfg['warmup_sweeps']} exploration warm-up sweeps, then {mfq_cfg['sweeps']} "
        f"sweeps at T from the {mfq_cfg['start']} lattice; ξ averaged over the last "
        f"{mfq_cfg['measure_sweeps']}",
        f"- MCMC: Metropolis, checkerboard updates, {mcmc_cfg['burn_in']} burn-in + "
        f"{mcmc_cfg['sweeps']} measured sweeps, from the ordered lattice (and, as a variant, "
        "from a random one)",
        f"- Tc estimator: {res['tc']['estimator']}",
        f"- time: MF-Q {res['seconds']['mfq']:.1f} s, MCMC {res['seconds']['mcmc']:.1f} s "
        "(summed over jobs)",
        "",
        "## Comparison with the paper",
        "",
        "The paper (Yang et al. 2018) reports that MF-Q's ξ(T) agrees with MCMC's, with the "
        "transition near T ≈ 1.2 (λ = 1). Measured here:",
        "",
        f"- ξ(T) of MF-Q and MCMC agree (mean |ξ_MF-Q − ξ_MCMC| over the grid ≤ "
        f"{MAX_MEAN_ABS_DIFF}): {_ok(c['mean_abs_diff_ok'])} (mean "
        f"{c['mean_abs_diff_mfq_mcmc']:.4f}, largest {c['max_abs_diff_mfq_mcmc']:.4f}).",
        f"- Tc of MF-Q and MCMC within {c['tc_diff_tolerance']:g} (0.1·λ) of each other: "
        f"{_ok(c['tc_diff_ok'])} "
        f"(MF-Q {_fmt(res['tc']['mfq'])}, MCMC {_fmt(res['tc']['mcmc'])}, difference "
        f"{_fmt(c['tc_diff'])}; – means no χ peak inside the grid).",
        f"- both Tc in [{low:.3f}, {high:.3f}] (the paper's ≈ 1.2 for λ = 1, ×λ): "
        f"{_ok(c['tc_mfq_in_range'] and c['tc_mcmc_in_range'])} (MF-Q "
        f"{'in' if c['tc_mfq_in_range'] else 'out of'} range, MCMC "
        f"{'in' if c['tc_mcmc_in_range'] else 'out of'} range).",
    ]
    if "mcmc_onsager_ok" in c:
        lines.append(
            f"- MCMC matches Onsager's exact M(T) within {ONSAGER_TOLERANCE} at the grid "
            f"temperatures below {ONSAGER_CHECK_FRACTION}·Tc "
            f"({', '.join(f'{t:g}' for t in c['onsager_temperatures'])}): "
            f"{_ok(c['mcmc_onsager_ok'])} (largest difference "
            f"{c['mcmc_onsager_max_abs_diff']:.4f})."
        )
    else:
        lines.append("- MCMC against Onsager: not checked (h ≠ 0, or no grid point below Tc).")
    if experiment.field != 0:
        lines.append(
            f"- h = {experiment.field:g} ≠ 0: the field removes the phase transition, so the "
            "Tc checks (and Onsager's curve) do not apply; only the ξ(T) comparison does."
        )
    cold = np.asarray(res["mfq"]["no_warmup"]["order_parameter"])
    main = np.asarray(res["mcmc"]["order_parameter"])
    lines += [
        "",
        "Both Tc are finite-lattice pseudo-critical temperatures: on an L×L lattice the "
        "susceptibility peaks above Onsager's Tc of the infinite lattice, which is the "
        "paper's ≈ 1.2 on 20×20.",
        "",
        "Why the two can agree: with γ = 0 and a site acting while its neighbours hold still "
        "(the checkerboard schedule), each table entry Q[ā, a] converges to the local reward "
        "s·(h + (λ/2)(2ā − 4)), and the Boltzmann policy over it is the heat-bath rule of the "
        "Ising model with J = λ/2. MF-Q and Metropolis are then two Markov chains with one "
        "stationary distribution, so the comparison tests the energy convention and how far "
        "the tables have converged; other schedules (random sequential, synchronous), γ > 0 "
        "or the global neighbourhood change the learned model.",
        "",
        "Variants, not part of the checks: MF-Q without the exploration warm-up (tables start "
        "at zero, so the first sweep plays uniformly at random and the ordered start is lost) "
        f"differs from MCMC by {np.abs(cold - main).mean():.4f} on average (largest "
        f"{np.abs(cold - main).max():.4f}); MCMC from a random start differs from MCMC from "
        "the ordered start by "
        f"{np.abs(np.asarray(res['mcmc']['random_start']['order_parameter']) - main).mean():.4f}"
        " on average. A quench from a random lattice can keep domains (stripes across the "
        "periodic lattice) for very long at low T, which lowers ξ there.",
        "",
        "## ξ(T)",
        "",
        "Mean ± standard deviation of ξ over the measured sweeps of all seeds.",
        "",
        "| T | MF-Q | MCMC | MCMC random start | MF-Q no warm-up | Onsager | χ MF-Q | χ MCMC |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for i, t in enumerate(res["temperatures"]):
        q, m = res["mfq"], res["mcmc"]
        lines.append(
            f"| {t:g} | {q['order_parameter'][i]:.3f} ± {q['order_parameter_std'][i]:.3f} | "
            f"{m['order_parameter'][i]:.3f} ± {m['order_parameter_std'][i]:.3f} | "
            f"{m['random_start']['order_parameter'][i]:.3f} | "
            f"{q['no_warmup']['order_parameter'][i]:.3f} | "
            f"{_fmt(res['onsager']['order_parameter'][i])} | "
            f"{_fmt(q['susceptibility'][i], 2)} | {_fmt(m['susceptibility'][i], 2)} |"
        )
    lines += ["", "## Plots", ""]
    for plot in plots:
        name = os.path.basename(plot)
        lines += [f"![{name}]({name})", ""]
    return "\n".join(lines)
