"""Experiments built on training runs: reproductions, statistics, plots and reports."""

from mfmarl.evaluation.gaussian_squeeze import (
    SqueezeExperiment,
    reproduce_gaussian_squeeze,
    summary_table,
)
from mfmarl.evaluation.stats import (
    Interval,
    bootstrap_interval,
    moving_average,
    t_interval,
    wilson_interval,
)

__all__ = [
    "Interval",
    "SqueezeExperiment",
    "bootstrap_interval",
    "moving_average",
    "reproduce_gaussian_squeeze",
    "summary_table",
    "t_interval",
    "wilson_interval",
]
