"""mfmarl: mean field multi-agent reinforcement learning (MF-Q, MF-AC) in PyTorch.

``mfmarl.train(env_fn, out=..., algo="mfq")`` trains on your own environment
(:mod:`mfmarl.api`); the command line is ``mfmarl --help``.
"""

from typing import Any

__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    # ``mfmarl.train`` and ``mfmarl.Run`` without importing torch for ``import mfmarl``
    if name in ("train", "Run"):
        import importlib

        return getattr(importlib.import_module("mfmarl.api"), name)
    raise AttributeError(f"module 'mfmarl' has no attribute {name!r}")


__all__ = ["Run", "__version__", "train"]
