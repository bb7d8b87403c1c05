"""The shared training loop, run directories, metrics logging and checkpoints."""

from mfmarl.training.loop import TrainConfig, run, seed_everything, train

__all__ = ["TrainConfig", "run", "seed_everything", "train"]
