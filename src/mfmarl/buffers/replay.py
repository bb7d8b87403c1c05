"""A ring buffer of whole agent-array transitions.

Each slot holds one environment step of a team: every agent's observation, action, mean
actions, reward, next observation, done flag and alive mask. Sampling draws whole steps, so
the agent axis survives (per-agent parameters need it) and dead agents stay masked.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from mfmarl.core.errors import require


class Batch(NamedTuple):
    """A batch of B steps of n agents (torch tensors)."""

    obs: torch.Tensor
    """(B, n, *obs_shape) observations o_t."""
    actions: torch.Tensor
    """(B, n) int64 actions a_t."""
    mean_action: torch.Tensor
    """(B, n, D) ā at which Q(o_t, a_t, ā) is fitted (realised ā_t or previous ā_{t−1})."""
    rewards: torch.Tensor
    """(B, n) rewards r_t."""
    next_obs: torch.Tensor
    """(B, n, *obs_shape) observations o_{t+1}."""
    next_mean_action: torch.Tensor
    """(B, n, D) ā expected at o_{t+1} (the realised ā_t)."""
    dones: torch.Tensor
    """(B, n) 1.0 where the agent's episode ended at this step (death included)."""
    alive: torch.Tensor
    """(B, n) 1.0 where the agent was alive at o_t (only those transitions count)."""


class AgentReplay:
    """Ring buffer of ``capacity`` steps of ``n_agents`` agents."""

    def __init__(
        self,
        capacity: int,
        n_agents: int,
        obs_shape: tuple[int, ...],
        n_actions: int,
        obs_dtype: np.dtype = np.dtype(np.float32),
    ) -> None:
        require(capacity > 0, f"buffer capacity={capacity} must be > 0")
        self.capacity = capacity
        self.size = 0
        self._next = 0
        shape = (capacity, n_agents)
        self.obs = np.zeros(shape + obs_shape, dtype=obs_dtype)
        self.next_obs = np.zeros(shape + obs_shape, dtype=obs_dtype)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.mean_action = np.zeros(shape + (n_actions,), dtype=np.float32)
        self.next_mean_action = np.zeros(shape + (n_actions,), dtype=np.float32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.dones = np.zeros(shape, dtype=np.float32)
        self.alive = np.zeros(shape, dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        mean_action: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        next_mean_action: np.ndarray,
        dones: np.ndarray,
        alive: np.ndarray,
    ) -> None:
        """Store one step; arrays have the agent axis first (``(n, ...)``)."""
        i = self._next
        self.obs[i] = obs
        self.actions[i] = actions
        self.mean_action[i] = mean_action
        self.rewards[i] = rewards
        self.next_obs[i] = next_obs
        self.next_mean_action[i] = next_mean_action
        self.dones[i] = dones
        self.alive[i] = alive
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator, device: str = "cpu") -> Batch:
        """Draw ``batch_size`` stored steps uniformly (with replacement)."""
        require(self.size > 0, "cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, size=batch_size)
        return self._batch(idx, device)

    def latest(self, count: int, device: str = "cpu") -> Batch:
        """The ``count`` most recent steps (for on-policy style updates)."""
        count = min(count, self.size)
        idx = (self._next - 1 - np.arange(count)) % self.capacity
        return self._batch(idx, device)

    def _batch(self, idx: np.ndarray, device: str) -> Batch:
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a[idx], device=device)

        return Batch(
            obs=t(self.obs).float(),
            actions=t(self.actions),
            mean_action=t(self.mean_action),
            rewards=t(self.rewards),
            next_obs=t(self.next_obs).float(),
            next_mean_action=t(self.next_mean_action),
            dones=t(self.dones),
            alive=t(self.alive),
        )
