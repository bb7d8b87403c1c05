"""Boltzmann policies, the mean-field value and TD targets against hand-computed numbers."""

from __future__ import annotations

import math

import torch

from mfmarl.core import (
    boltzmann_log_policy,
    boltzmann_policy,
    double_dqn_target,
    dqn_target,
    mean_field_value,
    mfq_target,
)
from mfmarl.core.policy import log_softmax, softmax


def close(a: torch.Tensor, b: list | float, tol: float = 1e-6) -> None:
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), atol=tol, rtol=0)


def test_boltzmann_by_hand() -> None:
    q = torch.tensor([0.0, math.log(2.0)])
    close(boltzmann_policy(q, beta=1.0), [1 / 3, 2 / 3])  # e^0 : e^{ln 2} = 1 : 2
    close(boltzmann_policy(q, beta=2.0), [1 / 5, 4 / 5])  # 1 : e^{2 ln 2} = 1 : 4
    close(boltzmann_log_policy(q, beta=1.0), [math.log(1 / 3), math.log(2 / 3)])


def test_boltzmann_prefers_higher_q_and_is_stable() -> None:
    q = torch.tensor([[1000.0, 1000.0 + math.log(2.0)], [-5.0, -5.0]])
    close(boltzmann_policy(q, beta=1.0), [[1 / 3, 2 / 3], [0.5, 0.5]], tol=1e-4)
    close(softmax(torch.zeros(3)), [1 / 3, 1 / 3, 1 / 3])


def test_softmax_on_every_layout_by_hand() -> None:
    """Batched rows, 3-D groups and a long axis give the hand values, and so does the
    gradient (the short-axis path runs on a transposed view)."""
    row = [0.0, math.log(2.0), math.log(5.0)]  # 1 : 2 : 5
    expected = [1 / 8, 2 / 8, 5 / 8]
    q = torch.tensor([row] * 4000)
    close(softmax(q), [expected] * 4000)
    close(log_softmax(q), [[math.log(p) for p in expected]] * 4000)
    close(softmax(torch.tensor([[row, row[::-1]]])), [[expected, expected[::-1]]])
    wide = torch.zeros(2, 40)
    wide[:, 0] = math.log(40.0)  # 40 : 1 : ... : 1, 79 in all
    close(softmax(wide)[:, 0], [40 / 79, 40 / 79])
    sharp = torch.tensor([[0.0, -3000.0, -6000.0]])  # β·Q with a large β: exactly one-hot
    close(softmax(sharp), [[1.0, 0.0, 0.0]])
    x = torch.tensor([row] * 3, requires_grad=True)
    (log_softmax(x)[:, 0]).sum().backward()
    assert x.grad is not None
    close(x.grad, [[1 - 1 / 8, -2 / 8, -5 / 8]] * 3)  # ∂ log π_0 / ∂ x = e_0 − π


def test_mean_field_value_by_hand() -> None:
    q = torch.tensor([1.0, 2.0, 3.0])
    probs = torch.tensor([0.2, 0.3, 0.5])
    close(mean_field_value(q, probs), 0.2 * 1 + 0.3 * 2 + 0.5 * 3)  # 2.3


def test_mfq_target_with_done_mask() -> None:
    reward = torch.tensor([1.0, 2.0])
    done = torch.tensor([0.0, 1.0])
    next_q = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    probs = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    # 1 + 0.9 * 2.3 = 3.07; the second transition ends the episode: just its reward.
    close(mfq_target(reward, done, next_q, probs, gamma=0.9), [3.07, 2.0], tol=1e-5)


def test_dqn_target_with_done_mask() -> None:
    reward = torch.tensor([1.0, 2.0])
    done = torch.tensor([0.0, 1.0])
    next_q = torch.tensor([[1.0, 4.0, 2.0], [9.0, 9.0, 9.0]])
    close(dqn_target(reward, done, next_q, gamma=0.5), [1 + 0.5 * 4, 2.0])


def test_double_dqn_uses_online_argmax_and_target_value() -> None:
    reward = torch.tensor([0.0, 1.0, 1.0])
    done = torch.tensor([0.0, 0.0, 1.0])
    online = torch.tensor([[1.0, 4.0, 2.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    target = torch.tensor([[10.0, 20.0, 30.0], [7.0, 8.0, 9.0], [1.0, 1.0, 1.0]])
    # argmax online = 1, 1, 0 -> target values 20, 8, (done) -> 0 + 10, 1 + 4, 1.
    close(double_dqn_target(reward, done, online, target, gamma=0.5), [10.0, 5.0, 1.0])
    # A plain max over the target net would have taken 30 and 9 instead.
    close(dqn_target(reward, done, target, gamma=0.5), [15.0, 5.5, 1.0])
