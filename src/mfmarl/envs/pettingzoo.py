"""Any PettingZoo ``ParallelEnv`` with ``Discrete`` actions as groups of slot arrays.

Agents are grouped by the prefix of their names (the MAgent2 convention, ``red_3`` -> ``red``;
a name without ``_<number>`` is a group of its own) or by a mapping the caller passes. Every
agent of ``possible_agents`` owns one fixed slot of its group for the whole run, so an agent
that dies leaves its slot masked and an agent that joins later finds its slot waiting: no slot
is ever shared. The agents of a group must share one observation space and one ``Discrete``
action space.

Observations are flattened to float32 rows. A 3-D ``Box`` observation ``(H, W, C)`` is taken as
a channels-last grid view (``GroupSpec.view_shape``), which the networks read with
convolutions; a ``Dict`` of a 3-D ``view`` and a 1-D ``features`` Box as the view followed by
the features (the layout of the MAgent2 fast path); anything else is a flat vector. Image
observations (a ``uint8`` Box from 0 to 255) are scaled to [0, 1], as Stable-Baselines3 does
for image spaces. An
environment with an ``episode_info()`` method (scalars about the finished episode) has them
logged as ``env/...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.base import EnvStep, GroupObs, GroupSpec, GroupStep

GroupOf = Callable[[str], str]
_NUMBERED = re.compile(r"^(.*)_(\d+)$")


def prefix_group(agent: str) -> str:
    """``red_3`` -> ``red``; a name without a ``_<number>`` suffix is its own group."""
    match = _NUMBERED.match(agent)
    return match.group(1) if match else agent


class ParallelEnvAdapter:
    """A :class:`~mfmarl.envs.base.MultiGroupEnv` over a PettingZoo ``ParallelEnv``.

    ``groups``: ``{agent: group}`` or a function of the agent name (default:
    :func:`prefix_group`). ``continuing``: whether ā carries over between episodes (a repeated
    game); default False.
    """

    def __init__(
        self,
        env: Any,
        groups: Mapping[str, str] | GroupOf | None = None,
        continuing: bool = False,
    ) -> None:
        self.env = env
        self.continuing = continuing
        of: GroupOf
        if groups is None:
            of = prefix_group
        elif callable(groups):
            of = groups
        else:
            mapping = dict(groups)
            of = mapping.__getitem__
        agents = list(getattr(env, "possible_agents", []))
        if not agents:
            env.reset(seed=0)
            agents = list(getattr(env, "possible_agents", []) or env.agents)
        require(bool(agents), "the environment has no agents")
        try:
            names = [of(a) for a in agents]
        except KeyError as exc:
            raise ConfigError(f"no group given for agent {exc}") from exc
        self.names: list[str] = list(dict.fromkeys(names))
        self.members: list[list[str]] = [
            [a for a, g in zip(agents, names) if g == name] for name in self.names
        ]
        self.slot_of: dict[str, tuple[int, int]] = {
            agent: (g, i)
            for g, members in enumerate(self.members)
            for i, agent in enumerate(members)
        }
        self._scales: dict[str, float] = {}
        """Per group name: the factor its Box observations are multiplied by (image: 1/255)."""
        self.groups = tuple(
            self._spec(name, members) for name, members in zip(self.names, self.members)
        )
        self._scale_of = [self._scales.get(name, 1.0) for name in self.names]
        self._alive = [np.zeros(len(m), dtype=bool) for m in self.members]
        self._obs = [
            np.zeros((len(m), s.obs_dim), dtype=np.float32)
            for m, s in zip(self.members, self.groups)
        ]
        self._returns: list[float] = [0.0] * len(self.names)

    def _spec(self, name: str, members: Sequence[str]) -> GroupSpec:
        import gymnasium

        obs_spaces = [self.env.observation_space(a) for a in members]
        act_spaces = [self.env.action_space(a) for a in members]
        first_obs, first_act = obs_spaces[0], act_spaces[0]
        require(
            isinstance(first_act, gymnasium.spaces.Discrete),
            f"group {name}: actions must be Discrete, got {type(first_act).__name__}",
        )
        require(
            all(s == first_act for s in act_spaces) and all(s == first_obs for s in obs_spaces),
            f"group {name}: its agents have different spaces; pass a grouping that keeps "
            "agents of one kind together",
        )
        if isinstance(first_obs, gymnasium.spaces.Dict):
            return self._view_features_spec(name, members, first_obs, int(first_act.n))
        require(
            isinstance(first_obs, gymnasium.spaces.Box),
            f"group {name}: observations must be a Box, got {type(first_obs).__name__}",
        )
        shape = tuple(int(v) for v in first_obs.shape)
        view = shape if len(shape) == 3 else None
        self._scales[name] = _pixel_scale(first_obs)
        return GroupSpec(
            name,
            len(members),
            int(np.prod(shape)) if shape else 1,
            int(first_act.n),
            view_shape=view,  # type: ignore[arg-type]
        )

    @staticmethod
    def _view_features_spec(
        name: str, members: Sequence[str], space: Any, n_actions: int
    ) -> GroupSpec:
        """A ``Dict(view=(H, W, C), features=(F,))`` observation: a view and its features."""
        view, features = space.spaces.get("view"), space.spaces.get("features")
        require(
            set(space.spaces) == {"view", "features"}
            and len(getattr(view, "shape", ())) == 3
            and len(getattr(features, "shape", ())) == 1,
            f"group {name}: a Dict observation must hold a 3-D 'view' and a 1-D 'features' "
            f"Box, got {space}",
        )
        shape = tuple(int(v) for v in view.shape)
        size = int(np.prod(shape))
        return GroupSpec(
            name,
            len(members),
            size + int(features.shape[0]),
            n_actions,
            view_shape=shape,  # type: ignore[arg-type]
        )

    # -- API ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[GroupObs, ...]:
        observations, _ = self.env.reset(seed=seed)
        for alive, obs in zip(self._alive, self._obs):
            alive[:] = False
            obs[:] = 0.0
        self._returns = [0.0] * len(self.names)
        for agent, value in observations.items():
            g, i = self._slot(agent)
            self._write(g, i, value)
            self._alive[g][i] = True
        return self._snapshot(self._alive)

    def _write(self, g: int, i: int, value: Any) -> None:
        """Agent ``i`` of group ``g``'s observation into its row (a view and features Dict
        as ``[view, features]``)."""
        row = self._obs[g][i]
        if isinstance(value, Mapping):
            view = np.asarray(value["view"], dtype=np.float32).reshape(-1)
            row[: view.size] = view
            row[view.size :] = np.asarray(value["features"], dtype=np.float32).reshape(-1)
        else:
            row[:] = np.asarray(value, dtype=np.float32).reshape(-1)
            scale = self._scale_of[g]
            if scale != 1.0:
                row *= scale

    def _slot(self, agent: str) -> tuple[int, int]:
        slot = self.slot_of.get(agent)
        if slot is None:
            raise ConfigError(f"agent {agent!r} is not in the environment's possible_agents")
        return slot

    def _snapshot(self, alive: Sequence[np.ndarray]) -> tuple[GroupObs, ...]:
        return tuple(GroupObs(o.copy(), a.copy()) for o, a in zip(self._obs, alive))

    def step(self, actions: Sequence[np.ndarray]) -> EnvStep:
        before = [a.copy() for a in self._alive]
        chosen: dict[str, int] = {}
        for agent in self.env.agents:
            g, i = self._slot(agent)
            chosen[agent] = int(actions[g][i])
        observations, rewards, terminations, truncations, _ = self.env.step(chosen)
        n = [len(m) for m in self.members]
        reward = [np.zeros(k, dtype=np.float32) for k in n]
        terminated = [np.zeros(k, dtype=bool) for k in n]
        truncated = [np.zeros(k, dtype=bool) for k in n]
        for agent, value in rewards.items():
            g, i = self._slot(agent)
            reward[g][i] = float(value)
        for agent, value in observations.items():
            g, i = self._slot(agent)
            self._write(g, i, value)
        for flags, source in ((terminated, terminations), (truncated, truncations)):
            for agent, value in source.items():
                if value:
                    g, i = self._slot(agent)
                    flags[g][i] = True
        living = set(self.env.agents)
        for g, members in enumerate(self.members):
            ended = terminated[g] | truncated[g]
            for i, agent in enumerate(members):
                self._alive[g][i] = agent in living and not ended[i]
            # an agent that acted and vanished without a flag ended all the same
            gone = before[g] & ~self._alive[g] & ~ended
            terminated[g] |= gone
            reward[g] *= before[g]
            self._returns[g] += float(reward[g].sum())
        done = not living
        steps = tuple(
            GroupStep(GroupObs(o.copy(), a.copy()), r, te, tr)
            for o, a, r, te, tr in zip(self._obs, self._alive, reward, terminated, truncated)
        )
        return EnvStep(steps, done, {})

    def episode_info(self) -> dict[str, float]:
        """The environment's own ``episode_info()`` when it has one, else nothing."""
        own = getattr(self.env, "episode_info", None)
        return {str(k): float(v) for k, v in own().items()} if callable(own) else {}


def _pixel_scale(space: Any) -> float:
    """1/255 for an image observation (a ``uint8`` Box whose values span 0 to 255), else 1."""
    low, high = np.asarray(space.low), np.asarray(space.high)
    image = space.dtype == np.uint8 and bool((low == 0).all()) and bool((high == 255).all())
    return 1.0 / 255.0 if image else 1.0
