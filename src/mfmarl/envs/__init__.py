"""Environments: each has a batched agent-array path for the trainers and a PettingZoo path."""

from mfmarl.envs.base import AgentArrayEnv, StepResult
from mfmarl.envs.battle import (
    BattleConfig,
    BattleEnv,
    BattleStep,
    TeamObs,
    make_battle_parallel_env,
)
from mfmarl.envs.gaussian_squeeze import (
    GaussianSqueeze,
    GaussianSqueezeConfig,
    GaussianSqueezeParallelEnv,
    squeeze_optimum,
    squeeze_reward,
)
from mfmarl.envs.ising import (
    IsingConfig,
    IsingParallelEnv,
    onsager_magnetisation,
    onsager_tc,
)

__all__ = [
    "AgentArrayEnv",
    "StepResult",
    "BattleConfig",
    "BattleEnv",
    "BattleStep",
    "TeamObs",
    "make_battle_parallel_env",
    "GaussianSqueeze",
    "GaussianSqueezeConfig",
    "GaussianSqueezeParallelEnv",
    "IsingConfig",
    "IsingParallelEnv",
    "onsager_magnetisation",
    "onsager_tc",
    "squeeze_optimum",
    "squeeze_reward",
]
