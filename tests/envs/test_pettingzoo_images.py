"""Image observations through the generic PettingZoo adapter: a ``uint8`` Box from 0 to 255
is read as a channels-last view scaled to [0, 1]; other Boxes keep their values."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from mfmarl.envs.pettingzoo import ParallelEnvAdapter


class Camera(ParallelEnv):  # type: ignore[misc]
    """Two cameras that see a constant image (``pixel`` everywhere) for two steps."""

    metadata = {"name": "camera_v0"}

    def __init__(self, dtype: Any = np.uint8, high: float = 255, pixel: float = 51) -> None:
        self.possible_agents = ["cam_0", "cam_1"]
        self.dtype, self.pixel = dtype, pixel
        self._obs = spaces.Box(0, high, (6, 5, 3), dtype)
        self._act = spaces.Discrete(2)

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._act

    def _image(self) -> np.ndarray:
        return np.full((6, 5, 3), self.pixel, dtype=self.dtype)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        self.agents, self.t = list(self.possible_agents), 0
        return {a: self._image() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> Any:
        self.t += 1
        done = self.t >= 2
        obs = {a: self._image() for a in self.agents}
        rewards = {a: 0.0 for a in self.agents}
        flags = {a: False for a in self.agents}
        truncs = {a: done for a in self.agents}
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, flags, truncs, infos


def test_a_uint8_image_is_a_view_scaled_to_unit_range() -> None:
    adapter = ParallelEnvAdapter(Camera())
    (spec,) = adapter.groups
    assert spec.view_shape == (6, 5, 3) and spec.obs_dim == 90
    (first,) = adapter.reset(seed=0)
    np.testing.assert_allclose(first.obs, 51 / 255)  # 0.2
    (step,) = adapter.step([np.zeros(2, dtype=np.int64)]).groups
    np.testing.assert_allclose(step.next.obs, 0.2)


def test_other_boxes_keep_their_values() -> None:
    for env in (Camera(np.float32, 255.0, 51.0), Camera(np.uint8, 100, 51)):
        (first,) = ParallelEnvAdapter(env).reset(seed=0)
        np.testing.assert_array_equal(first.obs, 51.0)
