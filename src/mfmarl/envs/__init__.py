"""Environments as groups of agents in slot arrays (:mod:`mfmarl.envs.base`), and the adapters
that bring any PettingZoo ``ParallelEnv`` (:mod:`mfmarl.envs.pettingzoo`) and any MAgent2
environment (:mod:`mfmarl.envs.magent2`, the fast path) there. The paper's games live in
:mod:`mfmarl.experiments`."""

from mfmarl.envs.base import EnvStep, GroupObs, GroupSpec, GroupStep, MultiGroupEnv
from mfmarl.envs.source import EnvSource, adapt

__all__ = [
    "EnvSource",
    "EnvStep",
    "GroupObs",
    "GroupSpec",
    "GroupStep",
    "MultiGroupEnv",
    "adapt",
]
