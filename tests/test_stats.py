"""Report statistics against textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfmarl.evaluation.stats import (
    bootstrap_interval,
    moving_average,
    t_interval,
    t_quantile,
    wilson_interval,
)


@pytest.mark.parametrize(
    "df, value", [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042)]
)
def test_t_quantiles_match_the_table(df: int, value: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-3)
    assert t_quantile(0.025, df) == pytest.approx(-value, abs=1e-3)


def test_t_interval_by_hand() -> None:
    # mean 2, s = 1, n = 3: half width = 4.303 / sqrt(3) = 2.4843
    est, low, high = t_interval([1.0, 2.0, 3.0])
    assert est == 2.0
    assert (low, high) == pytest.approx((2 - 2.4843, 2 + 2.4843), abs=1e-3)
    single = t_interval([0.7])
    assert single.estimate == 0.7 and math.isnan(single.low) and math.isnan(single.high)


def test_wilson_by_hand() -> None:
    # 5 of 10 at 95%: centre 0.5, half width = 1.96·sqrt(0.025 + 0.0096)/1.384 = 0.2634
    est, low, high = wilson_interval(5, 10)
    assert est == 0.5
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-3)
    assert wilson_interval(0, 10).low == pytest.approx(0.0, abs=1e-12)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    values = [0.9, 0.95, 1.0, 0.97, 0.92]
    a, b = bootstrap_interval(values, seed=1), bootstrap_interval(values, seed=1)
    assert a == b
    assert a.low <= a.estimate <= a.high
    assert min(values) <= a.low and a.high <= max(values)


def test_moving_average_by_hand() -> None:
    got = moving_average([1.0, 2.0, 3.0, 4.0, float("nan"), 6.0], 3)
    np.testing.assert_allclose(got, [1.0, 1.5, 2.0, 3.0, 3.5, 5.0])
    np.testing.assert_allclose(moving_average([1.0, 5.0], 1), [1.0, 5.0])
