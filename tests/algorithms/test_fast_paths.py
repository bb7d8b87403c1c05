"""The learners' fast paths give what the plain computations give."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.algorithms.base import ACT_CHUNK, soft_update
from mfmarl.algorithms.lagged import LaggedCopy, averaging_interval
from mfmarl.buffers import Batch

VIEW = (13, 13, 5)
OBS = 13 * 13 * 5 + 32
AGENTS, ACTIONS = 8, 21


def _batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    alive = torch.tensor([[1, 0, 1, 1, 0, 1, 1, 0]], dtype=torch.float32)
    return Batch(
        obs=torch.rand(1, AGENTS, OBS, generator=g),
        actions=torch.randint(0, ACTIONS, (1, AGENTS), generator=g),
        mean_action=torch.rand(1, AGENTS, ACTIONS, generator=g),
        rewards=torch.randn(1, AGENTS, generator=g),
        next_obs=torch.rand(1, AGENTS, OBS, generator=g),
        next_mean_action=torch.rand(1, AGENTS, ACTIONS, generator=g),
        dones=(torch.rand(1, AGENTS, generator=g) < 0.3).float(),
        alive=alive,
    )


def test_soft_update_by_hand() -> None:
    target, source = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        target.weight.copy_(torch.tensor([[1.0, 2.0]]))
        target.bias.fill_(4.0)
        source.weight.copy_(torch.tensor([[3.0, -2.0]]))
        source.bias.fill_(0.0)
    soft_update(target, source, 0.25)  # 0.75 * target + 0.25 * source
    assert target.weight.tolist() == [[1.5, 1.0]] and target.bias.tolist() == [3.0]
    soft_update(target, source, 1.0)
    assert torch.equal(target.weight, source.weight) and torch.equal(target.bias, source.bias)


def test_averaging_interval_by_hand() -> None:
    """k = ⌊(1/64)/τ⌋ updates between moves, within [1, 16]."""
    assert averaging_interval(1 / 8000) == 16  # the Battle preset's average
    assert averaging_interval(1 / 640) == 10
    assert averaging_interval(1 / 128) == 2
    assert averaging_interval(1 / 100) == 1
    assert averaging_interval(0.05) == 1
    assert averaging_interval(0.0) == 1


def _scalar(value: float) -> nn.Linear:
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(value)
    return layer


def test_a_copy_moving_every_k_updates_by_hand() -> None:
    """τ = 1/2 every 2nd update: rate 1 − (1/2)² = 3/4, applied after updates 2 and 4 only."""
    source = _scalar(0.0)
    copy = LaggedCopy(source, 0.5, every=2)
    assert copy.rate == 0.75
    seen = []
    for update, value in enumerate([2.0, 4.0, 6.0, 8.0], start=1):
        with torch.no_grad():
            source.weight.fill_(value)
        copy.follow(update)
        seen.append(copy.module.weight.item())
    assert seen == [0.0, 3.0, 3.0, 3.0 + 0.75 * (8.0 - 3.0)]
    with pytest.raises(ValueError, match="update's number"):
        copy.follow()
    with pytest.raises(ValueError, match="every=0"):
        LaggedCopy(source, 0.5, every=0)


def test_a_slow_average_moved_every_k_updates_tracks_the_average_moved_every_update() -> None:
    """Over a random walk of 4000 updates (τ = 1/800, k = 12), the average moved every 12th
    update by the compounded rate stays within 3 % of the walk's spread of the average moved
    every update; moving every 12th update by τ itself would lag far behind (checked too)."""
    tau = 1 / 800
    k = averaging_interval(tau)
    assert k == 12
    source = _scalar(0.0)
    every = LaggedCopy(source, tau)
    sparse = LaggedCopy(source, tau, every=k)
    uncompounded = LaggedCopy(source, tau, every=k)
    uncompounded.rate = tau  # what a forgotten compounding would do
    steps = torch.Generator().manual_seed(0)
    walk, gap, lag = [], 0.0, 0.0
    for update in range(1, 4001):
        with torch.no_grad():
            source.weight.add_(torch.randn(1, 1, generator=steps))
        for copy in (every, sparse, uncompounded):
            copy.follow(update)
        exact = every.module.weight.item()
        walk.append(exact)
        gap = max(gap, abs(sparse.module.weight.item() - exact))
        lag = max(lag, abs(uncompounded.module.weight.item() - exact))
    spread = max(walk) - min(walk)
    assert gap < 0.03 * spread
    assert lag > 0.3 * spread


@pytest.mark.parametrize("algo", ["mfq", "mfac"])
def test_dropping_dead_rows_changes_no_update(algo: str) -> None:
    """The update on the living rows only equals the masked update on every row (SGD, whose
    step is linear in the gradient; Adam would blow float noise in near-zero gradients up to
    a full step)."""
    config = AlgorithmConfig(
        algo=algo,  # type: ignore[arg-type]
        optimizer="sgd",
        lr=1e-2,
        actor_lr=1e-2,
        gamma=0.9,
    )
    fast = make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW, seed=3)
    plain = make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW, seed=3)
    plain.compact = lambda batch, normalizer: batch  # type: ignore[method-assign]
    for seed in range(3):
        a, b = fast.update(_batch(seed)), plain.update(_batch(seed))
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key
    for name, module in fast.modules().items():
        for p, q in zip(module.parameters(), plain.modules()[name].parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_acting_in_chunks_gives_the_one_pass_policy() -> None:
    n = ACT_CHUNK + 37
    config = AlgorithmConfig(algo="mfq", beta_start=3.0, beta_end=3.0)
    learner = make_learner(config, OBS, ACTIONS, n, view_shape=VIEW)
    rng = np.random.default_rng(0)
    obs = rng.random((n, OBS), dtype=np.float32)
    mean = rng.dirichlet(np.ones(ACTIONS), n).astype(np.float32)
    _, probs = learner.act(obs, mean, 0)
    with torch.no_grad():
        whole = learner.policy.probabilities(
            torch.from_numpy(obs)[None], torch.from_numpy(mean)[None], 0
        )[0]
    np.testing.assert_allclose(probs, whole.numpy(), rtol=1e-4, atol=1e-6)


def test_sample_categorical_draws_the_given_distribution() -> None:
    from mfmarl.algorithms.base import sample_categorical

    probs = np.array([[0.0, 0.2, 0.0, 0.5, 0.3], [0.0, 0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    g = torch.Generator().manual_seed(0)
    draws = np.stack([sample_categorical(probs, g) for _ in range(20_000)])
    assert (draws[:, 1] == 2).all()
    freq = np.bincount(draws[:, 0], minlength=5) / draws.shape[0]
    assert freq[0] == 0 and freq[2] == 0  # probability 0: never drawn
    # 20,000 draws: standard error of a frequency <= 0.0036, so 0.015 is over 4 of them
    np.testing.assert_allclose(freq, probs[0], atol=0.015, rtol=0)


@pytest.mark.parametrize("algo", ["mfq", "mfac"])
def test_acting_on_living_rows_only(algo: str) -> None:
    """With ``alive``, the living rows get the probabilities a pass over every row gives
    them, dead rows get action 0 and zero probabilities, and an all-dead team needs no pass."""
    config = AlgorithmConfig(algo=algo, epsilon_start=0.1, epsilon_end=0.1)  # type: ignore[arg-type]
    learner = make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW, seed=1)
    rng = np.random.default_rng(0)
    obs = rng.random((AGENTS, OBS), dtype=np.float32)
    mean = rng.random((AGENTS, ACTIONS), dtype=np.float32)
    alive = np.array([1, 0, 1, 1, 0, 1, 1, 0], dtype=bool)
    _, every = learner.act(obs, mean, 0)
    actions, probs = learner.act(obs, mean, 0, alive)
    np.testing.assert_allclose(probs[alive], every[alive], rtol=1e-5, atol=1e-7)
    assert (probs[~alive] == 0).all() and (actions[~alive] == 0).all()
    assert ((actions >= 0) & (actions < ACTIONS)).all()
    none, none_probs = learner.act(obs, mean, 0, np.zeros(AGENTS, dtype=bool))
    assert (none == 0).all() and (none_probs == 0).all()


@pytest.mark.parametrize("same_learner", [True, False])
def test_acting_together_equals_acting_in_turn(same_learner: bool) -> None:
    """act_together draws what one act() per army, in army order, draws: the same actions
    and probabilities from the same generators (one learner for both armies, or two),
    with dead rows, an all-dead army and a chunked army (more than ACT_CHUNK agents)."""
    from mfmarl.algorithms import act_together

    config = AlgorithmConfig(algo="mfq", epsilon_start=0.2, epsilon_end=0.2, beta_start=3.0)
    n = ACT_CHUNK + 5

    def learners() -> list:
        first = make_learner(config, OBS, ACTIONS, n, view_shape=VIEW, seed=1)
        second = (
            first
            if same_learner
            else make_learner(config, OBS, ACTIONS, n, seed=2, view_shape=VIEW)
        )
        return [first, second, first]

    rng = np.random.default_rng(0)
    obs = [rng.random((k, OBS), dtype=np.float32) for k in (AGENTS, n, AGENTS)]
    mean = [rng.random((k, ACTIONS), dtype=np.float32) for k in (AGENTS, n, AGENTS)]
    alive = [
        np.array([1, 0, 1, 1, 0, 1, 1, 0], dtype=bool),
        None,
        np.zeros(AGENTS, dtype=bool),
    ]
    in_turn = [lr.act(o, m, 5, a) for lr, o, m, a in zip(learners(), obs, mean, alive)]
    together = act_together([lr.policy for lr in learners()], obs, mean, 5, alive)
    for (a1, p1), (a2, p2) in zip(in_turn, together):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(p1, p2)
    assert (together[2][0] == 0).all() and (together[2][1] == 0).all()


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_gradient_clipping_matches_torch_bit_for_bit(scale: float) -> None:
    """Below the limit (no rescaling) and above it (rescaled), the learner's clipping leaves
    exactly the gradients ``clip_grad_norm_`` leaves."""
    config = AlgorithmConfig(algo="mfq", grad_clip=10.0)
    learner = make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW, seed=0)
    grads = [torch.randn_like(p) * scale for p in learner.q.parameters()]
    for p, g in zip(learner.q.parameters(), grads):
        p.grad = g.clone()
    learner.clip_gradients(learner.q, learner.q_tensors)
    expected = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(expected, grads):
        p.grad = g.clone()
    norm = nn.utils.clip_grad_norm_(expected, 10.0)
    assert (norm > 10.0) == (scale > 1)
    for p, e in zip(learner.q.parameters(), expected):
        assert torch.equal(p.grad, e.grad)
