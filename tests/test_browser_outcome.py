"""The outcome map under the race, in a real headless Chromium on the real app.

A link's ``ov=1`` draws the first racer's outcome map under the race. A pixel
of it is read back from the map's canvas and compared with where a single
NumPy trace from that pixel's centre ends (``surfaces.trace``): it must have
the colour of that minimum, the colour the key beside the map gives it. A
click inside the pixel (off its centre) must start the race from the pixel's
centre. A screenshot lands in ``artifacts/outcome_overlay.png``.
"""

from __future__ import annotations

import base64
import io
import math
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from support import ARTIFACTS, READY, serve

import optim
import surfaces

LR, STEPS = 0.01, 200
QUERY = f"s=himmelblau&r=sgd(lr%3D{LR})%230072B2&n={STEPS}&ov=1"
WINDOW = (-5.0, 5.0, -5.0, 5.0)
TOL = 0.01 * math.hypot(10, 10)  # "reached a minimum": 1 % of the window's diagonal


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("outcome") / "streamlit.log") as url:
        yield url


def _rgb(css: str) -> np.ndarray:
    """Return a CSS colour as Chromium reports it (``rgb(r, g, b)``) as floats in 0..1."""
    return np.array([int(v) for v in re.findall(r"\d+", css)[:3]]) / 255.0


def _canvas(page, testid: str) -> tuple[np.ndarray, float]:
    """Return a canvas's pixels as floats in 0..1 and its pixels per CSS pixel."""
    canvas = page.locator(f"[data-testid='{testid}']")
    url = canvas.evaluate("(c) => c.toDataURL('image/png')")
    px = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")) / 255.0
    return px, px.shape[1] / float(canvas.evaluate("(c) => c.getBoundingClientRect().width"))


def _plot(page) -> dict:
    top = page.locator("[data-testid='race-map-top']")
    return {k: float(top.get_attribute(f"data-plot-{k}")) for k in ("left", "top", "width", "height")}


def _to_css(plot: dict, x: float, y: float) -> tuple[float, float]:
    x0, x1, y0, y1 = WINDOW
    return (plot["left"] + (x - x0) / (x1 - x0) * plot["width"], plot["top"] + (y1 - y) / (y1 - y0) * plot["height"])


def _where_it_ends(start) -> int | None:
    """Return the index of the minimum a single NumPy trace from ``start`` ends within TOL of, else None."""
    surf = surfaces.get("himmelblau")
    tr = surfaces.trace(surf, optim.make("sgd", lr=LR), start, STEPS, compiled=False)
    if tr.diverged_at is not None:
        return None
    d = np.linalg.norm(np.asarray(surf.minima) - tr.path[-1], axis=1)
    return int(np.argmin(d)) if d.min() <= TOL else None


def _on_fade_line(pixel: np.ndarray, color: np.ndarray, max_fade: float = 0.5) -> bool:
    """Return True if ``pixel`` is ``color`` taken some share (at most ``max_fade``) toward white in every channel."""
    room = 1.0 - color
    f = (pixel - color) / np.where(room > 0.1, room, np.nan)
    f = f[np.isfinite(f)]
    return bool(np.ptp(f) <= 0.03 and -0.02 <= f.mean() <= max_fade + 0.02)


@pytest.mark.browser
def test_overlay_pixel_has_its_minimums_colour_and_a_click_starts_from_its_centre(browser, base):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/?{QUERY}")
    page.wait_for_selector(READY, timeout=120_000)
    expect(page.locator("[data-testid='race-frame']")).to_have_text(re.compile(r"step \d+ / [1-9]"), timeout=60_000)
    key = page.locator("[data-testid='race-outcome']")
    expect(key).to_be_visible(timeout=60_000)
    n = int(re.search(r"(\d+) × \1", key.inner_text()).group(1))
    if page.get_attribute("[data-testid='race-frame']", "data-playing") == "true":
        page.locator("[data-testid='race-play']").click()
    page.wait_for_timeout(300)  # the overlay's picture decodes, then the background is drawn again
    plot = _plot(page)
    bg, ratio = _canvas(page, "race-map-bg")
    dx = dy = 10.0 / n

    # a pixel whose start lies between minimum 1 (3, 2) and the hill: its run has some way to go
    j, i = int((1.2 + 5.0) / dx), int((0.9 + 5.0) / dy)  # column from the left, row from the bottom
    centre = (-5.0 + (j + 0.5) * dx, -5.0 + (i + 0.5) * dy)
    k = _where_it_ends(centre)
    assert k is not None, "the chosen start must reach a minimum for this test to mean something"
    cx, cy = _to_css(plot, *centre)
    pixel = bg[int(round(cy * ratio)), int(round(cx * ratio))]
    swatches = key.locator(".race-outcome-swatch.star")
    expect(swatches).to_have_count(4)
    colour = _rgb(swatches.nth(k).evaluate("(el) => getComputedStyle(el).backgroundColor"))
    assert _on_fade_line(pixel, colour), (pixel, colour, k)
    others = [_rgb(swatches.nth(m).evaluate("(el) => getComputedStyle(el).backgroundColor")) for m in range(4) if m != k]
    assert not any(_on_fade_line(pixel, c) for c in others)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("[data-testid='race-root']").screenshot(path=str(ARTIFACTS / "outcome_overlay.png"))

    # a click 0.3 of a pixel off the centre starts the race from the centre
    before = parse_qs(urlparse(page.url).query).get("x0", [""])[0]
    page.locator("[data-testid='race-map-top']").click(position={"x": cx + 0.3 * dx / 10.0 * plot["width"],
                                                                  "y": cy - 0.3 * dy / 10.0 * plot["height"]})
    page.wait_for_function("(b) => (new URLSearchParams(location.search).get('x0') || '') !== b", arg=before,
                           timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    x0 = parse_qs(urlparse(page.url).query)["x0"][0]
    sx, sy = (float(v) for v in x0.split(","))
    assert abs(sx - centre[0]) <= 1e-3 * dx and abs(sy - centre[1]) <= 1e-3 * dy, (sx, sy, centre)
    assert "ov" in parse_qs(urlparse(page.url).query)  # the map stays under the new race
    assert not errors, errors
    page.close()
