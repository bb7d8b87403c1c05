"""The generic defaults lay ε and β out over the env's own episode length: found on a
PettingZoo ``parallel_env`` made the standard way (an AEC env under wrappers, converted with
``parallel_wrapper_fn``), where ``max_cycles`` sits on the raw env four links down."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import AgentSelector, wrappers
from pettingzoo.utils.conversions import parallel_wrapper_fn

from mfmarl.envs.pettingzoo import ParallelEnvAdapter
from mfmarl.training.defaults import default_algorithm, episode_length_hint


class TwoCoins(AECEnv):  # type: ignore[misc]
    """Two agents call heads or tails for ``max_cycles`` rounds; a match pays 1 each."""

    metadata = {"name": "two_coins_v0", "is_parallelizable": True}

    def __init__(self, max_cycles: int = 37) -> None:
        super().__init__()
        self.render_mode = None
        self.max_cycles = max_cycles
        self.possible_agents = ["coin_0", "coin_1"]
        self._obs = spaces.Box(0.0, 1.0, (2,), np.float32)
        self._act = spaces.Discrete(2)

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._act

    def observe(self, agent: str) -> np.ndarray:
        return np.asarray(self._last, dtype=np.float32)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self._selector = AgentSelector(self.agents)
        self.agent_selection = self._selector.reset()
        self._last, self._calls, self._rounds = [0, 0], {}, 0

    def step(self, action: int) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self._calls[agent] = int(action)
        if self._selector.is_last():
            self._rounds += 1
            match = float(self._calls["coin_0"] == self._calls["coin_1"])
            self.rewards = {a: match for a in self.agents}
            self._last = [self._calls["coin_0"], self._calls["coin_1"]]
            if self._rounds >= self.max_cycles:
                self.truncations = {a: True for a in self.agents}
        else:
            self._clear_rewards()
        self.agent_selection = self._selector.next()
        self._accumulate_rewards()


def two_coins_aec(**kwargs: Any) -> AECEnv:
    return wrappers.OrderEnforcingWrapper(wrappers.AssertOutOfBoundsWrapper(TwoCoins(**kwargs)))


two_coins_parallel = parallel_wrapper_fn(two_coins_aec)


def test_max_cycles_is_found_under_the_wrappers_of_a_standard_parallel_env() -> None:
    env = two_coins_parallel(max_cycles=37)
    assert not hasattr(env, "max_cycles") or env.max_cycles == 37  # not on the outer wrapper
    adapter = ParallelEnvAdapter(env)
    assert episode_length_hint(adapter) == 37
    steps = episode_length_hint(adapter)
    config = default_algorithm("mfq", episodes=10, steps=steps, view=False, overrides={})
    assert config.epsilon_steps == config.beta_steps == 10 * 37 // 2


def test_the_limit_on_the_adapter_wins_and_none_anywhere_gives_200() -> None:
    class Limited:
        max_steps = 12
        env = type("Inner", (), {"max_cycles": 99})()

    assert episode_length_hint(Limited()) == 12
    loop: Any = type("Loop", (), {})()
    loop.env = loop  # a wrapper chain that cycles ends the search
    assert episode_length_hint(loop) == 200
    assert episode_length_hint(type("Flag", (), {"max_steps": True})()) == 200  # a bool
