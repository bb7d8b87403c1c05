"""MAgent2's minimap channels and position features, recomputed in a group's own frame.

In minimap mode the engine (magent2 0.3.4, ``GridWorld::get_observation``) gives every
group's block of view channels a third channel: the fraction of that group's agents in each
bin of the whole map, binned onto the view's ``h × w`` grid by ``(y // ⌈H/h⌉, x // ⌈W/w⌉)``,
plus 1 at the observer's own bin (in every group's channel); and it appends the features
``x / W`` and ``y / H``. The binning is not symmetric under ``x → W − 1 − x``, so a group
that sees the world mirrored cannot get its minimap by flipping its view: it is recomputed
here from the positions. Agents the engine still holds count (those killed in this step
too, as in the engine); an empty group's channel is 0 (the engine divides 0 by 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mfmarl.core.errors import require

POSITION_FEATURES = 2
"""``x / W`` and ``y / H``, the last two features in minimap mode."""


def _bin_sizes(map_hw: tuple[int, int], view_hw: tuple[int, int]) -> tuple[int, int]:
    """Map cells per minimap bin along y and x: ``⌈H / h⌉`` and ``⌈W / w⌉``."""
    (height, width), (h, w) = map_hw, view_hw
    return -(-height // h), -(-width // w)


def _x(positions: np.ndarray, width: int, mirrored: bool) -> np.ndarray:
    x = positions[:, 0]
    return width - 1 - x if mirrored else x


def group_densities(
    positions: Sequence[np.ndarray],
    map_hw: tuple[int, int],
    view_hw: tuple[int, int],
    mirrored: bool,
) -> np.ndarray:
    """``(G, h, w)`` float32: per group, the fraction of its agents in each bin.
    ``positions[g]``: ``(k_g, 2)`` ``(x, y)`` of the agents the engine holds."""
    sy, sx = _bin_sizes(map_hw, view_hw)
    out = np.zeros((len(positions), *view_hw), dtype=np.float32)
    for g, pos in enumerate(positions):
        if len(pos):
            x = _x(pos, map_hw[1], mirrored)
            np.add.at(out[g], (pos[:, 1] // sy, x // sx), np.float32(1.0))
            out[g] /= np.float32(len(pos))
    return out


def write_minimap(
    view: np.ndarray,
    features: np.ndarray,
    observer: int,
    own: np.ndarray,
    densities: np.ndarray,
    map_hw: tuple[int, int],
    mirrored: bool,
) -> None:
    """Overwrite, for the rows of ``own`` that hold an agent (position >= 0), the minimap
    channels of ``view (n, h, w, C)`` and the position features (the last two columns of
    ``features (n, F)``) of group ``observer``'s agents. ``densities``: from
    :func:`group_densities` in the same frame."""
    n_groups, h, w = densities.shape
    require(view.shape[-1] == 1 + 3 * n_groups, "minimap mode: expected 1 + 3 channels a group")
    rows = np.flatnonzero(own[:, 0] >= 0)
    if not rows.size:
        return
    pos = own[rows]
    x = _x(pos, map_hw[1], mirrored)
    sy, sx = _bin_sizes(map_hw, (h, w))
    by, bx = pos[:, 1] // sy, x // sx
    for j in range(n_groups):
        channel = 1 + 3 * ((j - observer) % n_groups) + 2  # the engine's channel order
        view[rows, :, :, channel] = densities[j]
        view[rows, by, bx, channel] += np.float32(1.0)
    height, width = map_hw
    features[rows, -2] = x.astype(np.float32) / np.float32(width)
    features[rows, -1] = pos[:, 1].astype(np.float32) / np.float32(height)
