"""PNG figures: learning curves averaged over seeds, and final scores per setting.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (Agg canvas), so no
global pyplot state or display is involved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mfmarl.evaluation.stats import moving_average


@dataclass(frozen=True)
class Panel:
    """One subplot: a metric, its axis label and an optional reference line (e.g. G*)."""

    key: str
    ylabel: str
    reference: float | None = None
    reference_label: str = ""


def seed_band(runs: Sequence[np.ndarray], window: int) -> tuple[np.ndarray, ...]:
    """Smooth each seed's curve, then take mean, min and max across seeds.

    ``runs``: one ``(T_i,)`` curve per seed; curves are cut to the shortest. Returns
    ``(mean, low, high)``, each ``(T,)``.
    """
    length = min(len(r) for r in runs)
    smooth = np.stack([moving_average(np.asarray(r[:length]), window) for r in runs])
    with np.errstate(invalid="ignore"):
        return smooth.mean(axis=0), smooth.min(axis=0), smooth.max(axis=0)


def smoothing_window(length: int) -> int:
    """Moving-average window for a curve of ``length`` episodes (about 2% of it)."""
    return max(1, length // 50)


def plot_learning_curves(
    path: str | Path,
    title: str,
    panels: Sequence[Panel],
    curves: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
) -> Path:
    """Write a PNG with one subplot per panel and one line per series.

    ``curves[label][panel.key]`` holds one curve per seed; each line is the seed mean of the
    moving-averaged curves, with a band from the seed minimum to the maximum.
    """
    fig = Figure(figsize=(6.0 * len(panels), 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for label, series in curves.items():
            runs = [np.asarray(r, dtype=np.float64) for r in series.get(panel.key, [])]
            runs = [r for r in runs if r.size]
            if not runs:
                continue
            mean, low, high = seed_band(runs, smoothing_window(min(len(r) for r in runs)))
            steps = np.arange(mean.size)
            line = ax.plot(
                steps,
                mean,
                label=f"{label} ({len(runs)} seed{'s' if len(runs) > 1 else ''})",
                linewidth=1.4,
            )[0]
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        if panel.reference is not None and math.isfinite(panel.reference):
            ax.axhline(
                panel.reference,
                color="black",
                linestyle="--",
                linewidth=1.0,
                label=panel.reference_label or None,
            )
        ax.set_xlabel("episode")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    out = Path(path)
    fig.savefig(out, dpi=110)
    return out


def plot_seed_points(
    path: str | Path,
    title: str,
    groups: Sequence[str],
    points: Mapping[str, Sequence[Sequence[float]]],
    ylabel: str,
    references: Mapping[float, str] | None = None,
) -> Path:
    """For each group (e.g. N) and series (e.g. method): every seed's value as a dot and
    their median as a short bar, side by side. ``points[series][g]`` holds one value per
    seed of group ``g`` (empty: not run). No error bars: with a few seeds the points
    themselves are the honest picture."""
    n_series = max(1, len(points))
    fig = Figure(figsize=(max(5.0, 1.4 * len(groups) * n_series / 2), 4.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / n_series
    x = np.arange(len(groups))
    for i, (label, per_group) in enumerate(points.items()):
        centre = x + (i - (n_series - 1) / 2) * width
        colour = f"C{i % 10}"
        for c, values in zip(centre, per_group):
            v = np.asarray(values, dtype=np.float64)
            if v.size == 0:
                continue
            jitter = np.linspace(-0.25, 0.25, v.size) * width if v.size > 1 else np.zeros(1)
            ax.scatter(c + jitter, v, s=14, color=colour, zorder=3)
            ax.hlines(np.median(v), c - 0.4 * width, c + 0.4 * width, color=colour, linewidth=2)
        ax.scatter([], [], s=14, color=colour, label=label)
    for value, name in (references or {}).items():
        ax.axhline(value, color="black", linestyle="--", linewidth=0.8)
        ax.annotate(
            name,
            (1.0, value),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            ha="right",
            va="bottom",
        )
    ax.set_xticks(x, list(groups))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    out = Path(path)
    fig.savefig(out, dpi=110)
    return out
