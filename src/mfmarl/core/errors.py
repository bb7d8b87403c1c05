"""The one error type for bad user input (configs, checkpoints, paths)."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """Invalid user input. The message is one line that names the problem."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def require_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise unless ``value`` is one of ``allowed``; the message lists the allowed values."""
    allowed = tuple(allowed)
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {choices}")


MAX_WIDTH = 65_536
"""Largest layer width, action count or view side a config or checkpoint may ask for."""
MAX_AGENTS = 10_000_000
"""Largest number of agents (or slots) in one group."""
MAX_FEATURES = 100_000_000
"""Largest flat observation length."""
MAX_REPLAY = 10**9
"""Largest replay capacity (in agent transitions)."""
MAX_STEPS = 10**15
"""Largest schedule length or step count."""


def require_int_in(name: str, value: Any, low: int, high: int) -> None:
    """Raise unless ``value`` is an integer (not a bool) in ``[low, high]``; the message
    names the field and the bounds."""
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be an integer")
    if not low <= number <= high:
        raise ConfigError(f"{name}={value} must be in [{low}, {high}]")
