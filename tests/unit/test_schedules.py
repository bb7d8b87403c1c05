"""Schedules as pure functions of the step count."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mfmarl.core import ConfigError, ConstantSchedule, ExponentialSchedule, LinearSchedule


def test_constant() -> None:
    s = ConstantSchedule(0.3)
    assert s(0) == s(10**9) == 0.3


def test_linear_by_hand() -> None:
    s = LinearSchedule(start=1.0, end=0.0, duration=10)
    assert s(0) == pytest.approx(1.0)
    assert s(5) == pytest.approx(0.5)
    assert s(9) == pytest.approx(0.1)
    assert s(10) == pytest.approx(0.0)
    assert s(1000) == pytest.approx(0.0)
    assert s(-3) == pytest.approx(1.0)
    assert LinearSchedule(1.0, 0.2, 0)(0) == pytest.approx(0.2)


def test_exponential_is_geometric() -> None:
    s = ExponentialSchedule(start=1.0, end=0.01, duration=100)
    assert s(0) == pytest.approx(1.0)
    assert s(50) == pytest.approx(0.1)  # halfway in log space: sqrt(1 * 0.01)
    assert s(100) == pytest.approx(0.01)
    assert s(500) == pytest.approx(0.01)
    rising = ExponentialSchedule(start=2.0, end=8.0, duration=2)
    assert rising(1) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearSchedule(1.0, 0.0, -1),
        lambda: ExponentialSchedule(0.0, 1.0, 10),
        lambda: ExponentialSchedule(1.0, -1.0, 10),
        lambda: ExponentialSchedule(1.0, 0.5, -2),
    ],
)
def test_invalid_schedules_raise(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigError):
        make()
