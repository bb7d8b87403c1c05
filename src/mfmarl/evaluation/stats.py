"""Small statistics for reports: intervals across seeds, smoothing (quantiles and the
Wilson interval from scipy)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

Values = Sequence[float] | np.ndarray
"""One number per seed (or per run): a sequence or a ``(n,)`` array."""


class Interval(NamedTuple):
    """A point estimate with a two-sided interval (``nan`` bounds when undefined)."""

    estimate: float
    low: float
    high: float


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df >= 1`` degrees of freedom (scipy)."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p}, df={df}")
    from scipy import stats

    return float(stats.t.ppf(p, df))


def t_interval(values: Values, level: float = 0.95) -> Interval:
    """Mean with its Student-t interval ``mean ± t·s/√n``; bounds are ``nan`` for ``n < 2``."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, math.nan, math.nan)
    half = t_quantile(0.5 + level / 2, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return Interval(mean, mean - half, mean + half)


def bootstrap_interval(
    values: Values,
    statistic: Callable[[np.ndarray], float] = np.median,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (seeded, reproducible).

    Bounds are ``nan`` for fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    estimate = float(statistic(x))
    if x.size < 2:
        return Interval(estimate, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, x.size, size=(resamples, x.size))]
    stats = np.array([statistic(row) for row in draws])
    tail = (1.0 - level) / 2
    return Interval(estimate, float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail)))


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> Interval:
    """Win rate ``k/n`` with its Wilson score interval (scipy; ``nan`` for ``n = 0``)."""
    if trials <= 0:
        return Interval(math.nan, math.nan, math.nan)
    from scipy import stats

    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(level, method="wilson")
    return Interval(successes / trials, float(ci.low), float(ci.high))


def moving_average(values: Values, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` points: ``out[i] = mean(x[max(0, i−w+1) : i+1])``.

    ``(T,) -> (T,)``; the first points average what is available, so no point is dropped.
    NaNs are ignored (a window of only NaNs gives NaN).
    """
    x = np.asarray(values, dtype=np.float64)
    if window <= 1 or x.size == 0:
        return x.copy()
    valid = np.isfinite(x)
    sums = np.concatenate([[0.0], np.cumsum(np.where(valid, x, 0.0))])
    counts = np.concatenate([[0], np.cumsum(valid)])
    idx = np.arange(x.size)
    start = np.maximum(0, idx - window + 1)
    n = counts[idx + 1] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[idx + 1] - sums[start]) / np.maximum(n, 1), np.nan)
