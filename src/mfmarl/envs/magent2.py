"""The fast path onto any MAgent2 environment: whole-group numpy arrays straight from the
engine, no dictionaries.

:class:`MAgent2Env` wraps a MAgent2 PettingZoo env (``battle_v4``, ``battlefield_v5``,
``gather_v5``, ``adversarial_pursuit_v4``, ``tiger_deer_v4``, ``combined_arms_v6``, or any
``magent_parallel_env``): it uses that env's own engine, map generation and agent groups
(one group per engine handle the env exposes, named by its agent-name prefix, ``red_3`` ->
``red``), then drives the engine through its C library into preallocated arrays. With the
same seed and actions it gives what the PettingZoo API gives (tested step for step): the
view, the rewards, the deaths and the time limit. Each group has a fixed slot array (one slot
per agent placed at reset; slot ``i`` is the same agent all episode); dead slots are masked.

Observations are flat: the ``H×W×C`` view (channels last) then, with ``features=True`` (the
default), the engine's feature vector (agent id embedding, one-hot last action, last reward,
and the position in minimap mode). PettingZoo's ``extra_features=True`` shows the same
features broadcast as view channels; by default it drops them.

Options for symmetric games (the Battle experiment): ``mirror`` names groups that see the
world mirrored left–right (views flipped, move and attack indices permuted), and then every
group's id bits are zeroed (they number the agents of each side apart), so that one shared
network cannot tell the sides apart and plays either; in minimap mode every group's minimap
channels and position features are then recomputed in its own frame
(:mod:`mfmarl.envs.minimap`: the engine's binning is not mirror-symmetric);
``end_when_empty`` ends an episode when any group is wiped out (survivors' episodes end as
terminal).

Engine plumbing (the C-library reads and writes, action layouts, their mirror) and the
engine facts it relies on: :mod:`mfmarl.envs.magent2_engine`. Import torch before magent2
when both are used (magent2 sets ``OMP_NUM_THREADS``): magent2 is only imported by the
functions that build an engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.base import EnvStep, GroupObs, GroupSpec, GroupStep
from mfmarl.envs.magent2_engine import (
    RawObs,
    _EngineIO,
    _GroupBuffers,
    action_layout,
    mirror_actions,
    mirrored_feature_columns,
)
from mfmarl.envs.minimap import group_densities, write_minimap

ID_BITS = 10
"""Features 0–9 in the combat games: the agent id embedding; then the one-hot last action,
the last reward (and the position in minimap mode). Some games have no id embedding
(gather): :meth:`MAgent2Env.id_bits` counts them per group."""
MAGENT2_ENVS = {
    "battle": "battle_v4",
    "battlefield": "battlefield_v5",
    "gather": "gather_v5",
    "adversarial_pursuit": "adversarial_pursuit_v4",
    "tiger_deer": "tiger_deer_v4",
    "combined_arms": "combined_arms_v6",
}
"""``mfmarl train magent2 --env NAME``: NAME -> the ``magent2.environments`` module."""


def make_magent2_parallel_env(name: str, **kwargs: Any) -> Any:
    """The PettingZoo ``parallel_env`` of MAgent2 environment ``name`` (a key of
    :data:`MAGENT2_ENVS` or a module name such as ``battle_v4``) built with ``kwargs``."""
    module_name = MAGENT2_ENVS.get(name, name)
    require(
        module_name in MAGENT2_ENVS.values(),
        f"no MAgent2 environment {name!r}; choose from {', '.join(MAGENT2_ENVS)}",
    )
    module = importlib.import_module(f"magent2.environments.{module_name}")
    try:
        return module.parallel_env(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"MAgent2 {name}: bad settings ({exc})") from exc


def group_names(pz_env: Any) -> list[str]:
    """The group names of a MAgent2 PettingZoo env, in handle order (agent-name prefixes)."""
    names: list[str] = []
    for agent in pz_env.possible_agents:
        prefix = agent.rsplit("_", 1)[0]
        if prefix not in names:
            names.append(prefix)
    require(len(names) == len(pz_env.handles), "could not tell the MAgent2 groups apart")
    return names


def team_of(name: str) -> str:
    """The side a group fights for: ``redmelee`` -> ``red``; any other name is its own."""
    for side in ("red", "blue"):
        if name.startswith(side):
            return side
    return name


class MAgent2Env:
    """Batched adapter of a MAgent2 PettingZoo env (see the module docstring).

    ``pz_env``: a ``magent_parallel_env`` instance. ``max_steps``: episode length limit
    (default: the env's ``max_cycles``). ``name``: for records (default: the env's metadata
    name).
    """

    continuing = False

    def __init__(
        self,
        pz_env: Any,
        *,
        features: bool = True,
        mirror: Sequence[str] = (),
        end_when_empty: bool = False,
        max_steps: int | None = None,
        name: str | None = None,
    ) -> None:
        self.pz = pz_env
        self.engine = pz_env.env
        self.handles = list(pz_env.handles)
        self.names = group_names(pz_env)
        self.name = name or str(getattr(pz_env, "metadata", {}).get("name", "magent2"))
        self.features = features
        self.end_when_empty = end_when_empty
        self.max_steps = int(max_steps if max_steps is not None else pz_env.max_cycles)
        self.map_size = int(pz_env.map_size)
        unknown = [m for m in mirror if m not in self.names]
        require(not unknown, f"mirror: no group {', '.join(unknown)} in {self.names}")
        self._io = _EngineIO(self.engine)
        counts = [
            len([a for a in pz_env.possible_agents if a.rsplit("_", 1)[0] == n]) for n in self.names
        ]
        self.layouts = [action_layout(self.engine, h) for h in self.handles]
        self.view_shapes = [
            tuple(int(v) for v in self.engine.get_view_space(h)) for h in self.handles
        ]
        self.feature_dims = [int(self.engine.get_feature_space(h)[0]) for h in self.handles]
        self.mirrored = [n in mirror for n in self.names]
        self.mirror_maps = [
            mirror_actions(layout) if m else None for layout, m in zip(self.layouts, self.mirrored)
        ]
        all_groups = len(self.engine.get_handles())
        self.groups = tuple(
            self._spec(name, count, view, feat, len(layout.moves) + len(layout.attacks), all_groups)
            for name, count, view, feat, layout in zip(
                self.names, counts, self.view_shapes, self.feature_dims, self.layouts
            )
        )
        self._buffers = [
            _GroupBuffers(g.n_slots, view, feat)
            for g, view, feat in zip(self.groups, self.view_shapes, self.feature_dims)
        ]
        """Per group: reused arrays the engine writes into."""
        self._view_sizes = [int(np.prod(view)) for view in self.view_shapes]
        self._id_lengths = [self.id_bits(g) for g in range(len(self.groups))]
        self._hide_ids = any(self.mirrored)
        """Zero every group's id bits: with a mirrored group, ids would tell the sides apart."""
        self._own_minimaps = self._hide_ids and bool(getattr(pz_env, "minimap_mode", False))
        """Recompute every group's minimap and position in its own frame."""
        require(
            not self._own_minimaps or self.features,
            "a mirrored minimap needs features=True (its position features)",
        )
        self._feature_columns = [self._mirrored_columns(g) for g in range(len(self.groups))]
        """Per group: the feature columns a mirrored group reads (its last-action one-hot
        permuted), or None."""
        self.steps = 0
        self.deaths = [0] * len(self.handles)
        self._slots = [np.arange(0) for _ in self.handles]
        self._raw: list[RawObs] = []
        self._done = True

    def _spec(
        self,
        name: str,
        count: int,
        view: tuple[int, ...],
        feat: int,
        n_actions: int,
        all_groups: int,
    ) -> GroupSpec:
        h, w, c = view
        size = h * w * c
        per_group = (c - 1) // max(1, all_groups)
        view_binary = np.zeros(view, dtype=bool)
        view_binary[..., [0, *(1 + k * per_group for k in range(all_groups))]] = True
        columns = [int(i) for i in np.flatnonzero(view_binary.reshape(-1))]
        if self.features:
            columns += [size + i for i in range(self._id_bits(feat, n_actions) + n_actions)]
        return GroupSpec(
            name,
            count,
            size + (feat if self.features else 0),
            n_actions,
            view_shape=(h, w, c),
            binary_columns=tuple(int(i) for i in columns),
            grid=(self.map_size, self.map_size),
        )

    def _id_bits(self, feature_dim: int, n_actions: int) -> int:
        """Length of the id embedding at the start of a feature vector: what is left after
        the one-hot last action, the last reward and (minimap mode) the position."""
        minimap = 2 if getattr(self.pz, "minimap_mode", False) else 0
        bits = feature_dim - n_actions - 1 - minimap
        require(bits >= 0, f"unexpected MAgent2 features ({feature_dim} for {n_actions} actions)")
        return bits

    def _mirrored_columns(self, g: int) -> np.ndarray | None:
        mapping = self.mirror_maps[g]
        if mapping is None:
            return None
        return mirrored_feature_columns(self.id_bits(g), mapping, self.feature_dims[g])

    def id_bits(self, g: int) -> int:
        """Group ``g``'s id-embedding length (10 in the combat games, 0 in gather)."""
        return self._id_bits(self.feature_dims[g], self.groups[g].n_actions)

    # -- reading the engine ------------------------------------------------------------------
    def _read(self, g: int) -> tuple[RawObs, np.ndarray]:
        """Group ``g``'s slot arrays from the engine's current agents (before ``clear_dead``)
        and the engine's alive flags of its current agents ``(k,)``."""
        handle, slots, io, buf = self.handles[g], self._slots[g], self._io, self._buffers[g]
        n, k = self.groups[g].n_slots, len(slots)
        io.info(handle, b"pos", buf.pos_ptr)
        io.info(handle, b"alive", buf.alive_ptr)
        io.observation(handle, buf.observation)
        engine_alive = buf.alive[:k].copy()
        if k == n:  # no dead slot before this step: slot i is engine agent i
            # the views stay in the reused buffers: _group_obs copies them into fresh arrays
            positions = buf.pos.astype(np.int64)
            return RawObs(buf.view, buf.features, engine_alive, positions), engine_alive
        v = np.zeros(buf.view.shape, dtype=np.float32)
        f = np.zeros(buf.features.shape, dtype=np.float32)
        v[slots], f[slots] = buf.view[:k], buf.features[:k]
        positions = np.full((n, 2), -1, dtype=np.int64)
        positions[slots] = buf.pos[:k]
        alive = np.zeros(n, dtype=bool)
        alive[slots[engine_alive]] = True
        return RawObs(v, f, alive, positions), engine_alive

    def _group_obs(self, g: int, raw: RawObs) -> GroupObs:
        """The learner's view of ``raw``: flat ``[view, features]`` rows, mirrored for a
        mirrored group, written straight into one output array."""
        view, features = raw.view, raw.features
        n, size = view.shape[0], self._view_sizes[g]
        width = size + (features.shape[1] if self.features else 0)
        out = np.empty((n, width), dtype=np.float32)
        if self.mirrored[g]:
            # flip W by moving whole cells (C floats as one item): twice as fast as a
            # float-by-float reversed copy
            _, h, w, c = view.shape
            cell = np.dtype((np.void, 4 * c))
            cells = out[:, :size].view(cell).reshape(n, h, w)
            cells[...] = view.reshape(n, h, w * c).view(cell)[:, :, ::-1]
        else:
            out[:, :size] = view.reshape(n, size)
        if self.features:
            columns = self._feature_columns[g]
            tail = out[:, size:]
            tail[...] = features if columns is None else features[:, columns]
            if self._hide_ids:
                tail[:, : self._id_lengths[g]] = 0.0
            if self._own_minimaps:
                self._write_minimap(g, out[:, :size].reshape(view.shape), tail, raw.positions)
        return GroupObs(out, raw.alive, raw.positions)

    def _write_minimap(
        self, g: int, view: np.ndarray, features: np.ndarray, positions: np.ndarray
    ) -> None:
        """Group ``g``'s minimap channels and position features in its own frame."""
        mirrored = self.mirrored[g]
        held = [raw.positions[raw.positions[:, 0] >= 0] for raw in self._raw]
        shape = self.groups[g].view_shape
        assert shape is not None
        densities = group_densities(held, (self.map_size, self.map_size), shape[:2], mirrored)
        write_minimap(view, features, g, positions, densities, (self.map_size,) * 2, mirrored)

    @property
    def raw(self) -> list[RawObs]:
        """The latest observations of every group in the engine's frame (for scripted
        players and rendering; overwritten by the next step)."""
        require(bool(self._raw), "call reset() first")
        return self._raw

    @property
    def alive_counts(self) -> list[int]:
        return [len(s) for s in self._slots]

    # -- API ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[GroupObs, ...]:
        """Start an episode (seeding the engine when ``seed`` is given) with the env's own
        map generation."""
        if seed is not None:
            self.engine.set_seed(int(seed))
        self.engine.reset()
        self.pz.generate_map()
        self._slots = [np.arange(self.engine.get_num(h)) for h in self.handles]
        for g, slots in enumerate(self._slots):
            require(
                len(slots) <= self.groups[g].n_slots,
                f"group {self.names[g]}: {len(slots)} agents placed, more than its slots",
            )
        self.steps = 0
        self.deaths = [0] * len(self.handles)
        self._done = False
        self._raw = [self._read(g)[0] for g in range(len(self.handles))]
        return tuple(self._group_obs(g, raw) for g, raw in enumerate(self._raw))

    def to_engine(self, g: int, actions: np.ndarray) -> np.ndarray:
        """Group ``g``'s actions in its own frame -> the engine's (mirrored groups permuted)."""
        mapping = self.mirror_maps[g]
        return actions if mapping is None else mapping[actions]

    def step(self, actions: Sequence[np.ndarray]) -> EnvStep:
        """One step of every group: ``actions[g]`` is ``(n_slots,)`` ints in the group's own
        frame; entries of dead slots are ignored."""
        if self._done:
            raise RuntimeError("the episode is over; call reset()")
        require(len(actions) == len(self.handles), f"need actions for {len(self.handles)} groups")
        for g, chosen in enumerate(actions):
            self._send(g, chosen)
        engine_done = bool(self.engine.step())
        self.steps += 1
        outcomes = [self._outcome(g) for g in range(len(self.handles))]
        self.engine.clear_dead()
        self._raw = [raw for raw, _, _ in outcomes]
        empty = min(len(s) for s in self._slots) == 0
        self._done = (
            engine_done
            or self.steps >= self.max_steps
            or (self.end_when_empty and empty)
            or all(len(s) == 0 for s in self._slots)
        )
        ends_terminal = self._done and (engine_done or (self.end_when_empty and empty))
        steps = []
        for g, (raw, rewards, died) in enumerate(outcomes):
            next_obs = self._group_obs(g, raw)
            if not self._done:
                terminated, truncated = died, np.zeros_like(died)
            else:
                survivors = raw.alive
                terminated = died | survivors if ends_terminal else died
                truncated = np.zeros_like(died) if ends_terminal else survivors.copy()
                next_obs = next_obs._replace(alive=np.zeros_like(survivors))
            steps.append(GroupStep(next_obs, rewards, terminated, truncated))
        return EnvStep(tuple(steps), self._done, {})

    def _send(self, g: int, chosen: np.ndarray) -> None:
        """Check group ``g``'s ``(n_slots,)`` actions and hand its living agents' to the engine."""
        n, slots = self.groups[g].n_slots, self._slots[g]
        chosen = np.asarray(chosen, dtype=np.int64)
        if chosen.shape != (n,):
            raise ValueError(f"group {self.names[g]}: actions {chosen.shape}, need ({n},)")
        act = chosen if len(slots) == n else chosen[slots]
        # one reduction catches both ends: negatives wrap to huge unsigned values
        if act.size and int(act.view(np.uint64).max()) >= self.groups[g].n_actions:
            raise ValueError(
                f"group {self.names[g]}: actions must be in [0, {self.groups[g].n_actions})"
            )
        buf, mapping = self._buffers[g], self.mirror_maps[g]
        if mapping is None:
            buf.actions[: len(act)] = act
        else:
            np.take(mapping, act, out=buf.actions[: len(act)])
        self._io.set_action(self.handles[g], buf.actions_ptr)

    def _outcome(self, g: int) -> tuple[RawObs, np.ndarray, np.ndarray]:
        """After an engine step (before ``clear_dead``): group ``g``'s observations, its
        rewards ``(n_slots,)`` and who died ``(n_slots,)`` bool; moves its slots and deaths on."""
        n, slots, buf = self.groups[g].n_slots, self._slots[g], self._buffers[g]
        self._io.reward(self.handles[g], buf.reward_ptr)
        if len(slots) == n:
            rewards = buf.reward.copy()
        else:
            rewards = np.zeros(n, dtype=np.float32)
            rewards[slots] = buf.reward[: len(slots)]
        raw, engine_alive = self._read(g)
        died = np.zeros(n, dtype=bool)
        if not engine_alive.all():
            died[slots[~engine_alive]] = True
            self.deaths[g] += len(slots) - int(np.count_nonzero(engine_alive))
            self._slots[g] = slots[engine_alive]
        return raw, rewards, died

    def episode_info(self) -> dict[str, float]:
        """Per group: agents that died and survived in the episode, and its kills (the
        deaths of the groups on the other side, :func:`team_of`)."""
        info: dict[str, float] = {}
        for g, (name, deaths, slots) in enumerate(zip(self.names, self.deaths, self._slots)):
            info[f"{name}/deaths"] = float(deaths)
            info[f"{name}/survivors"] = float(len(slots))
            info[f"{name}/kills"] = float(sum(self.deaths[h] for h in self.opponents_of(g)))
        return info

    # -- scripted players --------------------------------------------------------------------
    def opponents_of(self, g: int) -> list[int]:
        """The groups fighting against group ``g`` (another side by :func:`team_of`)."""
        side = team_of(self.names[g])
        return [h for h, name in enumerate(self.names) if team_of(name) != side]

    def scripted_player(
        self, name: str, group: int
    ) -> Callable[[Sequence[GroupObs], np.random.Generator], np.ndarray]:
        """``attack-nearest`` or ``attack-weakest`` for ``group`` (actions in its own frame)."""
        from mfmarl.envs.scripted import SCRIPTED_FOCUS, attack_nearest_actions

        require(
            name in SCRIPTED_FOCUS,
            f"no scripted player {name!r}; choose from {', '.join(SCRIPTED_FOCUS)}",
        )
        focus = SCRIPTED_FOCUS[name]
        opponents = self.opponents_of(group)
        require(bool(opponents), f"group {self.names[group]} has no opponents to attack")
        layout = self.layouts[group]
        channel = self._opponent_channel(group, opponents)

        def act(obs: Sequence[GroupObs], rng: np.random.Generator) -> np.ndarray:
            raw = self._raw[group]
            enemies = np.concatenate(
                [self._raw[h].positions[self._raw[h].alive] for h in opponents], axis=0
            )
            actions = attack_nearest_actions(raw, enemies, rng, layout, channel, focus)
            return self.to_engine(group, actions)  # the mirror map is its own inverse

        return act

    def _opponent_channel(self, g: int, opponents: list[int]) -> int:
        """View channel of the (first) opponent group's presence in group ``g``'s view: the
        own group's channels come first, then the others in handle order."""
        c = self.view_shapes[g][2]
        per_group = (c - 1) // max(1, len(self.engine.get_handles()))
        order = [g] + [h for h in range(len(self.handles)) if h != g]
        return 1 + per_group * order.index(opponents[0])

    def render(self, cell: int = 8) -> np.ndarray:
        """``(H, W, 3)`` uint8 image of the map (headless, numpy only): each group in its own
        colour (red and blue teams in shades of red and blue), paler with lower hp."""
        size = self.map_size
        image = np.full((size, size, 3), 255, dtype=np.uint8)
        palette = {"red": [230, 30, 30], "blue": [30, 60, 230]}
        others = [[30, 160, 60], [200, 140, 20], [120, 60, 180], [40, 160, 170]]
        for g, raw in enumerate(self._raw):
            side = team_of(self.names[g])
            colour = np.array(palette.get(side, others[g % len(others)]), dtype=np.float64)
            alive = raw.alive
            h, w, _ = self.view_shapes[g]
            hp = np.clip(raw.view[alive, h // 2, w // 2, 2], 0.0, 1.0)[:, None]
            shade = 255.0 - (255.0 - colour) * (0.35 + 0.65 * hp)
            x, y = raw.positions[alive, 0], raw.positions[alive, 1]
            image[y, x] = shade.astype(np.uint8)
        return np.repeat(np.repeat(image, cell, axis=0), cell, axis=1)
