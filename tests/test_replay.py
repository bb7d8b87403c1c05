"""The agent-array replay buffer: storage, ring wrap-around, sampling, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfmarl.buffers import AgentReplay
from mfmarl.core import ConfigError

N, D, OBS = 3, 4, (2,)


def _add(buffer: AgentReplay, k: int) -> None:
    """Store step ``k``: every field is filled with values derived from k."""
    buffer.add(
        obs=np.full((N, *OBS), k, dtype=np.float32),
        actions=np.full(N, k % D),
        mean_action=np.full((N, D), k / 10, dtype=np.float32),
        rewards=np.full(N, float(k)),
        next_obs=np.full((N, *OBS), k + 1, dtype=np.float32),
        next_mean_action=np.full((N, D), (k + 1) / 10, dtype=np.float32),
        dones=np.array([k % 2, 0, 1], dtype=np.float32),
        alive=np.array([1, 1, k % 2], dtype=np.float32),
    )


def test_shapes_and_dtypes() -> None:
    buffer = AgentReplay(capacity=5, n_agents=N, obs_shape=OBS, n_actions=D)
    for k in range(3):
        _add(buffer, k)
    assert len(buffer) == 3
    batch = buffer.sample(7, np.random.default_rng(0))
    assert batch.obs.shape == (7, N, *OBS) and batch.obs.dtype == torch.float32
    assert batch.actions.shape == (7, N) and batch.actions.dtype == torch.int64
    assert batch.mean_action.shape == batch.next_mean_action.shape == (7, N, D)
    assert batch.rewards.shape == batch.dones.shape == batch.alive.shape == (7, N)
    # Every sampled step is internally consistent (fields of one step stay together).
    step_id = batch.rewards[:, 0]
    torch.testing.assert_close(batch.obs[:, 0, 0], step_id)
    torch.testing.assert_close(batch.next_obs[:, 0, 0], step_id + 1)
    torch.testing.assert_close(batch.alive[:, 2], step_id.remainder(2))


def test_ring_overwrites_the_oldest_step() -> None:
    buffer = AgentReplay(capacity=3, n_agents=N, obs_shape=OBS, n_actions=D)
    for k in range(5):
        _add(buffer, k)
    assert len(buffer) == 3
    stored = set(buffer.rewards[:, 0].tolist())
    assert stored == {2.0, 3.0, 4.0}
    latest = buffer.latest(2)
    assert latest.rewards[:, 0].tolist() == [4.0, 3.0]
    assert buffer.latest(10).rewards.shape[0] == 3


def test_sampling_is_seeded() -> None:
    buffer = AgentReplay(capacity=10, n_agents=N, obs_shape=OBS, n_actions=D)
    for k in range(10):
        _add(buffer, k)
    a = buffer.sample(6, np.random.default_rng(42)).rewards
    b = buffer.sample(6, np.random.default_rng(42)).rewards
    torch.testing.assert_close(a, b)


def test_errors() -> None:
    with pytest.raises(ConfigError, match="capacity"):
        AgentReplay(capacity=0, n_agents=N, obs_shape=OBS, n_actions=D)
    empty = AgentReplay(capacity=2, n_agents=N, obs_shape=OBS, n_actions=D)
    with pytest.raises(ConfigError, match="empty"):
        empty.sample(1, np.random.default_rng(0))
