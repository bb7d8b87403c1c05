"""Torch modules: grouped (per-agent or shared) MLPs, Q-networks with an ā input, actors."""

from mfmarl.networks.grouped import GroupedLinear, GroupedMLP, RunningNormalizer
from mfmarl.networks.heads import Actor, QNetwork, falling_preference
from mfmarl.networks.precision import PRECISIONS, resolve_precision
from mfmarl.networks.view import ViewActor, ViewEncoder, ViewQNetwork

__all__ = [
    "PRECISIONS",
    "Actor",
    "GroupedLinear",
    "GroupedMLP",
    "QNetwork",
    "RunningNormalizer",
    "ViewActor",
    "ViewEncoder",
    "ViewQNetwork",
    "falling_preference",
    "resolve_precision",
]
