"""Small statistics for reports: intervals across seeds, smoothing."""

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


def _student_t_cdf(x: float, df: int, steps: int = 4000) -> float:
    """CDF of Student's t with ``df`` degrees of freedom (Simpson's rule on the density)."""
    if x < 0:
        return 1.0 - _student_t_cdf(-x, df, steps)
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    grid = np.linspace(0.0, x, steps + 1)
    density = np.exp(log_norm - (df + 1) / 2 * np.log1p(grid**2 / df))
    weights = np.ones(steps + 1)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return 0.5 + float((weights * density).sum() * (x / steps) / 3.0)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df >= 1`` degrees of freedom (bisection)."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while _student_t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if _student_t_cdf(mid, df) < p else (low, mid)
    return 0.5 * (low + high)


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
    """Win rate ``k/n`` with its Wilson score interval (``nan`` for ``n = 0``)."""
    if trials <= 0:
        return Interval(math.nan, math.nan, math.nan)
    z = _normal_quantile(0.5 + level / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return Interval(p, centre - half, centre + half)


def _normal_quantile(p: float) -> float:
    """Standard normal quantile by bisection on ``erf``."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


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
