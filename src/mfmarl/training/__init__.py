"""The shared training loop, run directories, metrics logging and checkpoints."""

from mfmarl.training.loop import TrainConfig, seed_everything, train

__all__ = ["TrainConfig", "seed_everything", "train"]
