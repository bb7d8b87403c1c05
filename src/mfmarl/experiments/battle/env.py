"""Battle (docs/method.md 6.3): two armies on the MAgent2 grid world, the paper's main
experiment.

:func:`make_battle_parallel_env` is the PettingZoo ``ParallelEnv`` (``battle_v4``'s
``magent_parallel_env`` with this module's engine config and layout: team size and rewards
are configurable); :func:`make_battle_env` puts the fast MAgent2 adapter
(:class:`~mfmarl.envs.magent2.MAgent2Env`) on it for training. With the default settings
both give the same observations and rewards as ``magent2.environments.battle_v4`` for the same
seed and actions (tested).

Engine facts this module relies on (magent2 0.3.4): actions 0–12 are moves (6 = stay), 13–20
attacks; ``get_pos`` is ``(x, y)`` while views are ``[row = y, col = x]``; the engine reuses
its observation buffers (copied here); every living agent must get an action; rewards and
alive flags must be read before ``clear_dead()``, after which survivors keep their order.
Import torch before magent2 when both are used (magent2 sets ``OMP_NUM_THREADS``): this
module imports magent2 lazily, inside the functions that build an engine.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from mfmarl.core.errors import require
from mfmarl.envs.magent2 import MAgent2Env
from mfmarl.envs.source import EnvSource
from mfmarl.evaluation.matches import Arena

N_ACTIONS = 21
"""13 moves (6 = stay) and 8 attacks."""
STAY = 6
ATTACK_BASE = 13
MOVES = np.array(
    [
        (0, -2),
        (-1, -1),
        (0, -1),
        (1, -1),
        (-2, 0),
        (-1, 0),
        (0, 0),
        (1, 0),
        (2, 0),
        (-1, 1),
        (0, 1),
        (1, 1),
        (0, 2),
    ],
    dtype=np.int64,
)
"""``(dx, dy)`` of move actions 0–12."""
ATTACKS = np.array(
    [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)], dtype=np.int64
)
"""``(dx, dy)`` of the cell hit by attack action ``13 + k`` (the engine's ``view2attack``)."""
VIEW_RADIUS = 6
"""A view is ``13 × 13`` cells with the agent at ``(6, 6)``."""
KILL_REWARD = 5.0
"""battle_v4's ``KILL_REWARD`` constant."""
GAP = 3
"""Half the empty gap between the armies in the battle layout."""
TEAM_NAMES = ("red", "blue")


@dataclass(frozen=True)
class BattleConfig:
    """Settings of a battle (defaults: the paper's 64 v 64 on 40 × 40, battle_v4's rewards)."""

    map_size: int = 40
    """Side of the square map (>= 12)."""
    team_size: int | None = None
    """Agents per team; None: battle_v4's layout (12 on a 20 map, 16 on 24, 64 on 40)."""
    max_steps: int = 400
    """Episode length limit (battle_v4's ``max_cycles``)."""
    minimap: bool = False
    """The engine's minimap mode: 2 more view channels and 2 more features (position)."""
    extra_features: bool = False
    """PettingZoo path only: append the features as view channels (battle_v4's option).
    :class:`BattleEnv` always returns the features as their own array."""
    step_reward: float = -0.005
    """Reward of every living agent every step."""
    attack_penalty: float = -0.1
    """Reward of any attack action."""
    attack_opponent_reward: float = 0.2
    """Added when the attack hits an opponent."""
    kill_reward: float = KILL_REWARD
    """Reward for killing an opponent."""
    dead_penalty: float = -0.1
    """Reward of an agent when it dies."""

    def __post_init__(self) -> None:
        require(
            isinstance(self.map_size, (int, np.integer)) and 12 <= self.map_size <= 2000,
            f"map_size={self.map_size} must be an integer in [12, 2000]",
        )
        require(
            isinstance(self.max_steps, (int, np.integer)) and self.max_steps >= 1,
            f"max_steps={self.max_steps} must be an integer >= 1",
        )
        for name in (
            "step_reward",
            "attack_penalty",
            "attack_opponent_reward",
            "kill_reward",
            "dead_penalty",
        ):
            value = getattr(self, name)
            require(abs(value) <= 1e6, f"{name}={value} must be in [-1e6, 1e6]")
        if self.team_size is not None:
            require(
                isinstance(self.team_size, (int, np.integer))
                and 1 <= self.team_size <= self.map_size**2,
                f"team_size={self.team_size} must be an integer in [1, map_size²]",
            )
            placed = len(battle_layout(self.map_size, self.team_size)[0])
            require(
                placed >= self.team_size,
                f"team_size={self.team_size} does not fit on a {self.map_size} map "
                f"(at most {placed} with the battle layout)",
            )

    @property
    def n_agents(self) -> int:
        """Agents per team."""
        return len(battle_layout(self.map_size, self.team_size)[0])


def _army(map_size: int, side: int, left: bool) -> list[tuple[int, int]]:
    """battle_v4's square of agents on every second cell, ``side`` cells wide."""
    half = map_size // 2
    x0 = half - GAP - side if left else half + GAP
    y0 = (map_size - side) // 2
    return [
        (x, y)
        for x in range(x0, x0 + side, 2)
        for y in range(y0, y0 + side, 2)
        if 0 < x < map_size - 1 and 0 < y < map_size - 1
    ]


def battle_layout(
    map_size: int, team_size: int | None = None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Start positions ``(x, y)`` of the left (team 0) and right (team 1) armies.

    ``team_size=None`` gives battle_v4's ``generate_map`` exactly, in its order (which is the
    engine's agent order). A given size uses the same layout with a square just big enough and
    keeps the ``team_size`` positions nearest the front line (fewer when the map is too small).
    """
    if team_size is None:
        side = int(math.sqrt(map_size * map_size * 0.04)) * 2
        left = _army(map_size, side, True)
        return left, _army(map_size, side, False)[: len(left)]
    side = 2 * math.ceil(math.sqrt(team_size))
    armies = []
    for is_left in (True, False):
        pos = _army(map_size, side, is_left)
        # stable sort by distance to the middle: front columns first, order kept within
        front = sorted(range(len(pos)), key=lambda i: abs(2 * pos[i][0] + 1 - map_size))
        keep = sorted(front[:team_size])
        armies.append([pos[i] for i in keep])
    n = min(len(armies[0]), len(armies[1]))
    return armies[0][:n], armies[1][:n]


def engine_config(config: BattleConfig, seed: int | None = None) -> Any:
    """The ``magent2.gridworld.Config`` of battle_v4's ``get_config`` with ``config``'s rewards."""
    from magent2 import gridworld as gw

    cfg = gw.Config()
    cfg.set({"map_width": config.map_size, "map_height": config.map_size})
    cfg.set({"minimap_mode": config.minimap})
    cfg.set({"embedding_size": 10})
    if seed is not None:
        cfg.set({"seed": int(seed)})
    small = cfg.register_agent_type(
        "small",
        {
            "width": 1,
            "length": 1,
            "hp": 10,
            "speed": 2,
            "view_range": gw.CircleRange(6),
            "attack_range": gw.CircleRange(1.5),
            "damage": 2,
            "kill_reward": config.kill_reward,
            "step_recover": 0.1,
            "step_reward": config.step_reward,
            "dead_penalty": config.dead_penalty,
            "attack_penalty": config.attack_penalty,
        },
    )
    g0, g1 = cfg.add_group(small), cfg.add_group(small)
    a = gw.AgentSymbol(g0, index="any")
    b = gw.AgentSymbol(g1, index="any")
    cfg.add_reward_rule(gw.Event(a, "attack", b), receiver=a, value=config.attack_opponent_reward)
    cfg.add_reward_rule(gw.Event(b, "attack", a), receiver=b, value=config.attack_opponent_reward)
    return cfg


def _add_armies(engine: Any, handles: list[Any], config: BattleConfig) -> None:
    for handle, army in zip(handles, battle_layout(config.map_size, config.team_size)):
        engine.add_agents(handle, method="custom", pos=[(x, y, 0) for x, y in army])


def make_battle_parallel_env(
    config: BattleConfig | None = None, render_mode: str | None = None, seed: int | None = None
) -> Any:
    """PettingZoo ``ParallelEnv`` of the battle (agents ``red_i``, ``blue_i``).

    It is battle_v4's wrapper (``magent_parallel_env``) on this module's engine config and
    layout, so team size and kill reward are configurable too; ``max_cycles`` is
    ``config.max_steps``. Observations are ``(13, 13, C)``, with the features appended as
    channels when ``config.extra_features``.
    """
    import magent2
    from gymnasium.utils import EzPickle
    from magent2.environments.magent_env import magent_parallel_env

    cfg = config or BattleConfig()

    class BattleParallelEnv(magent_parallel_env, EzPickle):  # type: ignore[misc]
        metadata = {
            "render_modes": ["human", "rgb_array"],
            "name": "battle_v4",
            "render_fps": 5,
        }

        def __init__(self) -> None:
            EzPickle.__init__(self, cfg, render_mode, seed)
            engine = magent2.GridWorld(engine_config(cfg, seed), map_size=cfg.map_size)
            values = np.array(
                [
                    cfg.kill_reward,
                    cfg.step_reward,
                    cfg.dead_penalty,
                    cfg.attack_penalty,
                    cfg.attack_opponent_reward,
                ]
            )
            reward_range = [np.minimum(values, 0).sum(), np.maximum(values, 0).sum()]
            super().__init__(
                engine,
                engine.get_handles(),
                list(TEAM_NAMES),
                cfg.map_size,
                cfg.max_steps,
                reward_range,
                cfg.minimap,
                cfg.extra_features,
                render_mode,
            )

        def generate_map(self) -> None:
            _add_armies(self.env, list(self.handles), cfg)

        def reset(self, seed: int | None = None, options: dict | None = None) -> Any:
            # magent_parallel_env.reset counts the teams before placing them, so the first
            # step after a reset would drop every action (magent2 0.3.4); count them again.
            result = super().reset(seed=seed, options=options)
            self.team_sizes = [self.env.get_num(h) for h in self.handles]
            return result

    return BattleParallelEnv()


class MirroredBattleParallelEnv(ParallelEnv):  # type: ignore[misc]
    """The Battle experiment's environment as a PettingZoo ``ParallelEnv``: what the generic
    adapter trains on (``mfmarl train battle --no-fast``).

    It wraps :func:`make_battle_parallel_env` (features on) and shows each army the inputs
    the fast path (:func:`make_battle_env`) gives its learners: per agent ``{"view": (13, 13,
    C), "features": (F,)}`` with the id bits zeroed, the right army (``blue``) seeing the
    world mirrored left–right (view columns reversed, its last-action one-hot and the
    actions it sends mirrored), and an episode that ends when an army is wiped out. Tested
    step for step against the fast path.
    """

    metadata = {"name": "battle_mirrored", "render_modes": []}
    MIRRORED = ("blue",)

    def __init__(self, config: BattleConfig) -> None:
        import gymnasium

        from mfmarl.envs.magent2_engine import (
            action_layout,
            mirror_actions,
            mirrored_feature_columns,
        )

        require(
            not config.minimap,
            "--no-fast: the minimap is only mirrored on the fast path; drop --no-fast or --minimap",
        )
        self.config = config
        self.inner = make_battle_parallel_env(dataclasses.replace(config, extra_features=True))
        engine, handle = self.inner.env, self.inner.handles[0]
        h, w, self.channels = (int(v) for v in engine.get_view_space(handle))
        features = int(engine.get_feature_space(handle)[0])
        self.mapping = mirror_actions(action_layout(engine, handle))
        self.id_bits = features - N_ACTIONS - 1
        self.columns = mirrored_feature_columns(self.id_bits, self.mapping, features)
        self.possible_agents: list[str] = list(self.inner.possible_agents)
        self.agents: list[str] = []
        low, high = np.float32(-np.inf), np.float32(np.inf)
        self._space = gymnasium.spaces.Dict(
            {
                "view": gymnasium.spaces.Box(low, high, (h, w, self.channels), np.float32),
                "features": gymnasium.spaces.Box(low, high, (features,), np.float32),
            }
        )
        self._placed = [0] * len(TEAM_NAMES)

    def observation_space(self, agent: str) -> Any:
        return self._space

    def action_space(self, agent: str) -> Any:
        return self.inner.action_space(agent)

    @staticmethod
    def team(agent: str) -> str:
        return agent.rsplit("_", 1)[0]

    def _learner_obs(self, agent: str, obs: np.ndarray) -> dict[str, np.ndarray]:
        view = obs[..., : self.channels]
        features = obs[0, 0, self.channels :]
        if self.team(agent) in self.MIRRORED:
            view, features = view[:, ::-1, :], features[self.columns]
        features = np.array(features, dtype=np.float32)
        features[: self.id_bits] = 0.0  # with a mirrored army, ids would tell the sides apart
        return {"view": np.ascontiguousarray(view, dtype=np.float32), "features": features}

    def reset(self, seed: int | None = None, options: dict | None = None) -> Any:
        observations, infos = self.inner.reset(seed=seed, options=options)
        self.agents = list(self.inner.agents)
        self._placed = self._living()
        return {a: self._learner_obs(a, o) for a, o in observations.items()}, infos

    def step(self, actions: dict[str, int]) -> Any:
        sent = {
            a: int(self.mapping[int(v)]) if self.team(a) in self.MIRRORED else int(v)
            for a, v in actions.items()
        }
        observations, rewards, terminations, truncations, infos = self.inner.step(sent)
        living = list(self.inner.agents)
        if living and min(self._living()) == 0:
            # an army is wiped out: the battle ends and the survivors' episode terminates
            for agent in living:
                terminations[agent] = True
            living = []
        self.agents = living
        learner_obs = {a: self._learner_obs(a, o) for a, o in observations.items()}
        return learner_obs, rewards, terminations, truncations, infos

    def _living(self) -> list[int]:
        """Living agents per army, from the engine."""
        return [int(self.inner.env.get_num(h)) for h in self.inner.handles]

    def episode_info(self) -> dict[str, float]:
        """Per army: deaths, survivors and kills (as the fast path reports them)."""
        living = self._living()
        deaths = [placed - alive for placed, alive in zip(self._placed, living)]
        info: dict[str, float] = {}
        for t, name in enumerate(TEAM_NAMES):
            info[f"{name}/deaths"] = float(deaths[t])
            info[f"{name}/survivors"] = float(living[t])
            info[f"{name}/kills"] = float(deaths[1 - t])
        return info


def make_mirrored_battle_parallel_env(**settings: Any) -> MirroredBattleParallelEnv:
    """:class:`MirroredBattleParallelEnv` from :class:`BattleConfig` fields (an env factory)."""
    return MirroredBattleParallelEnv(BattleConfig(**settings))


BATTLE_FACTORY = "mfmarl.experiments.battle.env:make_battle_env"
MIRRORED_FACTORY = "mfmarl.experiments.battle.env:make_mirrored_battle_parallel_env"


def battle_source(config: BattleConfig | None = None, fast: bool = True) -> EnvSource:
    """The :class:`~mfmarl.envs.source.EnvSource` of the Battle experiment's environment
    (``fast=False``: :class:`MirroredBattleParallelEnv` through the generic PettingZoo
    adapter)."""
    factory = BATTLE_FACTORY if fast else MIRRORED_FACTORY
    return EnvSource(factory, dataclasses.asdict(config or BattleConfig()))


def battle_arena(config: BattleConfig | None = None) -> Arena:
    """The two armies of a battle as an arena for matches: red (left) v blue (right)."""
    return Arena(battle_source(config), (("red",), ("blue",)))


def make_battle_env(**settings: Any) -> MAgent2Env:
    """The Battle experiment's environment (an env factory): :class:`BattleConfig` fields ->
    the fast MAgent2 adapter over :func:`make_battle_parallel_env`, with the right army
    (``blue``) mirrored left–right so that one network plays either side, and an episode
    that ends when an army is wiped out or after ``max_steps``."""
    config = BattleConfig(**settings)
    return MAgent2Env(
        make_battle_parallel_env(config),
        mirror=("blue",),
        end_when_empty=True,
        max_steps=config.max_steps,
        name="battle",
    )
