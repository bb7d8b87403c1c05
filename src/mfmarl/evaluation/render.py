"""Animated GIFs of one round (``mfmarl render``), drawn headless from the environment's
state (``env.render(cell)``: MAgent2 maps, each team in its colour, paler with lower hp)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mfmarl.core.errors import require
from mfmarl.envs.base import MultiGroupEnv
from mfmarl.evaluation.matches import Arena, RoundResult, play_round
from mfmarl.evaluation.players import Player
from mfmarl.training.logger import gif_bytes
from mfmarl.training.rundir import write_bytes_atomic


def record_round(
    arena: Arena, players: tuple[Player, Player], seed: int, cell: int = 8
) -> tuple[list[np.ndarray], RoundResult]:
    """Play one round (A on side 0) and return its frames ``(H, W, 3)`` uint8, the first
    after the reset, and the result."""
    frames: list[np.ndarray] = []
    env = arena.build()
    require(hasattr(env, "render"), "this environment cannot be drawn (no render method)")
    arena = arena.resolved(env)

    def capture(e: MultiGroupEnv) -> None:
        frames.append(_with_border(e.render(cell)))  # type: ignore[attr-defined]

    result = play_round(env, arena, players, seed, a_side=0, on_step=capture)
    return frames, result


def _with_border(image: np.ndarray, width: int = 2) -> np.ndarray:
    """A grey frame around the map so its edge is visible on a white page."""
    return np.pad(image, ((width, width), (width, width), (0, 0)), constant_values=128)


def write_gif(frames: list[np.ndarray], path: Path, fps: float = 10.0) -> None:
    """Encode ``frames`` as a looping GIF at ``fps`` frames per second (atomic write)."""
    write_bytes_atomic(path, gif_bytes(np.stack(frames), fps))


def render_gif(
    arena: Arena,
    players: tuple[Player, Player],
    path: str | Path,
    seed: int = 0,
    fps: float = 10.0,
    cell: int = 8,
) -> RoundResult:
    """Play one round and write it to ``path`` as an animated GIF; return the result."""
    frames, result = record_round(arena, players, seed, cell)
    write_gif(frames, Path(path), fps)
    return result
