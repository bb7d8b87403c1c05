"""The Ising model (docs/method.md 6.2): the lattice game, tabular MF-Q, Metropolis MCMC and
the reproduction."""

from mfmarl.experiments.ising.env import (
    IsingConfig,
    IsingParallelEnv,
    onsager_magnetisation,
    onsager_tc,
)

__all__ = ["IsingConfig", "IsingParallelEnv", "onsager_magnetisation", "onsager_tc"]
