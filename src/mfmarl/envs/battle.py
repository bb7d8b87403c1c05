"""Battle (docs/method.md 6.3): two armies on the MAgent2 grid world, the paper's main experiment.

Two paths onto the same engine (``magent2.GridWorld``, C++):

- :class:`BattleEnv`, the batched agent-array adapter for the trainers. Each team has a fixed
  array of ``n_max`` *slots*, one per agent placed at :meth:`BattleEnv.reset`; slot ``i`` is
  the same agent for the whole episode and a dead agent's slot is masked (``alive`` false,
  zeros everywhere). Everything is whole-array numpy: no per-agent Python loop.
- :func:`make_battle_parallel_env`, the PettingZoo ``ParallelEnv`` (``battle_v4``'s
  ``magent_parallel_env`` with this module's engine config and layout) for users.

With the default settings both give the same observations and rewards as
``magent2.environments.battle_v4.parallel_env`` for the same seed and actions (tested).

Engine facts this module relies on (magent2 0.3.4): actions 0–12 are moves (6 = stay), 13–20
attacks; ``get_pos`` is ``(x, y)`` while views are ``[row = y, col = x]``; the engine reuses
its observation buffers (copied here); every living agent must get an action; rewards and
alive flags must be read before ``clear_dead()``, after which survivors keep their order.
Import torch before magent2 when both are used (magent2 sets ``OMP_NUM_THREADS``): this
module imports magent2 lazily, inside the functions that build an engine.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from mfmarl.core.errors import require

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
            isinstance(self.map_size, (int, np.integer)) and self.map_size >= 12,
            f"map_size={self.map_size} must be an integer >= 12",
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
            require(math.isfinite(value), f"{name}={value} must be finite")
        if self.team_size is not None:
            require(
                isinstance(self.team_size, (int, np.integer)) and self.team_size >= 1,
                f"team_size={self.team_size} must be an integer >= 1",
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


class TeamObs(NamedTuple):
    """One team's arrays over its ``n_max`` slots; dead slots are zero (ids and positions −1)."""

    view: np.ndarray
    """(n_max, 13, 13, C) float32: walls, own team, own hp[, own minimap], opponents, their
    hp[, their minimap]; agent at [6, 6], indexed [row = y, col = x]."""
    features: np.ndarray
    """(n_max, F) float32: 10 id bits, one-hot last action (21), last reward[, x, y]."""
    alive: np.ndarray
    """(n_max,) bool."""
    ids: np.ndarray
    """(n_max,) int64 engine agent ids."""
    positions: np.ndarray
    """(n_max, 2) int64 ``(x, y)``."""
    opponent_positions: np.ndarray
    """(m, 2) int64 ``(x, y)`` of the living opponents (for scripted players; learners use
    the view)."""


class BattleStep(NamedTuple):
    """What :meth:`BattleEnv.step` returns; tuples are indexed by team (0, 1)."""

    obs: tuple[TeamObs, TeamObs]
    """Observations after the step. A slot that died in this step keeps its final
    observation (the next state of its last transition) with ``alive`` false."""
    rewards: tuple[np.ndarray, np.ndarray]
    """(n_max,) float32 rewards of the step; 0 for slots that were dead before it."""
    died: tuple[np.ndarray, np.ndarray]
    """(n_max,) bool: the slot's agent died in this step."""
    kills: tuple[int, int]
    """Opponents each team killed in this step."""
    done: bool
    """A team is wiped out, or ``max_steps`` is reached."""


class _EngineIO:
    """Reads and writes one engine through magent2's C library into caller-owned arrays.

    ``GridWorld``'s own getters ask the engine for the group size and allocate a fresh array
    on every call; the adapter knows both, so it calls the same C functions directly (a
    third of its step time at 64 v 64). Arrays must be C-contiguous with the dtypes below.
    """

    def __init__(self, engine: Any) -> None:
        from magent2.c_lib import _LIB

        self.lib = _LIB
        self.game = engine.game

    @staticmethod
    def _ptr(array: np.ndarray) -> ctypes.c_void_p:
        return ctypes.c_void_p(array.ctypes.data)

    def set_action(self, handle: Any, actions: np.ndarray) -> None:
        """``actions: (k,)`` int32, one per living agent of the group."""
        self.lib.env_set_action(self.game, handle, self._ptr(actions))

    def observation(self, handle: Any, view: np.ndarray, features: np.ndarray) -> None:
        """Fill ``view: (k, H, W, C)`` and ``features: (k, F)`` float32."""
        buffers = (ctypes.c_void_p * 2)(view.ctypes.data, features.ctypes.data)
        self.lib.env_get_observation(self.game, handle, buffers)

    def reward(self, handle: Any, out: np.ndarray) -> None:
        """Fill ``out: (k,)`` float32."""
        self.lib.env_get_reward(self.game, handle, self._ptr(out))

    def info(self, handle: Any, name: bytes, out: np.ndarray) -> None:
        """Fill ``out`` with ``b"alive"`` ((k,) bool), ``b"pos"`` ((k, 2) int32) or ``b"id"``."""
        self.lib.env_get_info(self.game, handle, name, self._ptr(out))


class BattleEnv:
    """Batched two-team battle on ``magent2.GridWorld``.

    ``reset(seed)`` places the armies as battle_v4 does and returns both teams'
    :class:`TeamObs`; ``step(actions_0, actions_1)`` takes one action per slot of each team
    (entries of dead slots are ignored) and returns a :class:`BattleStep`. Episode totals are
    in :attr:`kills` (opponents killed by each team) and :attr:`alive_counts`.

    Returned arrays are fresh (the engine's buffers are never exposed) and read-only by
    contract: while nobody has died, one team's ``positions`` array is also the other team's
    ``opponent_positions``. While a team has no dead slot the engine writes straight into
    them, with no intermediate copy.
    """

    def __init__(self, config: BattleConfig | None = None) -> None:
        import magent2

        self.config = config or BattleConfig()
        self.engine = magent2.GridWorld(engine_config(self.config), map_size=self.config.map_size)
        self.handles = list(self.engine.get_handles())
        self._io = _EngineIO(self.engine)
        self.n_max = self.config.n_agents
        self.n_actions = int(self.engine.get_action_space(self.handles[0])[0])
        self.view_shape = tuple(int(v) for v in self.engine.get_view_space(self.handles[0]))
        self.feature_dim = int(self.engine.get_feature_space(self.handles[0])[0])
        self.opponent_channel = 4 if self.config.minimap else 3
        """View channel of opponent presence (its hp is the next channel)."""
        self.steps = 0
        self.kills = [0, 0]
        self._slots = [np.arange(0), np.arange(0)]
        self._ids = [np.arange(0), np.arange(0)]
        self._obs: tuple[TeamObs, TeamObs] | None = None
        self._done = True

    # -- state -------------------------------------------------------------------------------
    @property
    def alive_counts(self) -> tuple[int, int]:
        return len(self._slots[0]), len(self._slots[1])

    @property
    def done(self) -> bool:
        return self._done

    def binary_input_columns(self) -> np.ndarray:
        """``(H·W·C + F,)`` bool: the columns of a flat input (view then features, as the
        trainers build it) whose engine values are only 0 or 1: the wall and presence
        channels, the id bits and the last-action one-hot. Mirroring keeps this mask."""
        channels = self.view_shape[2]
        view = np.zeros(self.view_shape, dtype=bool)
        view[..., [0, 1, self.opponent_channel]] = True
        features = np.zeros(self.feature_dim, dtype=bool)
        features[: ID_BITS + N_ACTIONS] = True
        assert channels > self.opponent_channel
        return np.concatenate([view.reshape(-1), features])

    def _read(self, team: int) -> tuple[TeamObs, np.ndarray, np.ndarray]:
        """``team``'s slot arrays from the engine's current agents (before ``clear_dead``):
        ``(obs without opponent positions, engine_alive (k,), living positions (m, 2))``."""
        handle, slots, io = self.handles[team], self._slots[team], self._io
        k, n = len(slots), self.n_max
        pos = np.empty((k, 2), dtype=np.int32)
        engine_alive = np.empty(k, dtype=bool)
        io.info(handle, b"pos", pos)
        io.info(handle, b"alive", engine_alive)
        everyone = bool(engine_alive.all())
        if k == n:  # no dead slot before this step: slot i is engine agent i
            v = np.empty((n, *self.view_shape), dtype=np.float32)
            f = np.empty((n, self.feature_dim), dtype=np.float32)
            io.observation(handle, v, f)
            positions = pos.astype(np.int64)
            obs = TeamObs(v, f, engine_alive, self._ids[team].copy(), positions, positions)
            return obs, engine_alive, positions if everyone else positions[engine_alive]
        view = np.empty((k, *self.view_shape), dtype=np.float32)
        features = np.empty((k, self.feature_dim), dtype=np.float32)
        io.observation(handle, view, features)
        v = np.zeros((n, *self.view_shape), dtype=np.float32)
        f = np.zeros((n, self.feature_dim), dtype=np.float32)
        v[slots] = view
        f[slots] = features
        ids = np.full(n, -1, dtype=np.int64)
        ids[slots] = self._ids[team][slots]
        positions = np.full((n, 2), -1, dtype=np.int64)
        positions[slots] = pos
        alive = np.zeros(n, dtype=bool)
        alive[slots[engine_alive] if not everyone else slots] = True
        living = pos.astype(np.int64) if everyone else pos[engine_alive].astype(np.int64)
        return TeamObs(v, f, alive, ids, positions, positions), engine_alive, living

    def _build_obs(self) -> tuple[tuple[TeamObs, TeamObs], list[np.ndarray]]:
        """Both teams' observations (each with the other's living positions) and the engine's
        alive flags ``(k_t,)``, before ``clear_dead``."""
        (obs_0, alive_0, living_0), (obs_1, alive_1, living_1) = self._read(0), self._read(1)
        obs = (
            obs_0._replace(opponent_positions=living_1),
            obs_1._replace(opponent_positions=living_0),
        )
        return obs, [alive_0, alive_1]

    @property
    def observations(self) -> tuple[TeamObs, TeamObs]:
        """The latest observations of both teams."""
        if self._obs is None:
            raise RuntimeError("call reset() first")
        return self._obs

    # -- API ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[TeamObs, TeamObs]:
        """Start an episode (seeding the engine when ``seed`` is given)."""
        if seed is not None:
            self.engine.set_seed(int(seed))
        self.engine.reset()
        _add_armies(self.engine, self.handles, self.config)
        self._slots = [np.arange(self.engine.get_num(h)) for h in self.handles]
        self._ids = [self.engine.get_agent_id(h).astype(np.int64) for h in self.handles]
        self.steps = 0
        self.kills = [0, 0]
        self._done = False
        self._obs, _ = self._build_obs()
        return self._obs

    def step(self, actions_0: np.ndarray, actions_1: np.ndarray) -> BattleStep:
        """One step of both teams: ``actions_t`` is ``(n_max,)`` ints in ``[0, 21)``."""
        if self._done:
            raise RuntimeError("the episode is over; call reset()")
        n, io = self.n_max, self._io
        for team, actions in enumerate((actions_0, actions_1)):
            actions = np.asarray(actions, dtype=np.int64)
            if actions.shape != (n,):
                raise ValueError(f"team {team}: actions {actions.shape}, need ({n},)")
            slots = self._slots[team]
            act = actions if len(slots) == n else actions[slots]
            # one reduction catches both ends: negatives wrap to huge unsigned values
            if act.size and int(act.view(np.uint64).max()) >= self.n_actions:
                raise ValueError(f"team {team}: actions must be in [0, {self.n_actions})")
            io.set_action(self.handles[team], act.astype(np.int32))
        engine_done = self.engine.step()
        self.steps += 1
        rewards = []
        for team in (0, 1):
            slots = self._slots[team]
            r = np.empty(len(slots), dtype=np.float32)
            io.reward(self.handles[team], r)
            if len(slots) < n:
                full = np.zeros(n, dtype=np.float32)
                full[slots] = r
                r = full
            rewards.append(r)
        obs, engine_alive = self._build_obs()
        died = []
        for team in (0, 1):
            d = np.zeros(n, dtype=bool)
            d[self._slots[team][~engine_alive[team]]] = True
            died.append(d)
        kills = (int(np.count_nonzero(died[1])), int(np.count_nonzero(died[0])))
        self.kills[0] += kills[0]
        self.kills[1] += kills[1]
        self.engine.clear_dead()
        if kills[0] or kills[1]:
            self._slots = [self._slots[t][engine_alive[t]] for t in (0, 1)]
        self._obs = obs
        self._done = bool(
            engine_done
            or self.steps >= self.config.max_steps
            or min(len(self._slots[0]), len(self._slots[1])) == 0
        )
        return BattleStep(obs, (rewards[0], rewards[1]), (died[0], died[1]), kills, self._done)

    def render(self, cell: int = 8) -> np.ndarray:
        """``(H, W, 3)`` uint8 image of the map (headless, numpy only): team 0 red, team 1
        blue, paler with lower hp; ``cell`` pixels per grid cell, row = y."""
        size = self.config.map_size
        image = np.full((size, size, 3), 255, dtype=np.uint8)
        colours = np.array([[230, 30, 30], [30, 60, 230]], dtype=np.float64)
        centre = VIEW_RADIUS
        for team, obs in enumerate(self.observations):
            alive = obs.alive
            hp = np.clip(obs.view[alive, centre, centre, 2], 0.0, 1.0)[:, None]
            shade = 255.0 - (255.0 - colours[team]) * (0.35 + 0.65 * hp)
            x, y = obs.positions[alive, 0], obs.positions[alive, 1]
            image[y, x] = shade.astype(np.uint8)
        return np.repeat(np.repeat(image, cell, axis=0), cell, axis=1)


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


# -- left-right mirroring ------------------------------------------------------------------------
ID_BITS = 10
"""Features 0–9: the agent id embedding; 10–30: one-hot of the last action; 31: last reward."""


def _mirror_permutation(offsets: np.ndarray) -> np.ndarray:
    """Index of the offset ``(−dx, dy)`` for each offset ``(dx, dy)`` in ``offsets: (k, 2)``."""
    flipped = offsets * np.array([-1, 1])
    matches = (flipped[:, None, :] == offsets[None, :, :]).all(axis=-1)
    return matches.argmax(axis=1)


MIRROR_ACTIONS = np.concatenate(
    [_mirror_permutation(MOVES), ATTACK_BASE + _mirror_permutation(ATTACKS)]
)
"""``(21,)``: the action that does in the mirrored world what action ``a`` does here (moves
and attacks with ``dx`` negated). It is its own inverse."""


def mirror_observations(
    view: np.ndarray,
    features: np.ndarray,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror one team's observations left–right, as if it fought on the other side.

    ``view: (n, H, W, C)`` (indexed ``[row = y, col = x]``) has its columns reversed;
    ``features: (n, F)`` get the last-action one-hot permuted by :data:`MIRROR_ACTIONS` and the
    id bits zeroed (they tell the sides apart). A shared network that sees one team mirrored
    cannot tell which side it is on, so both teams' transitions can train it. Not defined for
    the minimap mode, whose position features would need flipping too. ``out``: arrays of the
    same shapes (views into a larger array are fine) to write into instead of new ones.
    """
    require(features.shape[-1] == ID_BITS + N_ACTIONS + 1, "mirroring needs minimap=False")
    if out is None:
        out = (np.empty_like(view), np.empty_like(features))
    mirrored_view, mirrored = out
    mirrored_view[...] = view[:, :, ::-1, :]
    mirrored[:, :ID_BITS] = 0.0
    mirrored[:, ID_BITS : ID_BITS + N_ACTIONS] = features[:, ID_BITS + MIRROR_ACTIONS]
    mirrored[:, ID_BITS + N_ACTIONS :] = features[:, ID_BITS + N_ACTIONS :]
    return mirrored_view, mirrored
