"""Experiments built on training runs: reproductions, statistics, plots and reports."""

from mfmarl.evaluation.gaussian_squeeze import (
    SqueezeExperiment,
    reproduce_gaussian_squeeze,
    summary_table,
)
from mfmarl.evaluation.ising import IsingExperiment, reproduce_ising
from mfmarl.evaluation.ising_mcmc import MCMCConfig, metropolis
from mfmarl.evaluation.stats import (
    Interval,
    bootstrap_interval,
    moving_average,
    t_interval,
    wilson_interval,
)

__all__ = [
    "Interval",
    "IsingExperiment",
    "MCMCConfig",
    "SqueezeExperiment",
    "bootstrap_interval",
    "metropolis",
    "moving_average",
    "reproduce_gaussian_squeeze",
    "reproduce_ising",
    "summary_table",
    "t_interval",
    "wilson_interval",
]
