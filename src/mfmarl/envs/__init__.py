"""Environments: each has a batched agent-array path for the trainers and a PettingZoo path."""

from mfmarl.envs.base import AgentArrayEnv, StepResult
from mfmarl.envs.gaussian_squeeze import (
    GaussianSqueeze,
    GaussianSqueezeConfig,
    GaussianSqueezeParallelEnv,
    squeeze_optimum,
    squeeze_reward,
)

__all__ = [
    "AgentArrayEnv",
    "StepResult",
    "GaussianSqueeze",
    "GaussianSqueezeConfig",
    "GaussianSqueezeParallelEnv",
    "squeeze_optimum",
    "squeeze_reward",
]
