"""Lagged copies of a network (target, acting, evaluation average): one mechanism.

A :class:`LaggedCopy` follows its source by soft updates ``φ' ← φ' + τ(φ − φ')`` after every
gradient step, or after every k-th with the rate compounded over k (``every``, for slow
averages: :func:`averaging_interval`). With ``rests=True`` and τ = 1 the copy would equal
its source after every update, so it is not updated at all: whoever reads it reads the
source instead (see :meth:`LaggedCopy.current`) and :meth:`LaggedCopy.sync` brings it up to
date when it must hold the value itself (a checkpoint).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn


class ModuleTensors(NamedTuple):
    """A module's parameters and buffers, listed once."""

    parameters: list[torch.Tensor]
    buffers: list[torch.Tensor]

    @staticmethod
    def of(module: nn.Module) -> ModuleTensors:
        return ModuleTensors(list(module.parameters()), list(module.buffers()))


def soft_update(
    target: nn.Module,
    source: nn.Module,
    tau: float,
    tensors: tuple[ModuleTensors, ModuleTensors] | None = None,
) -> None:
    """``target ← τ·source + (1 − τ)·target`` for parameters; buffers are copied.

    One fused (``_foreach``) call over all parameters instead of one small kernel each;
    ``tau = 1`` copies exactly. ``tensors``: both modules' :class:`ModuleTensors`, listed once
    by the caller (walking the module tree costs more than the update itself at batch 64).
    """
    with torch.no_grad():
        if tensors is None:
            tensors = (ModuleTensors.of(target), ModuleTensors.of(source))
        into, come = tensors
        if tau >= 1.0:
            _copy_all(into.parameters, come.parameters)
        else:
            torch._foreach_lerp_(into.parameters, come.parameters, tau)
        if into.buffers:
            _copy_all(into.buffers, come.buffers)


def _copy_all(into: list[torch.Tensor], come: list[torch.Tensor]) -> None:
    """``into[i].copy_(come[i])`` for all i, in one call where torch has ``_foreach_copy_``."""
    foreach_copy = getattr(torch, "_foreach_copy_", None)
    if foreach_copy is not None:
        foreach_copy(into, come)
        return
    for a, b in zip(into, come):
        a.copy_(b)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` that no optimizer trains (``requires_grad`` off)."""
    copied = copy.deepcopy(module)
    copied.requires_grad_(False)
    return copied


AVERAGE_SPAN_SHARE = 1.0 / 64
"""Share of a slow average's time constant ``1/τ`` that may pass between two of its moves."""
AVERAGE_EVERY_MAX = 16
"""Most updates between two moves of a slow average."""


def averaging_interval(tau: float) -> int:
    """Updates between two moves of an evaluation average of rate ``tau``: as many as fit in
    :data:`AVERAGE_SPAN_SHARE` of its time constant ``1/τ``, at most :data:`AVERAGE_EVERY_MAX`
    (1 for τ > 1/128). The Battle preset's τ = 1/8000 gives 16.

    Each move is one pass over the network's weights (and its source's), as long as an Adam
    step's reads; moving the average every k-th update with the rate compounded over k,
    ``1 − (1 − τ)^k``, gives the k skipped iterates' weight to the one read, which they
    differ from by at most k updates, while the average spans about 1/τ of them.
    """
    if tau <= 0.0:
        return 1
    return max(1, min(AVERAGE_EVERY_MAX, int(AVERAGE_SPAN_SHARE / tau)))


class LaggedCopy:
    """A copy of ``source`` that follows it at rate ``tau`` (``rests``: see the module).

    ``every`` = k > 1: the copy moves after every k-th update only, at the rate compounded
    over k updates, ``1 − (1 − τ)^k`` (the same decay per update as moving every time); the
    caller passes the update's number to :meth:`follow`.
    """

    def __init__(self, source: nn.Module, tau: float, rests: bool = False, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every={every} must be at least 1")
        self.source = source
        self.tau = tau
        self.every = every
        self.rate = tau if every == 1 else 1.0 - (1.0 - tau) ** every
        self.module = frozen_copy(source)
        self.resting = rests and tau >= 1.0
        self._tensors = (ModuleTensors.of(self.module), ModuleTensors.of(source))

    def follow(self, update: int | None = None) -> None:
        """One soft update towards the source (nothing while resting). ``update``: the number
        of the gradient update just made (1 for the first), needed when ``every`` > 1: the
        copy moves when it is a multiple of ``every`` (so a resumed run moves when the
        uninterrupted one would)."""
        if self.resting:
            return
        if self.every > 1:
            if update is None:
                raise ValueError("a copy that moves every k-th update needs the update's number")
            if update % self.every:
                return
        soft_update(self.module, self.source, self.rate, self._tensors)

    def sync(self) -> None:
        """Copy the source exactly (a resting copy before it is read or saved)."""
        soft_update(self.module, self.source, 1.0, self._tensors)

    def current(self) -> nn.Module:
        """The network this copy stands for now: itself, or its source while resting."""
        return self.source if self.resting else self.module

    def wake(self) -> None:
        """Stop resting: from now on the copy itself is read (after it was loaded with other
        weights, say the evaluation average)."""
        self.resting = False
