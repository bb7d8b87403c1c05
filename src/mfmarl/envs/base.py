"""The batched agent-array boundary between environments and the training loop."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np


class StepResult(NamedTuple):
    """What one environment step returns, per agent."""

    obs: np.ndarray
    """(n, obs_dim) next observations."""
    rewards: np.ndarray
    """(n,) rewards."""
    dones: np.ndarray
    """(n,) booleans: the agent's episode ended (a death or the end of the game)."""
    info: dict[str, float]
    """Scalar statistics of the step (logged as ``env/<key>``)."""


class AgentArrayEnv(Protocol):
    """One call steps every agent: obs ``(n, obs_dim)``, actions ``(n,)``, rewards ``(n,)``."""

    n_agents: int
    n_actions: int
    obs_dim: int
    continuing: bool
    """True for a repeated game: the mean action carries over from one episode to the next."""

    def reset(self) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> StepResult: ...
