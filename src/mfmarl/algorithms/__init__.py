"""Learners: MF-Q, MF-AC and their independent baselines IL (iql) and AC (iac).

A learner learns: ``update()`` is one gradient step on a replay batch. What acts is a
:class:`Policy` (one batched forward pass for all agents of a group), which a learner hands
out: its own acting policy, frozen snapshots, and the one trained players use.
"""

from mfmarl.algorithms.base import Learner, check_learner_sizes, make_learner
from mfmarl.algorithms.config import ALGORITHM_NAMES, ALGORITHMS, AlgorithmConfig
from mfmarl.algorithms.mfac import MeanFieldActorCritic
from mfmarl.algorithms.mfq import MeanFieldQ
from mfmarl.algorithms.policy import Policy, act_together

__all__ = [
    "ALGORITHMS",
    "ALGORITHM_NAMES",
    "AlgorithmConfig",
    "Learner",
    "MeanFieldActorCritic",
    "MeanFieldQ",
    "Policy",
    "act_together",
    "check_learner_sizes",
    "make_learner",
]
