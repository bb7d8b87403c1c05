"""Generic evaluation: statistics, ratings, plots, players, matches, tournaments, GIFs."""

from mfmarl.evaluation.stats import (
    Interval,
    bootstrap_interval,
    moving_average,
    t_interval,
    wilson_interval,
)

__all__ = [
    "Interval",
    "bootstrap_interval",
    "moving_average",
    "t_interval",
    "wilson_interval",
]
