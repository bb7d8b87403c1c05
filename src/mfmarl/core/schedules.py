"""Schedules for exploration and temperature: pure functions of the step count."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from mfmarl.core.errors import require


class Schedule(Protocol):
    """A value that depends only on the step ``t >= 0``."""

    def __call__(self, t: int) -> float: ...


@dataclass(frozen=True)
class ConstantSchedule:
    """Always ``value``."""

    value: float

    def __call__(self, t: int) -> float:
        return self.value


@dataclass(frozen=True)
class LinearSchedule:
    """From ``start`` at ``t = 0`` to ``end`` at ``t = duration``, then constant."""

    start: float
    end: float
    duration: int

    def __post_init__(self) -> None:
        require(self.duration >= 0, f"duration={self.duration} must be >= 0")

    def __call__(self, t: int) -> float:
        if self.duration == 0 or t >= self.duration:
            return self.end
        frac = max(t, 0) / self.duration
        return self.start + frac * (self.end - self.start)


@dataclass(frozen=True)
class ExponentialSchedule:
    """Geometric interpolation from ``start`` to ``end`` over ``duration`` steps (both > 0)."""

    start: float
    end: float
    duration: int

    def __post_init__(self) -> None:
        require(self.start > 0 and self.end > 0, "exponential schedule needs start, end > 0")
        require(self.duration >= 0, f"duration={self.duration} must be >= 0")

    def __call__(self, t: int) -> float:
        if self.duration == 0 or t >= self.duration:
            return self.end
        frac = max(t, 0) / self.duration
        return self.start * math.exp(frac * math.log(self.end / self.start))
