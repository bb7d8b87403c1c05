"""Bradley–Terry ratings and their bootstrap intervals against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfmarl.evaluation.ratings import (
    bootstrap_ratings,
    fit_bradley_terry,
    pair_scores,
    percentile_interval,
    rate,
)


def _pair(w: int, l: int, t: int = 0) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    return np.array([[0, w], [l, 0]]), np.array([[0, t], [t, 0]])


def test_two_players_mle_is_log_odds() -> None:
    # MLE of σ(r0 − r1) is the observed share w / (w + l): r0 − r1 = log(w / l), mean 0.
    r = fit_bradley_terry(*_pair(30, 10), virtual_ties=0)
    assert r[0] == pytest.approx(math.log(3) / 2, abs=1e-9)
    assert r[1] == pytest.approx(-math.log(3) / 2, abs=1e-9)


def test_ties_count_half_a_win_and_the_prior_adds_virtual_ties() -> None:
    # 6 wins, 2 losses, 4 ties: scores 8 and 4, so r0 − r1 = log 2.
    r = fit_bradley_terry(*_pair(6, 2, 4), virtual_ties=0)
    assert r[0] - r[1] == pytest.approx(math.log(2), abs=1e-9)
    # with 2 virtual ties the scores are 9 and 5
    r = fit_bradley_terry(*_pair(6, 2, 4), virtual_ties=2)
    assert r[0] - r[1] == pytest.approx(math.log(9 / 5), abs=1e-9)
    # 10 wins, 0 losses: finite only with the prior, log(10.5 / 0.5) = log 21
    r = fit_bradley_terry(*_pair(10, 0), virtual_ties=1)
    assert r[0] - r[1] == pytest.approx(math.log(21), abs=1e-9)
    with pytest.raises(ValueError, match="no finite"):
        fit_bradley_terry(*_pair(10, 0), virtual_ties=0)


def test_pair_scores() -> None:
    scores, games = pair_scores(*_pair(6, 2, 4), virtual_ties=1)
    np.testing.assert_allclose(scores, [[0, 8.5], [4.5, 0]])
    np.testing.assert_allclose(games, [[0, 13], [13, 0]])


def test_three_players_with_consistent_shares() -> None:
    # Strengths 4 : 2 : 1 predict P(A>B) = 2/3, P(B>C) = 2/3, P(A>C) = 4/5. When the observed
    # shares are exactly these, the score equations Σ_j n_ij (s_ij − σ_ij) = 0 hold, so the
    # MLE is log(4, 2, 1) centred: (log 2, 0, −log 2). A–B has ties: 16 + 8/2 = 20 of 30.
    wins = np.array([[0, 16, 24], [6, 0, 20], [6, 10, 0]])
    ties = np.array([[0, 8, 0], [8, 0, 0], [0, 0, 0]])
    r = fit_bradley_terry(wins, ties, virtual_ties=0)
    np.testing.assert_allclose(r, [math.log(2), 0.0, -math.log(2)], atol=1e-9)


def test_three_player_cycle_is_a_draw() -> None:
    # A beats B 3-1, B beats C 3-1, C beats A 3-1: by symmetry every rating is 0.
    wins = np.array([[0, 3, 1], [1, 0, 3], [3, 1, 0]])
    r = fit_bradley_terry(wins, np.zeros((3, 3)), virtual_ties=1)
    np.testing.assert_allclose(r, 0.0, atol=1e-12)


def test_three_players_far_apart_converge() -> None:
    # A wins every round against B and C, B every round against C. With one virtual tie per
    # pair the fitted shares must satisfy the score equations: check them directly.
    wins = np.array([[0, 50, 50], [0, 0, 50], [0, 0, 0]])
    ties = np.zeros((3, 3))
    r = fit_bradley_terry(wins, ties, virtual_ties=1)
    scores, games = pair_scores(wins, ties, 1)
    prob = 1 / (1 + np.exp(-(r[:, None] - r[None, :])))
    np.testing.assert_allclose((games * prob).sum(1) - np.diag(games * prob), scores.sum(1))
    assert r[0] > r[1] > r[2] and abs(r.sum()) < 1e-9


def test_bootstrap_interval_of_two_players_from_the_binomial() -> None:
    # 2 wins, 2 losses, 1 virtual tie: a resample has W ~ Binomial(4, 1/2) wins and
    # r0 = log((W + 1/2) / (4 − W + 1/2)) / 2, increasing in W. P(W = 0) = P(W = 4) = 1/16 >
    # 2.5%, so the 2.5% and 97.5% quantiles are at W = 0 and W = 4: r0 in [−log 3, log 3].
    ratings = rate(*_pair(2, 2), virtual_ties=1, resamples=2000, seed=3)
    assert ratings.rating[0] == pytest.approx(0.0, abs=1e-12)
    low, high = ratings.interval(0)
    assert low == pytest.approx(-math.log(3), abs=1e-9)
    assert high == pytest.approx(math.log(3), abs=1e-9)


def test_bootstrap_of_one_sided_or_tied_pairs_is_degenerate() -> None:
    # every resample of 5 wins out of 5 is 5 wins: the interval is the point, ½ log 11
    ratings = rate(*_pair(5, 0), virtual_ties=1, resamples=200, seed=0)
    assert ratings.interval(0) == pytest.approx((math.log(11) / 2, math.log(11) / 2))
    ratings = rate(*_pair(0, 0, 7), virtual_ties=1, resamples=200, seed=0)
    assert ratings.interval(1) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_bootstrap_is_seeded() -> None:
    wins = np.array([[0, 12, 15], [6, 0, 11], [3, 7, 0]])
    ties = np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0]])
    a = bootstrap_ratings(wins, ties, resamples=100, seed=7)
    b = bootstrap_ratings(wins, ties, resamples=100, seed=7)
    c = bootstrap_ratings(wins, ties, resamples=100, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (100, 3)


def test_group_rating_is_the_mean_over_its_players() -> None:
    ratings = rate(*_pair(3, 1), resamples=50, seed=0)
    mean, (low, high) = ratings.group([0, 1])
    assert mean == pytest.approx(0.0, abs=1e-12) and low == pytest.approx(0.0, abs=1e-12)
    assert percentile_interval(np.arange(101.0)) == pytest.approx((2.5, 97.5))
