"""Bradley–Terry ratings of players from head-to-head rounds, with bootstrap intervals.

Model: player ``i`` beats ``j`` in a round with probability ``σ(r_i − r_j)``, ``σ`` the
logistic function; ratings are in natural log-odds units (multiply by ``400 / ln 10 ≈ 173.7``
for an Elo-like scale) and centred to mean 0. A tied round counts as half a win for each side.
The fit is the maximum-likelihood estimate (damped Newton on the concave log-likelihood).

A prior of ``virtual_ties`` tied rounds per pair (half a win each way) keeps every rating
finite when a player wins every round; ``virtual_ties = 0`` is the plain MLE, which exists
only when the "scored against" graph is strongly connected. Two players, ``w`` wins,
``l`` losses, ``t`` ties and ``v`` virtual ties: ``r_0 − r_1 = log((w + t/2 + v/2) /
(l + t/2 + v/2))``.

Bootstrap intervals resample the rounds within each pair (a multinomial draw of (wins of the
first, wins of the second, ties) with the observed frequencies), refit, and take percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_VIRTUAL_TIES = 1.0
"""Virtual tied rounds added to every pair (half a win each way)."""
DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples."""


def _check(wins: np.ndarray, ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(wins, dtype=np.float64)
    t = np.asarray(ties, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or t.shape != w.shape:
        raise ValueError(f"wins {w.shape} and ties {t.shape} must be square and alike")
    if (w < 0).any() or (t < 0).any() or not np.allclose(t, t.T):
        raise ValueError("wins and ties must be >= 0 and ties symmetric")
    return w, t


def pair_scores(
    wins: np.ndarray, ties: np.ndarray, virtual_ties: float = DEFAULT_VIRTUAL_TIES
) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, games)``, both ``(P, P)``: ``scores[i, j] = wins[i, j] + (ties[i, j] +
    virtual_ties) / 2`` and ``games[i, j] = scores[i, j] + scores[j, i]``, zero diagonal.

    ``wins[i, j]``: rounds ``i`` won against ``j``; ``ties[i, j] = ties[j, i]``: tied rounds.
    """
    w, t = _check(wins, ties)
    off = 1.0 - np.eye(w.shape[0])
    scores = (w + (t + virtual_ties) / 2.0) * off
    return scores, scores + scores.T


def _strongly_connected(scores: np.ndarray) -> bool:
    """Every player reaches every other along edges ``i → j`` where ``i`` scored against
    ``j`` (Zermelo's condition for a finite MLE)."""
    reach = (scores > 0) | np.eye(scores.shape[0], dtype=bool)
    for k in range(scores.shape[0]):
        reach |= reach[:, k : k + 1] & reach[k : k + 1, :]
    return bool(reach.all())


def _log_likelihood(r: np.ndarray, scores: np.ndarray) -> float:
    diff = r[:, None] - r[None, :]
    return float(-(scores * np.logaddexp(0.0, -diff)).sum())


def fit_bradley_terry(
    wins: np.ndarray,
    ties: np.ndarray,
    virtual_ties: float = DEFAULT_VIRTUAL_TIES,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> np.ndarray:
    """Maximum-likelihood ratings ``(P,)`` (mean 0) from ``wins (P, P)`` and ``ties (P, P)``.

    Raises :class:`ValueError` when no finite MLE exists (possible only with
    ``virtual_ties = 0``: some group of players never scored against the rest).
    """
    scores, games = pair_scores(wins, ties, virtual_ties)
    p = scores.shape[0]
    if p == 1:
        return np.zeros(1)
    if not _strongly_connected(scores):
        raise ValueError("no finite Bradley-Terry ratings: some players never scored")
    r = np.zeros(p)
    centre = np.ones((p, p)) / p
    for _ in range(max_iter):
        prob = 1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))
        grad = (scores - games * prob).sum(axis=1)
        if np.abs(grad).max() <= tol * max(1.0, games.sum()):
            break
        weight = games * prob * (1.0 - prob)
        laplacian = np.diag(weight.sum(axis=1)) - weight
        step = np.linalg.solve(laplacian + centre, grad)
        current, size = _log_likelihood(r, scores), 1.0
        while size > 1e-8 and _log_likelihood(r + size * step, scores) < current:
            size /= 2.0
        r = r + size * step
    return r - r.mean()


def bootstrap_ratings(
    wins: np.ndarray,
    ties: np.ndarray,
    virtual_ties: float = DEFAULT_VIRTUAL_TIES,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """``(resamples, P)`` ratings refitted on rounds resampled within each pair.

    Pair ``(i, j)``, ``i < j``, with ``n`` rounds gets a multinomial draw of ``n`` rounds from
    its observed (``i`` wins, ``j`` wins, tie) frequencies; pairs are drawn in ``(i, j)``
    order from one ``numpy`` generator seeded ``seed``, so the result is reproducible.
    """
    w, t = _check(wins, ties)
    p = w.shape[0]
    rng = np.random.default_rng(seed)
    draws_w = np.zeros((resamples, p, p))
    draws_t = np.zeros((resamples, p, p))
    for i in range(p):
        for j in range(i + 1, p):
            counts = np.array([w[i, j], w[j, i], t[i, j]])
            n = int(round(counts.sum()))
            if n == 0:
                continue
            draw = rng.multinomial(n, counts / counts.sum(), size=resamples)
            draws_w[:, i, j], draws_w[:, j, i] = draw[:, 0], draw[:, 1]
            draws_t[:, i, j] = draws_t[:, j, i] = draw[:, 2]
    return np.stack(
        [fit_bradley_terry(draws_w[b], draws_t[b], virtual_ties) for b in range(resamples)]
    )


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of ``values (B,)``."""
    tail = (1.0 - level) / 2.0
    return float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail))


@dataclass(frozen=True)
class Ratings:
    """Fitted ratings ``(P,)`` and their bootstrap replicates ``(B, P)``."""

    rating: np.ndarray
    replicates: np.ndarray

    def interval(self, index: int, level: float = 0.95) -> tuple[float, float]:
        """Percentile bootstrap interval of player ``index``'s rating."""
        return percentile_interval(self.replicates[:, index], level)

    def group(self, indices: list[int]) -> tuple[float, tuple[float, float]]:
        """The mean rating of several players (e.g. one algorithm's seeds) and its interval
        from the same bootstrap replicates."""
        mean = float(self.rating[indices].mean())
        return mean, percentile_interval(self.replicates[:, indices].mean(axis=1))


def rate(
    wins: np.ndarray,
    ties: np.ndarray,
    virtual_ties: float = DEFAULT_VIRTUAL_TIES,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Ratings:
    """Bradley–Terry ratings with their bootstrap replicates."""
    rating = fit_bradley_terry(wins, ties, virtual_ties)
    return Ratings(rating, bootstrap_ratings(wins, ties, virtual_ties, resamples, seed))
