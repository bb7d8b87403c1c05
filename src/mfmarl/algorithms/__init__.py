"""Learners: MF-Q, MF-AC and their independent baselines IL (iql) and AC (iac).

Every learner has ``act()`` (one batched forward pass for all agents) and ``update()`` (one
gradient step on a replay batch); the training loop is shared.
"""

from mfmarl.algorithms.base import (
    ALGORITHMS,
    AlgorithmConfig,
    Learner,
    act_together,
    make_learner,
)
from mfmarl.algorithms.mfac import MeanFieldActorCritic
from mfmarl.algorithms.mfq import MeanFieldQ
from mfmarl.algorithms.tabular_mfq import TabularMFQConfig, train_tabular_mfq

__all__ = [
    "act_together",
    "ALGORITHMS",
    "AlgorithmConfig",
    "Learner",
    "MeanFieldActorCritic",
    "MeanFieldQ",
    "TabularMFQConfig",
    "make_learner",
    "train_tabular_mfq",
]
