"""Gaussian Squeeze (docs/method.md 6.1): the game, its preset, the reproduction and report."""

from mfmarl.experiments.gaussian_squeeze.env import (
    GaussianSqueeze,
    GaussianSqueezeConfig,
    GaussianSqueezeParallelEnv,
    make_gaussian_squeeze,
    squeeze_optimum,
    squeeze_reward,
)
from mfmarl.experiments.gaussian_squeeze.preset import gaussian_squeeze_preset

__all__ = [
    "GaussianSqueeze",
    "GaussianSqueezeConfig",
    "GaussianSqueezeParallelEnv",
    "gaussian_squeeze_preset",
    "make_gaussian_squeeze",
    "squeeze_optimum",
    "squeeze_reward",
]
