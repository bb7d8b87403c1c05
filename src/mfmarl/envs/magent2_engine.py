"""The low-level plumbing of the fast MAgent2 path (:mod:`mfmarl.envs.magent2`): a group's
action layout read from the engine and its left–right mirror, the engine's arrays of one
group in the engine's frame (:class:`RawObs`), and the reads and writes through magent2's C
library into reused arrays.

Engine facts relied on (magent2 0.3.4): actions are moves (lattice offsets within the move
range, ordered by (dy, dx)) followed by attacks (``get_view2attack``); ``get_pos`` is ``(x,
y)`` while views are ``[row = y, col = x]``; every living agent must get an action; rewards
and alive flags must be read before ``clear_dead()``, after which survivors keep their order.
Import torch before magent2 when both are used (magent2 sets ``OMP_NUM_THREADS``): magent2 is
only imported by the functions that build an engine (here: :class:`_EngineIO`, on one).
"""

from __future__ import annotations

import ctypes
from typing import Any, NamedTuple

import numpy as np

from mfmarl.core.errors import ConfigError, require


class ActionLayout(NamedTuple):
    """One group's action indices: ``moves[k]`` is the ``(dx, dy)`` of move ``k``, then the
    attacks from ``attack_base`` on hit the cells ``attacks[k]``; ``stay`` is the no-move."""

    moves: np.ndarray
    attack_base: int
    attacks: np.ndarray
    stay: int


def _move_offsets(count: int) -> np.ndarray:
    """The ``count`` lattice offsets of the engine's circular move range, ordered by (dy, dx):
    all ``(dx, dy)`` with ``dx² + dy² <= r²`` for the r² that gives ``count`` of them."""
    for r2 in range(0, 64):
        r = int(np.sqrt(r2)) + 1
        cells = [
            (dx, dy)
            for dy in range(-r, r + 1)
            for dx in range(-r, r + 1)
            if dx * dx + dy * dy <= r2
        ]
        if len(cells) == count:
            return np.array(cells, dtype=np.int64)
        if len(cells) > count:
            break
    raise ConfigError(f"no circular move range has {count} moves")


def action_layout(engine: Any, handle: Any) -> ActionLayout:
    """Read a group's move and attack layout from the engine."""
    n_actions = int(engine.get_action_space(handle)[0])
    base, view2attack = engine.get_view2attack(handle)
    centre_y, centre_x = view2attack.shape[0] // 2, view2attack.shape[1] // 2
    attacks = np.zeros((n_actions - base, 2), dtype=np.int64)
    ys, xs = np.nonzero(view2attack >= 0)
    for y, x in zip(ys, xs):
        attacks[int(view2attack[y, x])] = (x - centre_x, y - centre_y)
    moves = _move_offsets(base)
    stay = int(np.flatnonzero((moves == 0).all(axis=1))[0])
    return ActionLayout(moves, int(base), attacks, stay)


def _mirror_permutation(offsets: np.ndarray) -> np.ndarray:
    """Index of the offset ``(−dx, dy)`` for each ``(dx, dy)`` in ``offsets: (k, 2)``."""
    flipped = offsets * np.array([-1, 1])
    matches = (flipped[:, None, :] == offsets[None, :, :]).all(axis=-1)
    require(bool(matches.any(axis=1).all()), "this action layout has no left-right mirror")
    return matches.argmax(axis=1)


def mirror_actions(layout: ActionLayout) -> np.ndarray:
    """``(D,)``: the action that does in the mirrored world what action ``a`` does here
    (moves and attacks with ``dx`` negated); its own inverse."""
    return np.concatenate(
        [
            _mirror_permutation(layout.moves),
            layout.attack_base + _mirror_permutation(layout.attacks),
        ]
    )


def mirrored_feature_columns(id_bits: int, mapping: np.ndarray, width: int) -> np.ndarray:
    """``(F,)``: the engine feature each column of a mirrored group's features reads: the id
    bits and the tail as they are, the one-hot last action permuted by ``mapping``."""
    n_actions = len(mapping)
    return np.concatenate(
        [np.arange(id_bits), id_bits + mapping, np.arange(id_bits + n_actions, width)]
    )


class RawObs(NamedTuple):
    """One group's arrays in the engine's frame, over its slots (dead slots zero, ids and
    positions −1)."""

    view: np.ndarray
    """(n, H, W, C) float32."""
    features: np.ndarray
    """(n, F) float32."""
    alive: np.ndarray
    """(n,) bool."""
    positions: np.ndarray
    """(n, 2) int64 ``(x, y)``."""


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
    def pointer(array: np.ndarray) -> ctypes.c_void_p:
        """A C pointer to ``array``'s data (creating one costs microseconds: the adapter
        keeps those of its reused buffers)."""
        return ctypes.c_void_p(array.ctypes.data)

    def set_action(self, handle: Any, out: ctypes.c_void_p) -> None:
        """Send the ``(k,)`` int32 array at ``out``, one action per living agent of the group."""
        self.lib.env_set_action(self.game, handle, out)

    def observation(self, handle: Any, buffers: Any) -> None:
        """Fill the view ``(k, H, W, C)`` and features ``(k, F)`` float32 arrays that
        ``buffers`` (a ctypes array of their two pointers) points to."""
        self.lib.env_get_observation(self.game, handle, buffers)

    def reward(self, handle: Any, out: ctypes.c_void_p) -> None:
        """Fill the ``(k,)`` float32 array at ``out``."""
        self.lib.env_get_reward(self.game, handle, out)

    def info(self, handle: Any, name: bytes, out: ctypes.c_void_p) -> None:
        """Fill the array at ``out`` with ``b"alive"`` ((k,) bool), ``b"pos"`` ((k, 2) int32)
        or ``b"id"``."""
        self.lib.env_get_info(self.game, handle, name, out)


class _GroupBuffers:
    """One group's reused arrays the engine writes into (sized for every slot; the first
    ``k`` rows hold the ``k`` agents the engine has), with their C pointers."""

    def __init__(self, n: int, view: tuple[int, ...], feat: int) -> None:
        self.view = np.empty((n, *view), dtype=np.float32)
        self.features = np.empty((n, feat), dtype=np.float32)
        self.pos = np.empty((n, 2), dtype=np.int32)
        self.alive = np.empty(n, dtype=bool)
        self.reward = np.empty(n, dtype=np.float32)
        self.actions = np.empty(n, dtype=np.int32)
        ptr = _EngineIO.pointer
        self.actions_ptr = ptr(self.actions)
        self.observation = (ctypes.c_void_p * 2)(self.view.ctypes.data, self.features.ctypes.data)
        self.pos_ptr, self.alive_ptr = ptr(self.pos), ptr(self.alive)
        self.reward_ptr = ptr(self.reward)
