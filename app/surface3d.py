"""The surface as the browser's 3-D view draws it: heights on a grid, scaled like the 2-D map's colours.

The 2-D map colours a loss through ``plots._levels``: log-spaced levels
``lo + 10**linspace(a, b)`` when the values above the minimum span many
decades, linear levels from ``lo`` to ``hi`` otherwise. The mesh's height is
the same scale read as a number from 0 to 1, so a colour band of the map (the
contour image is the mesh's texture) is a height band of the mesh:

- log: ``h = (log10(max(z - lo, 10**a)) - a) / (b - a)``, the floor below
  ``10**a`` (the 0.5th percentile above the minimum) held flat, as the map's
  lowest band is one colour;
- linear: ``h = (z - lo) / (hi - lo)``.

Heights are clipped to [0, 1]: the z-range is the window's and nothing the
race does changes it. Where the loss is not finite the height is 1.

Part of the payload (key ``surface3d``), sent once per surface and window::

    {"n": [nx, ny],               # grid points along x and along y
     "h": str,                    # base64 of nx * ny little-endian uint16 heights (height = value / 65535),
                                  # row j = y0 + j * dy
     "log": bool,                 # heights follow log10(loss - lo)
     "ticks": [[h, "label"], ...],  # loss values at heights, for the height axis
     "label": str}                # the height axis's words: "loss, log scale" or "loss"
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .plots import _grid, _levels, tick_label
from .scene import load_surface

GRID = 96  # points per side: 18 KB of 16-bit heights, 25 KB as base64
#: heights lie in [0, 1] and are sent as 16-bit steps of 1/65535: far finer than a pixel of the mesh,
#: half the bytes of float32 (the payload must hold the race, the insides and the mesh in 400 KB)
H_STEPS = 65535
_LEVELS_GRID = 260  # the contour image's grid: the same levels, hence the same scale


class Surface3DError(ValueError):
    """The 3-D part of the payload cannot be drawn; the message says which part is wrong."""


def height_scale(z: np.ndarray) -> tuple[bool, float, float, float]:
    """Return (log, lo, a, b) of the map's colour scale for grid values ``z``: see the module's docstring.

    For a linear scale ``a`` is 0 and ``b`` is ``hi - lo``.
    """
    levels, is_log = _levels(z)
    lo = float(levels[0])
    if is_log:
        return True, lo, math.log10(levels[1] - lo), math.log10(levels[-1] - lo)
    return False, lo, 0.0, float(levels[-1] - lo)


def heights(z: np.ndarray, scale: tuple[bool, float, float, float]) -> np.ndarray:
    """Return heights in [0, 1] of losses ``z`` on ``scale`` (from ``height_scale``); 1 where z is not finite."""
    is_log, lo, a, b = scale
    z = np.asarray(z, dtype=float)
    with np.errstate(all="ignore"):
        if is_log:
            h = (np.log10(np.maximum(z - lo, 10.0**a)) - a) / (b - a)
        else:
            h = (z - lo) / b
    return np.clip(np.where(np.isfinite(h), h, 1.0), 0.0, 1.0)


def _ticks(scale: tuple[bool, float, float, float]) -> list[list]:
    """Return [[height, label], ...]: whole decades above the minimum (log) or about five round losses."""
    is_log, lo, a, b = scale
    if is_log:
        decades = range(math.ceil(a), math.floor(b) + 1)
        every = max(1, math.ceil(len(decades) / 6))
        values = [lo + 10.0**d for d in decades[::every]]
    else:
        raw = b / 5 if b > 0 else 1.0
        mag = 10.0 ** math.floor(math.log10(raw))
        step = mag * next(m for m in (1, 2, 5, 10) if raw / mag <= m * 1.5 or m == 10)
        first = math.ceil(lo / step) * step
        values = [first + k * step for k in range(int((lo + b - first) / step + 1e-9) + 1)]
    hs = heights(np.array(values), scale)
    return [[round(float(h), 4), tick_label(v)] for h, v in zip(hs, values)]


@functools.lru_cache(maxsize=64)
def _grid_payload(surface: str, formula: str, window: tuple, n: int) -> dict:
    surf = load_surface(surface, formula)
    _, _, levels_z = _grid(surf, window, _LEVELS_GRID)
    scale = height_scale(levels_z)
    _, _, z = _grid(surf, window, n)
    h = np.rint(heights(z, scale) * H_STEPS).astype("<u2")
    return {
        "n": [n, n],
        "h": base64.b64encode(h.tobytes()).decode("ascii"),
        "log": scale[0],
        "ticks": _ticks(scale),
        "label": "loss, log scale" if scale[0] else "loss",
    }


def grid_payload(surface: str, formula: str, window, n: int = GRID) -> dict:
    """Return the ``surface3d`` part of the payload for a surface and window, computed once per both."""
    return _grid_payload(surface, formula, tuple(map(tuple, window)), n)


def check_grid(part: Mapping[str, Any]) -> None:
    """Return nothing if ``part`` is a ``surface3d`` payload the view can draw; raise Surface3DError if not."""
    n = part.get("n")
    if not (isinstance(n, list) and len(n) == 2 and all(isinstance(v, int) and v >= 2 for v in n)):
        raise Surface3DError(f"surface3d.n must be [nx, ny], each at least 2, got {n!r}")
    try:
        raw = base64.b64decode(str(part.get("h", "")), validate=True)
    except ValueError as e:
        raise Surface3DError("surface3d.h must be base64 text") from e
    if len(raw) != 2 * n[0] * n[1]:
        raise Surface3DError(f"surface3d.h holds {len(raw) // 2} heights, expected {n[0]} x {n[1]}")
    for tick in part.get("ticks", []):
        if not (len(tick) == 2 and isinstance(tick[0], (int, float)) and isinstance(tick[1], str)):
            raise Surface3DError(f"surface3d.ticks must be [height, label] pairs, got {tick!r}")
