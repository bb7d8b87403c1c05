"""Seeded learning test on Battle-shaped inputs: every learner must learn, from replayed
agent arrays, to attack the cell where its view shows an opponent. It fails if the view
encoder, the TD/critic fit or the actor update breaks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.buffers import Batch
from mfmarl.experiments.battle.env import ATTACK_BASE, ATTACKS, N_ACTIONS, VIEW_RADIUS

VIEW = (13, 13, 5)
FEATURES = 32
AGENTS = 16


def _states(rng: np.random.Generator, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, AGENTS, obs_dim)`` inputs with one opponent (channels 3, 4) in a random
    attack cell ``k`` of each agent's view, and ``k (steps, AGENTS)``."""
    view = np.zeros((steps, AGENTS, *VIEW), dtype=np.float32)
    view[..., VIEW_RADIUS, VIEW_RADIUS, 1:3] = 1.0  # the agent itself: own team, full hp
    k = rng.integers(0, len(ATTACKS), size=(steps, AGENTS))
    rows, cols = VIEW_RADIUS + ATTACKS[k, 1], VIEW_RADIUS + ATTACKS[k, 0]
    s, a = np.meshgrid(np.arange(steps), np.arange(AGENTS), indexing="ij")
    view[s, a, rows, cols, 3] = 1.0
    view[s, a, rows, cols, 4] = rng.uniform(0.2, 1.0, size=(steps, AGENTS))
    features = np.zeros((steps, AGENTS, FEATURES), dtype=np.float32)
    return np.concatenate([view.reshape(steps, AGENTS, -1), features], axis=-1), k


def _batch(rng: np.random.Generator, steps: int = 4) -> Batch:
    """One-step episodes: +0.2 − 0.1 for hitting the opponent, −0.1 for another attack, 0
    for a move; half the agents are dead (masked)."""
    obs, k = _states(rng, steps)
    actions = rng.integers(0, N_ACTIONS, size=(steps, AGENTS))
    rewards = np.where(actions == ATTACK_BASE + k, 0.1, np.where(actions >= ATTACK_BASE, -0.1, 0))
    alive = np.zeros((steps, AGENTS), dtype=np.float32)
    alive[:, : AGENTS // 2] = 1.0
    rewards = np.where(alive > 0, rewards, 5.0)  # garbage in dead slots must not matter
    mean = rng.dirichlet(np.ones(N_ACTIONS), size=(steps, AGENTS)).astype(np.float32)

    def t(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(x, dtype=dtype)

    return Batch(
        obs=t(obs),
        actions=t(actions, torch.int64),
        mean_action=t(mean),
        rewards=t(rewards),
        next_obs=t(obs),
        next_mean_action=t(mean),
        dones=t(np.ones((steps, AGENTS))),
        alive=t(alive),
    )


def _learner_and_probe(algo: str, **overrides: float | str):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = AlgorithmConfig(algo=algo, beta_start=100.0, beta_end=100.0, **overrides)  # type: ignore[arg-type]
    obs_dim = int(np.prod(VIEW)) + FEATURES
    learner = make_learner(config, obs_dim, N_ACTIONS, AGENTS, seed=0, view_shape=VIEW)
    test_obs, test_k = _states(np.random.default_rng(99), 8)
    obs_t = torch.as_tensor(test_obs)
    mean_t = torch.full((8, AGENTS, N_ACTIONS), 1.0 / N_ACTIONS)
    right = torch.as_tensor(ATTACK_BASE + test_k).unsqueeze(-1)

    @torch.no_grad()
    def probe() -> tuple[float, float]:
        """P(attack the opponent) under the policy; how often Q ranks that attack first."""
        q_net = learner.q if algo in ("mfq", "iql") else learner.critic
        q_first = (q_net(obs_t, mean_t).argmax(-1, keepdim=True) == right).float().mean()
        return float(
            learner.policy.probabilities(obs_t, mean_t, 0).gather(-1, right).mean()
        ), float(q_first)

    return learner, probe


@pytest.mark.parametrize(("algo", "precision"), [("mfq", "fp32"), ("iql", "fp32"), ("mfq", "bf16")])
def test_q_learners_learn_to_attack_the_opponent_in_view(algo: str, precision: str) -> None:
    learner, probe = _learner_and_probe(algo, lr=1e-3, precision=precision)
    rng = np.random.default_rng(0)
    before, _ = probe()
    for _ in range(250):
        learner.update(_batch(rng), step=0)
    after, q_first = probe()
    assert before < 0.1  # about 1/21 at the start
    assert q_first > 0.9 and after > 0.6, f"{algo}: P(hit) {before:.3f} -> {after:.3f}"


@pytest.mark.parametrize(
    ("algo", "precision"), [("mfac", "fp32"), ("iac", "fp32"), ("mfac", "bf16")]
)
def test_actor_critics_learn_where_the_opponent_is(algo: str, precision: str) -> None:
    """The critic first (the actor nearly frozen): it must rank the right attack first. Then
    the actor: its preference for the right attack over the other attacks must grow. (Its
    total attack probability falls meanwhile: most attacks miss, and the policy gradient
    learns that state-independent fact faster than where the opponent is; docs/battle.md.)"""
    learner, probe = _learner_and_probe(
        algo, lr=1e-3, actor_lr=1e-7, actor_gradient="expected", precision=precision
    )
    rng = np.random.default_rng(0)
    for _ in range(250):
        learner.update(_batch(rng), step=0)
    _, q_first = probe()
    assert q_first > 0.9
    before = attack_preference(learner)
    for group in learner.actor_optimizer.param_groups:
        group["lr"] = 1e-4
    for _ in range(100):
        learner.update(_batch(rng), step=0)
    after = attack_preference(learner)
    assert before < 1.02 and after > 1.08, f"{algo}: preference {before:.3f} -> {after:.3f}"


def attack_preference(learner) -> float:  # type: ignore[no-untyped-def]
    """Mean over probe states of P(the right attack) / mean P(another attack)."""
    obs, k = _states(np.random.default_rng(99), 8)
    with torch.no_grad():
        probs = learner.policy.probabilities(
            torch.as_tensor(obs), torch.zeros(8, AGENTS, N_ACTIONS), 0
        )
    right = probs.gather(-1, torch.as_tensor(ATTACK_BASE + k).unsqueeze(-1)).squeeze(-1)
    others = (probs[..., ATTACK_BASE:].sum(-1) - right) / (len(ATTACKS) - 1)
    return float((right / others).mean())
