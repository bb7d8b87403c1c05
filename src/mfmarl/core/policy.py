"""Boltzmann policies and the mean-field value (docs/method.md 3)."""

from __future__ import annotations

import torch


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Numerically stable softmax over the last axis. ``(..., D)`` -> ``(..., D)``.

    Written out because ``torch.softmax`` over a short last axis (D ≈ 10, many rows) runs
    several times slower on the CPU than these three element-wise passes.
    """
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    exp = shifted.exp()
    return exp / exp.sum(dim=-1, keepdim=True)


def boltzmann_policy(q: torch.Tensor, beta: float) -> torch.Tensor:
    """``π(a) = softmax_a(β·Q(a))``. ``q: (..., D)`` -> probabilities ``(..., D)``."""
    return softmax(beta * q)


def boltzmann_log_policy(q: torch.Tensor, beta: float) -> torch.Tensor:
    """``log softmax_a(β·Q(a))``. ``q: (..., D)`` -> ``(..., D)``."""
    return torch.log_softmax(beta * q, dim=-1)


def mean_field_value(q: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``v^MF = Σ_a π(a)·Q(a)``. ``q, probs: (..., D)`` -> ``(...)``."""
    return (q * probs).sum(dim=-1)
