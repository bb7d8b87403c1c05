"""Learners with grid-view observations (Battle): acting, fitting, checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.buffers import AgentReplay
from mfmarl.core.errors import ConfigError
from mfmarl.networks import ViewActor, ViewQNetwork
from mfmarl.training.checkpoint import learner_from_checkpoint, save_checkpoint

VIEW = (13, 13, 5)
FEATURES = 32
OBS = 13 * 13 * 5 + FEATURES
AGENTS, ACTIONS = 6, 21


def _replay(seed: int = 0) -> AgentReplay:
    rng = np.random.default_rng(seed)
    replay = AgentReplay(8, AGENTS, (OBS,), ACTIONS)
    for _ in range(8):
        mean = rng.dirichlet(np.ones(ACTIONS), size=AGENTS).astype(np.float32)
        replay.add(
            rng.random((AGENTS, OBS), dtype=np.float32),
            rng.integers(0, ACTIONS, AGENTS),
            mean,
            rng.normal(size=AGENTS).astype(np.float32),
            rng.random((AGENTS, OBS), dtype=np.float32),
            mean,
            (rng.random(AGENTS) < 0.2).astype(np.float32),
            (rng.random(AGENTS) < 0.9).astype(np.float32),
        )
    return replay


@pytest.mark.parametrize("algo", ["mfq", "mfac", "iql", "iac"])
def test_view_learner_acts_and_fits_a_fixed_batch(algo: str) -> None:
    config = AlgorithmConfig(algo=algo, gamma=0.9, lr=1e-3, actor_lr=1e-3)  # type: ignore[arg-type]
    learner = make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW)
    network = learner.q if algo in ("mfq", "iql") else learner.critic  # type: ignore[attr-defined]
    assert isinstance(network, ViewQNetwork)
    assert network.use_mean_action == (algo in ("mfq", "mfac"))
    if algo in ("mfac", "iac"):
        assert isinstance(learner.actor, ViewActor)  # type: ignore[attr-defined]
    obs = np.random.default_rng(1).random((AGENTS, OBS), dtype=np.float32)
    actions, probs = learner.act(obs, np.full((AGENTS, ACTIONS), 1 / ACTIONS, np.float32), 0)
    assert actions.shape == (AGENTS,) and np.allclose(probs.sum(-1), 1.0, atol=1e-5)
    batch = _replay().latest(8)
    first = learner.update(batch)["losses/td_loss"]
    for _ in range(60):
        last = learner.update(batch)["losses/td_loss"]
    assert last < 0.5 * first


def test_view_learner_checkpoint_round_trip(tmp_path: Path) -> None:
    config = AlgorithmConfig(algo="mfq")
    learner = make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW)
    learner.update(_replay().latest(8))
    save_checkpoint(tmp_path / "ckpt", learner)
    restored = learner_from_checkpoint(tmp_path / "ckpt")
    assert restored.view_shape == VIEW
    obs = torch.rand(1, AGENTS, OBS)
    mean = torch.full((1, AGENTS, ACTIONS), 1 / ACTIONS)
    assert torch.equal(restored.q(obs, mean), learner.q(obs, mean))  # type: ignore[attr-defined]


def test_view_networks_need_shared_parameters() -> None:
    config = AlgorithmConfig(algo="mfq", parameter_sharing="per-agent")
    with pytest.raises(ConfigError, match="shared"):
        make_learner(config, OBS, ACTIONS, AGENTS, view_shape=VIEW)


def test_bf16_encoder_stays_close_to_fp32_and_trains_float32_weights() -> None:
    """precision=bf16 runs the view encoder in bfloat16 (its Q-values differ from the fp32
    pass of the same weights, by far less than the spread between actions), keeps every
    parameter and gradient float32, and returns float32 Q-values."""
    torch.manual_seed(0)
    fp32 = ViewQNetwork((13, 13, 5), 32, 21, use_mean_action=True)
    bf16 = ViewQNetwork((13, 13, 5), 32, 21, use_mean_action=True, precision="bf16")
    bf16.load_state_dict(fp32.state_dict())
    obs = (torch.rand(2, 16, 13 * 13 * 5 + 32) < 0.3).float()
    mean = torch.rand(2, 16, 21)
    exact, low = fp32(obs, mean), bf16(obs, mean)
    assert low.dtype == torch.float32
    gap = (exact - low).abs().max()
    spread = (exact.max(-1).values - exact.min(-1).values).min()
    assert 0 < gap < 0.02 * spread, f"gap {gap:.2e}, smallest spread between actions {spread:.2e}"
    low.sum().backward()
    for name, p in bf16.named_parameters():
        assert p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32
        assert torch.isfinite(p.grad).all(), name
    with pytest.raises(ConfigError, match="precision"):
        ViewQNetwork((13, 13, 5), 32, 21, use_mean_action=True, precision="fp8")
