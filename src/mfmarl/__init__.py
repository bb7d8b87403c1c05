"""mfmarl: mean field multi-agent reinforcement learning (MF-Q, MF-AC) in PyTorch."""

__version__ = "0.1.0"
