"""One-step TD targets with done masks. All inputs share the leading shape ``(...)``."""

from __future__ import annotations

import torch

from mfmarl.core.policy import mean_field_value


def mfq_target(
    reward: torch.Tensor,
    done: torch.Tensor,
    next_q: torch.Tensor,
    next_probs: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """MF-Q: ``y = r + γ(1 − done)·Σ_a π(a|s', ā')·Q⁻(s', a, ā')``.

    ``reward, done: (...)``; ``next_q, next_probs: (..., D)`` -> ``(...)``.
    """
    return reward + gamma * (1.0 - done) * mean_field_value(next_q, next_probs)


def dqn_target(
    reward: torch.Tensor, done: torch.Tensor, next_q: torch.Tensor, gamma: float
) -> torch.Tensor:
    """DQN: ``y = r + γ(1 − done)·max_a Q⁻(s', a)``. ``next_q: (..., D)`` -> ``(...)``."""
    return reward + gamma * (1.0 - done) * next_q.max(dim=-1).values


def double_dqn_target(
    reward: torch.Tensor,
    done: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """Double DQN: the online net picks ``a* = argmax Q(s', ·)``, the target net values it:
    ``y = r + γ(1 − done)·Q⁻(s', a*)``. ``next_q_*: (..., D)`` -> ``(...)``."""
    best = next_q_online.argmax(dim=-1, keepdim=True)
    return reward + gamma * (1.0 - done) * next_q_target.gather(-1, best).squeeze(-1)
