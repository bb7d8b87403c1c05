"""The one training loop, its roles and mean-field rules, the run writer, checkpoints and
metrics logging."""

from mfmarl.training.loop import TrainConfig, seed_everything, train, train_learner
from mfmarl.training.run import RunSummary, resume_run, train_run
from mfmarl.training.spec import RunSpec

__all__ = [
    "RunSpec",
    "RunSummary",
    "TrainConfig",
    "resume_run",
    "seed_everything",
    "train",
    "train_learner",
    "train_run",
]
