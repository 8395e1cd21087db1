"""Outcome maps as pictures: one racer's map coloured by where each start ends, for the Compare tab and the race.

A map (``surfaces.sweep.outcome_map``) classes every start of an n x n grid
over the window by the declared minimum its run ends at, "elsewhere" or
"diverged", and the step from which it stayed there. Here that becomes
colours (one per declared minimum, paler with more steps; grey elsewhere,
darker for a higher final loss; near-black where it diverged), shared by the
side-by-side figure and the overlay the animator draws under the race
(the payload's ``outcome``, with its legend's words).
"""

from __future__ import annotations

import base64
import functools
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
from matplotlib.colors import to_rgb
from PIL import Image

from surfaces import engine, sweep

from .race import tolerance, window_of
from .scene import Scene, load_surface

#: colours of the declared minima on the outcome maps (Paul Tol's bright scheme, readable by colour-blind students)
BASIN_COLORS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")
ELSEWHERE_COLOR = "#BBBBBB"
DIVERGED_COLOR = "#222222"
#: how far toward white a basin's colour goes for a start that needed every step of the race
MAX_FADE = 0.5
#: shades per colour: few distinct colours keep the overlay's PNG a few kilobytes
LEVELS = 8


def basin_color(k: int) -> str:
    """Return the colour of declared minimum ``k`` (the palette repeats past six minima)."""
    return BASIN_COLORS[k % len(BASIN_COLORS)]


def map_size(surf) -> int:
    """Return the starts per side of the overlay: 128 with the compiled engine, else 64 (NumPy takes minutes at 128)."""
    return 128 if engine.compiled_surface(surf) is not None else 64


# Who hears how far a map being computed has got: set around a call by ``reporting_to`` (per thread, as each
# session's script runs in its own), and no one otherwise (a map computed inside a cached payload reports nothing).
_REPORT = threading.local()


@contextmanager
def reporting_to(report: Callable[[float], None]) -> Iterator[None]:
    """Yield while ``report(share)`` hears the progress of the outcome maps this thread computes (0 to 1 each)."""
    before = getattr(_REPORT, "fn", None)
    _REPORT.fn = report
    try:
        yield
    finally:
        _REPORT.fn = before


def _report(share: float) -> None:
    fn = getattr(_REPORT, "fn", None)
    if fn is not None:
        fn(share)


@functools.lru_cache(maxsize=24)
def racer_map(scene: Scene, index: int, n: int) -> sweep.OutcomeMap:
    """Return the outcome map of racer ``index`` of a checked scene, n x n starts over its window, without noise.

    Kept per (scene, racer, n), so the Compare tab's maps and the overlay under
    the race are one computation; the scene's own overlay choice is no part of it.
    """
    if scene.overlay is not None:
        return racer_map(replace(scene, overlay=None), index, n)
    surf = load_surface(scene.surface, scene.formula)
    racer = scene.racers[index]
    return sweep.outcome_map(surf, racer.label(), racer.make(), window_of(scene, surf), n, scene.steps,
                             tolerance(scene, surf), progress=_report)


def _quantized(share: np.ndarray) -> np.ndarray:
    """Return ``share`` (0..1) rounded to one of LEVELS levels."""
    return np.round(np.clip(share, 0.0, 1.0) * (LEVELS - 1)) / (LEVELS - 1)


def outcome_rgb(m: sweep.OutcomeMap, n_minima: int) -> np.ndarray:
    """Return the map's colours, (n, n, 3) floats in 0..1, row i for ``m.ys[i]`` (bottom row first)."""
    img = np.empty(m.outcome.shape + (3,))
    img[...] = to_rgb(ELSEWHERE_COLOR)
    other = (m.outcome == sweep.ELSEWHERE) & np.isfinite(m.loss)
    if other.any():
        # stopped elsewhere: darker grey for a higher final loss, so a grid of local minima shows its levels
        z = np.log1p(np.maximum(m.loss[other] - np.nanmin(m.loss[other]), 0.0))
        share = z / z.max() if z.max() > 0 else np.zeros_like(z)
        img[other] = (0.85 - 0.45 * _quantized(share))[:, None]
    img[m.outcome == sweep.DIVERGED] = to_rgb(DIVERGED_COLOR)
    steps_max = max(1, int(m.steps.max()))
    for k in range(n_minima):
        sel = m.outcome == k
        # paler with more steps: the full colour (there at once) to MAX_FADE of the way to white (the slowest)
        fade = MAX_FADE * _quantized(np.clip(m.steps[sel], 0, None) / steps_max)[:, None]
        img[sel] = np.asarray(to_rgb(basin_color(k))) * (1 - fade) + fade
    return img


def png_data_url(rgb: np.ndarray) -> str:
    """Return an (h, w, 3) image of floats in 0..1, top row first, as a PNG data URL."""
    buf = io.BytesIO()
    Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def overlay(scene: Scene) -> dict | None:
    """Return the payload's ``outcome`` for a checked scene: its chosen racer's map as a PNG and its legend; else None."""
    if scene.overlay is None:
        return None
    surf = load_surface(scene.surface, scene.formula)
    n = map_size(surf)
    m = racer_map(scene, scene.overlay, n)
    (x0, x1), (y0, y1) = window_of(scene, surf)
    return {
        "image": png_data_url(outcome_rgb(m, len(surf.minima))[::-1]),  # top row = ymax, as the background
        "extent": [x0, x1, y0, y1],
        "n": n,
        "racer": scene.overlay,
        "label": m.label,
        "steps": scene.steps,
        "tol": tolerance(scene, surf),
        "minima_colors": [basin_color(k) for k in range(len(surf.minima))],
        "elsewhere": ELSEWHERE_COLOR,
        "diverged": DIVERGED_COLOR,
        "max_fade": MAX_FADE,
    }


__all__ = ["BASIN_COLORS", "ELSEWHERE_COLOR", "DIVERGED_COLOR", "MAX_FADE", "basin_color", "map_size", "racer_map",
           "reporting_to", "outcome_rgb", "png_data_url", "overlay"]
