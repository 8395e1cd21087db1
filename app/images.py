"""The pictures behind a race: each surface's contour background and colour bar, drawn once per window.

A class shares these, so they are cached (bounded) and drawn one at a time;
the entry script starts a thread that draws the catalogue's while no page is
being drawn, so the first visitor of each surface does not wait.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

import surfaces

from . import plots
from .scene import Scene, load_surface

_IMAGES_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def _surface_images(surface: str, formula: str, window: tuple, equal: bool) -> tuple[str, dict]:
    surf = load_surface(surface, formula)
    width, height = plots.map_pixels(window, plots.equal_scale(window, equal))
    return plots.contour_image(surf, window, width, height), plots.colorbar(surf, window)


def surface_images(surface: str, formula: str, window: tuple, equal: bool = True) -> tuple[str, dict]:
    """Return (contour background data URL, colour bar as ``plots.colorbar`` gives it), made once per surface and window.

    The background has the window's shape where the axes have equal scale
    (``plots.equal_scale``), else 4:3; the animator gives the map that shape.

    One render at a time: when a class switches to the same new surface at once, the
    others wait for the first render and then read it, instead of each drawing it again.
    """
    with _IMAGES_LOCK:
        return _surface_images(surface, formula, tuple(map(tuple, window)), bool(equal))


_pages_running = 0  # surfaces pages being drawn right now (the warming waits for none)
_PAGES_LOCK = threading.Lock()


def warm_catalogue() -> None:
    """Render every catalogue surface's images once, in the background, when the server starts serving.

    The default scene's surface comes first: the first visitor needs it now,
    and would otherwise wait for other surfaces' pictures to be drawn before it.
    """
    first = Scene().surface
    for name in sorted(surfaces.CATALOGUE, key=lambda n: n != first):
        wait_for_idle()
        try:
            surf = load_surface(name)
            surface_images(name, "", tuple(map(tuple, surf.window)))
        except Exception:  # noqa: BLE001 - warming is an optimisation; a failure shows up when used
            pass


@st.cache_resource(show_spinner=False)
def start_catalogue_warming() -> threading.Thread:
    """Return the thread that warms the catalogue's images, started once per server process.

    Called by the entry script on every run; the resource cache makes every
    call after the first return the same thread.
    """
    warm = threading.Thread(target=warm_catalogue, name="descent-warm-catalogue", daemon=True)
    warm.start()
    return warm


def wait_for_idle() -> None:
    """Return once no surfaces page is being drawn: background warming runs at idle priority."""
    while _pages_running:
        time.sleep(0.05)


@contextmanager
def page_drawing() -> Iterator[None]:
    """Yield while a surfaces page is drawn; the catalogue warming draws nothing meanwhile."""
    global _pages_running
    with _PAGES_LOCK:
        _pages_running += 1
    try:
        yield
    finally:
        with _PAGES_LOCK:
            _pages_running -= 1
