"""A ring buffer of whole agent-array transitions.

Each slot holds one environment step of a team: every agent's observation, action, mean
actions, reward, next observation, done flag and alive mask. Sampling draws whole steps, so
the agent axis survives (per-agent parameters need it) and dead agents stay masked.

Observations dominate the memory. With ``binary_columns`` (a mask over a flat observation of
the columns whose values are only ever 0 or 1, such as Battle's presence channels and one-hot
features) those columns are stored as uint8 and the rest in ``obs_dtype``: sampled
observations are bit-for-bit what was added. A binary column that receives any other value
switches the buffer to plain storage (converting what it holds), so nothing is ever rounded.
"""

from __future__ import annotations

import math
import os
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


def living_rows(batch: Batch) -> Batch:
    """The batch's living agent-transitions only, as one step: every field ``(1, k, ...)``.

    Rows whose ``alive`` is 0 count in no loss, so dropping them before the forward passes
    changes no gradient and saves their compute when many agents are dead. The batch is
    returned as it is when everyone (or no one) is alive.
    """
    mask = batch.alive > 0
    k = int(mask.sum())
    if k == mask.numel() or k == 0:
        return batch
    return Batch(*(field[mask].unsqueeze(0) for field in batch))


class StoredObs(NamedTuple):
    """An observation ``(n, *obs_shape)`` as a store keeps it: ``bits`` (uint8) and ``real``
    columns, or ``plain`` when the store is not compact."""

    bits: np.ndarray | None
    real: np.ndarray | None
    plain: np.ndarray | None


class ObservationStore:
    """``(capacity, n, *obs_shape)`` observations, optionally split into uint8 and real columns.

    ``binary_columns: (obs_dim,)`` bool (flat observations only) marks the columns stored as
    uint8; :meth:`get` returns float32 ``(len(idx), n, *obs_shape)`` equal to what was put.
    """

    def __init__(
        self,
        capacity: int,
        n_agents: int,
        obs_shape: tuple[int, ...],
        dtype: np.dtype,
        binary_columns: np.ndarray | None = None,
    ) -> None:
        self.shape = (capacity, n_agents, *obs_shape)
        self.dtype = np.dtype(dtype)
        self.plain: np.ndarray | None = None
        self.bits = np.zeros((0,), dtype=np.uint8)
        self.real = np.zeros((0,), dtype=self.dtype)
        mask = None if binary_columns is None else np.asarray(binary_columns, dtype=bool)
        if mask is None or not mask.any():
            self.plain = np.zeros(self.shape, dtype=self.dtype)
            return
        require(
            len(obs_shape) == 1 and mask.shape == obs_shape,
            f"binary_columns {mask.shape} must match flat observations {obs_shape}",
        )
        # index arrays, not boolean masks: np.take with them returns C-contiguous columns,
        # which copy into the store about 10x faster than the strided result of boolean
        # indexing on the last axis (and they scatter back a little faster too)
        self.binary_cols = np.flatnonzero(mask)
        self.real_cols = np.flatnonzero(~mask)
        self.bits = np.zeros((capacity, n_agents, int(mask.sum())), dtype=np.uint8)
        self.real = np.zeros((capacity, n_agents, int((~mask).sum())), dtype=self.dtype)

    @property
    def compact(self) -> bool:
        """Whether binary columns are stored as uint8."""
        return self.plain is None

    @property
    def nbytes(self) -> int:
        if self.plain is not None:
            return int(self.plain.nbytes)
        return int(self.bits.nbytes + self.real.nbytes)

    def encode(self, obs: np.ndarray) -> StoredObs:
        """``obs: (n, *obs_shape)`` split as :meth:`put` stores it (switching the store to plain
        storage if a binary column holds anything but 0 or 1)."""
        if self.plain is None:
            binary = np.take(obs, self.binary_cols, axis=-1)
            bits = binary.astype(np.uint8)
            if np.array_equal(bits, binary):
                return StoredObs(bits, np.take(obs, self.real_cols, axis=-1), None)
            self._expand()
        return StoredObs(None, None, obs)

    def put(self, i: int, obs: np.ndarray | StoredObs) -> StoredObs:
        """Store ``obs: (n, *obs_shape)``, or one :meth:`encode` returned, at step slot ``i``;
        return it encoded (arrays valid until slot ``i`` is written again)."""
        stored = obs if isinstance(obs, StoredObs) else self.encode(obs)
        if stored.plain is not None and self.plain is None:
            self._expand()
        if self.plain is None:
            assert stored.bits is not None and stored.real is not None
            self.bits[i], self.real[i] = stored.bits, stored.real
            return stored
        if stored.plain is not None:
            self.plain[i] = stored.plain
        else:
            self.plain[i][..., self.binary_cols] = stored.bits
            self.plain[i][..., self.real_cols] = stored.real
        return StoredObs(None, None, self.plain[i])

    def get(self, idx: np.ndarray) -> np.ndarray:
        """Observations of step slots ``idx: (B,)`` -> ``(B, n, *obs_shape)``."""
        if self.plain is not None:
            return self.plain[idx]
        out = np.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
        out[..., self.binary_cols] = self.bits[idx]
        out[..., self.real_cols] = self.real[idx]
        return out

    def _expand(self) -> None:
        """Switch to plain storage, keeping every stored value."""
        plain = np.zeros(self.shape, dtype=self.dtype)
        plain[..., self.binary_cols] = self.bits
        plain[..., self.real_cols] = self.real
        self.plain = plain
        self.bits = np.zeros((0,), dtype=np.uint8)
        self.real = np.zeros((0,), dtype=self.dtype)


class AgentReplay:
    """Ring buffer of ``capacity`` steps of ``n_agents`` agents.

    ``binary_columns``: optional ``(obs_dim,)`` bool mask of observation columns holding only
    0/1, stored as uint8 (exact; see the module docstring).
    """

    def __init__(
        self,
        capacity: int,
        n_agents: int,
        obs_shape: tuple[int, ...],
        n_actions: int,
        obs_dtype: np.dtype = np.dtype(np.float32),
        binary_columns: np.ndarray | None = None,
    ) -> None:
        require(capacity > 0, f"buffer capacity={capacity} must be > 0")
        obs_size = int(np.prod(obs_shape, dtype=np.float64))
        per_row = 2 * obs_size * np.dtype(obs_dtype).itemsize + 8 * n_actions + 20
        require_fits_in_memory(
            "the replay buffer (--buffer-size)", float(capacity) * n_agents * per_row
        )
        self.capacity = capacity
        self.n_agents = n_agents
        self.size = 0
        self._next = 0
        shape = (capacity, n_agents)
        self.obs = ObservationStore(capacity, n_agents, obs_shape, obs_dtype, binary_columns)
        self.next_obs = ObservationStore(capacity, n_agents, obs_shape, obs_dtype, binary_columns)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.mean_action = np.zeros(shape + (n_actions,), dtype=np.float32)
        self.next_mean_action = np.zeros(shape + (n_actions,), dtype=np.float32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.dones = np.zeros(shape, dtype=np.float32)
        self.alive = np.zeros(shape, dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes of every stored array (allocated for the full capacity)."""
        arrays = (
            self.actions,
            self.mean_action,
            self.next_mean_action,
            self.rewards,
            self.dones,
            self.alive,
        )
        return self.obs.nbytes + self.next_obs.nbytes + sum(int(a.nbytes) for a in arrays)

    @property
    def bytes_per_agent_transition(self) -> float:
        """:attr:`nbytes` per stored agent-transition at full capacity."""
        return self.nbytes / (self.capacity * self.n_agents)

    def add(
        self,
        obs: np.ndarray | StoredObs,
        actions: np.ndarray,
        mean_action: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        next_mean_action: np.ndarray,
        dones: np.ndarray,
        alive: np.ndarray,
    ) -> StoredObs:
        """Store one step; arrays have the agent axis first (``(n, ...)``).

        Returns ``next_obs`` as stored: a caller whose next step starts from this
        ``next_obs`` passes the returned value as that step's ``obs`` (valid until the next
        :meth:`add`), which saves converting the same observation twice.
        """
        i = self._next
        self.obs.put(i, obs)
        self.actions[i] = actions
        self.mean_action[i] = mean_action
        self.rewards[i] = rewards
        stored_next = self.next_obs.put(i, next_obs)
        self.next_mean_action[i] = next_mean_action
        self.dones[i] = dones
        self.alive[i] = alive
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return stored_next

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

        def o(store: ObservationStore) -> torch.Tensor:
            return torch.as_tensor(store.get(idx), device=device).float()

        return Batch(
            obs=o(self.obs),
            actions=t(self.actions),
            mean_action=t(self.mean_action),
            rewards=t(self.rewards),
            next_obs=o(self.next_obs),
            next_mean_action=t(self.next_mean_action),
            dones=t(self.dones),
            alive=t(self.alive),
        )


def physical_memory_bytes() -> float:
    """This machine's physical memory (inf when the OS does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return math.inf


def require_fits_in_memory(what: str, n_bytes: float) -> None:
    """Raise :class:`ConfigError` when ``n_bytes`` exceed this machine's physical memory
    (checked before allocating, so a huge size fails in one line instead of swapping)."""
    total = physical_memory_bytes()
    require(
        n_bytes <= total,
        f"{what} needs {n_bytes / 2**30:.1f} GiB, more than this machine's "
        f"{total / 2**30:.1f} GiB of memory (lower its size)",
    )
