"""A small custom PettingZoo environment for mfmarl: locals and tourists choose where to go.

Agents live along a street (agent ``i`` of a group at ``home = i / (n − 1)``, venue ``v`` at
``v / (V − 1)``). Every step each agent picks one of the ``n_venues`` venues. A venue is
pleasant until it fills: an agent's reward is ``1 − attendance / capacity − travel·distance``
at the venue it chose, plus ``bonus`` at its group's favourite (venue 0 for locals, the last
venue for tourists). Everyone at their favourite is a crush; spread out, everyone does well.
An agent observes its home, last step's attendance of every venue (as fractions of the crowd)
and its own last venue (one-hot).

This is a mean field game: an agent's reward depends on its own action and on how many others
chose each venue, the mean action of the crowd. Two groups (``locals_i``, ``tourists_i``) with
different tastes make it a two-type game: ``mfmarl train pettingzoo --env
examples.crowd:make_env --mean-field locals=own+tourists --mean-field tourists=own+locals``
gives each agent both groups' means.

Train it (from the repository root)::

    mfmarl train pettingzoo --env examples.crowd:make_env --episodes 150 --out runs/crowd
    python -m examples.train_crowd
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv


class CrowdEnv(ParallelEnv):
    """See the module docstring."""

    metadata = {"name": "crowd_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        n_locals: int = 20,
        n_tourists: int = 20,
        n_venues: int = 4,
        bonus: float = 0.3,
        travel: float = 1.0,
        max_cycles: int = 25,
    ) -> None:
        if min(n_locals, n_tourists) < 1 or n_venues < 2 or max_cycles < 1:
            raise ValueError("need at least one local, one tourist, two venues and one step")
        self.n_venues = n_venues
        self.bonus = bonus
        self.travel = travel
        self.max_cycles = max_cycles
        self.possible_agents = [f"locals_{i}" for i in range(n_locals)] + [
            f"tourists_{i}" for i in range(n_tourists)
        ]
        self.capacity = len(self.possible_agents) / n_venues
        self.home = {
            a: i / max(1, k - 1)
            for k, names in (
                (n_locals, self.possible_agents[:n_locals]),
                (n_tourists, self.possible_agents[n_locals:]),
            )
            for i, a in enumerate(names)
        }
        self.venues = np.linspace(0.0, 1.0, n_venues)
        self.agents: list[str] = []
        self.render_mode = None
        self._attendance = np.zeros(n_venues)
        self._last: dict[str, int] = {}
        self._cycle = 0

    @functools.cache  # noqa: B019 - PettingZoo asks for cached spaces
    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return gymnasium.spaces.Box(0.0, 1.0, shape=(1 + 2 * self.n_venues,), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        return gymnasium.spaces.Discrete(self.n_venues)

    def _favourite(self, agent: str) -> int:
        return 0 if agent.startswith("locals") else self.n_venues - 1

    def _observe(self, agent: str) -> np.ndarray:
        obs = np.zeros(1 + 2 * self.n_venues, dtype=np.float32)
        obs[0] = self.home[agent]
        obs[1 : 1 + self.n_venues] = self._attendance / len(self.possible_agents)
        if agent in self._last:
            obs[1 + self.n_venues + self._last[agent]] = 1.0
        return obs

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        self.agents = list(self.possible_agents)
        self._attendance = np.zeros(self.n_venues)
        self._last = {}
        self._cycle = 0
        return {a: self._observe(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        chosen = {a: int(actions[a]) for a in self.agents}
        self._attendance = np.bincount(list(chosen.values()), minlength=self.n_venues)
        rewards = {
            a: float(1.0 - self._attendance[v] / self.capacity)
            - self.travel * abs(self.home[a] - self.venues[v])
            + (self.bonus if v == self._favourite(a) else 0.0)
            for a, v in chosen.items()
        }
        self._last = chosen
        self._cycle += 1
        done = self._cycle >= self.max_cycles
        obs = {a: self._observe(a) for a in self.agents}
        terminations = {a: False for a in self.agents}
        truncations = {a: done for a in self.agents}
        infos: dict[str, dict] = {a: {} for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos


def make_env(**settings: Any) -> CrowdEnv:
    """The environment factory mfmarl records and calls: ``CrowdEnv(**settings)``."""
    return CrowdEnv(**settings)
