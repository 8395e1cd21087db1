"""The insides switch in a real headless Chromium, on the real app: arrows drawn at every racer's head.

The switch asks the page for insides (a rerun with the scene's insides flag);
then, stepping through the race, the map's top layer has the arrows' colours
around each head, and has them no more once the switch is off again. Where
each head is comes from Python's own run of the same scene. Screenshots of
the ravine with momentum's velocity, the plateau with Adam's and RMSProp's
learning rate per axis, and the phase diagram land in ``artifacts/``.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from support import ARTIFACTS, READY, serve

from app.race import run_race
from app.scene import Scene

RAVINE = "s=ravine&r=sgd(lr%3D0.19)%230072B2&r=momentum(lr%3D0.5,beta%3D0.8)%23D55E00&x0=-9,1.5&n=200"
PLATEAU = "s=plateau&r=sgd(lr%3D0.1)%230072B2&r=adam(lr%3D0.05)%23CC79A7&r=rmsprop(lr%3D0.01)%23009E73&n=300"
# the arrows' own colours (app/component/arrows.js): the negative gradient and the optimizer's vectors
GRADIENT = (0x1D, 0x1D, 0x1F)
VECTOR = (0x7B, 0x1F, 0xA2)
RATE_BOX = (0x00, 0x83, 0x8F)
SGD_COLOUR = (0x00, 0x72, 0xB2)  # the step arrow has its racer's colour


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("insides") / "streamlit.log") as url:
        yield url


def _open(browser, base, query):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(f"{base}/?{query}")
    page.wait_for_selector(READY, timeout=90_000)
    expect(page.locator("[data-testid='race-frame']")).to_have_text(re.compile(r"step \d+ / [1-9]"), timeout=60_000)
    if page.get_attribute("[data-testid='race-frame']", "data-playing") == "true":
        page.locator("[data-testid='race-play']").click()
    return page


def _scrub(page, k):
    page.locator("[data-testid='race-scrub']").evaluate(
        "(el, k) => { el.value = k; el.dispatchEvent(new Event('input', {bubbles: true})); }", k)
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", str(k))
    page.wait_for_timeout(150)  # one animation frame draws it


def _top_pixels(page):
    """Return the map's top layer as RGBA pixels and its pixels per CSS pixel."""
    canvas = page.locator("[data-testid='race-map-top']")
    url = canvas.evaluate("(c) => c.toDataURL('image/png')")
    px = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")).astype(int)
    css_w = float(canvas.evaluate("(c) => c.getBoundingClientRect().width"))
    return px, px.shape[1] / css_w


def _head_px(page, point, extent):
    """Return where a data point sits on the map's top layer, in CSS pixels."""
    top = page.locator("[data-testid='race-map-top']")
    r = {k: float(top.get_attribute(f"data-plot-{k}")) for k in ("left", "top", "width", "height")}
    x0, x1, y0, y1 = extent
    return (r["left"] + (point[0] - x0) / (x1 - x0) * r["width"],
            r["top"] + (y1 - point[1]) / (y1 - y0) * r["height"])


def _colour_near(px, ratio, centre, colour, radius=70, tol=40):
    """Return how many opaque pixels of ``colour`` lie between 10 and ``radius`` CSS px of ``centre`` (the head is inside 10)."""
    h, w = px.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    d2 = (xx - centre[0] * ratio) ** 2 + (yy - centre[1] * ratio) ** 2
    near = (d2 <= (radius * ratio) ** 2) & (d2 >= (10 * ratio) ** 2)
    match = (np.abs(px[..., :3] - np.array(colour)).max(axis=-1) <= tol) & (px[..., 3] > 200)
    return int((near & match).sum())


@pytest.mark.browser
def test_switch_draws_arrows_at_every_head_while_stepping(browser, base):
    page = _open(browser, base, RAVINE)
    button = page.locator("[data-testid='race-insides-btn']")
    expect(button).to_have_attribute("data-available", "false")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click()
    # the page reruns with the scene's insides flag; the animator keeps its race and shows them
    expect(button).to_have_attribute("data-available", "true", timeout=60_000)
    expect(button).to_have_attribute("aria-pressed", "true")
    page.wait_for_selector(READY, timeout=60_000)
    expect(page.locator("[data-testid='race-insides']")).to_be_visible()
    scene, _ = Scene.from_query({"s": "ravine", "r": ["sgd(lr=0.19)", "momentum(lr=0.5,beta=0.8)"], "x0": "-9,1.5",
                                 "n": "200"})
    race = run_race(scene)
    extent = (-10.0, 10.0, -3.0, 3.0)
    if page.get_attribute("[data-testid='race-frame']", "data-playing") == "true":
        page.locator("[data-testid='race-play']").click()
    # frames where the two heads are apart, so each head's own arrows are told apart: SGD's step has its
    # racer's colour, momentum's velocity its own; both have the negative gradient
    heads = {k: [_head_px(page, run.path[0, k, 0], extent) for run in race.runs] for k in range(5, 150)}
    frames = [k for k, (a, b) in heads.items() if np.hypot(a[0] - b[0], a[1] - b[1]) > 90][::15][:3]
    assert len(frames) == 3
    own = {0: SGD_COLOUR, 1: VECTOR}
    for k in frames:
        _scrub(page, k)
        on, ratio = _top_pixels(page)
        text = page.locator("[data-testid='race-insides']").inner_text()
        assert "lr x curvature = 1.9 < 2: stable" in text and "velocity" in text
        button.click()  # off, for the same frame without arrows
        expect(button).to_have_attribute("aria-pressed", "false")
        _scrub(page, k + 1)
        _scrub(page, k)
        off, _ = _top_pixels(page)
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        for i in (0, 1):
            head = heads[k][i]
            for colour in (GRADIENT, own[i]):
                drawn = _colour_near(on, ratio, head, colour) - _colour_near(off, ratio, head, colour)
                assert drawn > 15 * ratio, f"no arrow of colour {colour} at racer {i}'s head, step {k}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("[data-testid='race-root']").screenshot(path=str(ARTIFACTS / "insides_ravine.png"))
    # off again: the same step has no arrows left
    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    _scrub(page, 41)
    _scrub(page, 40)
    px, ratio = _top_pixels(page)
    assert _colour_near(px, ratio, _head_px(page, race.runs[1].path[0, 40, 0], extent), VECTOR) == 0
    expect(page.locator("[data-testid='race-insides']")).to_be_hidden()
    assert page.errors == []
    page.close()


@pytest.mark.browser
def test_plateau_rate_boxes_and_the_phase_diagram(browser, base):
    page = _open(browser, base, PLATEAU + "&ins=1")
    expect(page.locator("[data-testid='race-insides-btn']")).to_have_attribute("aria-pressed", "true")
    _scrub(page, 40)
    px, ratio = _top_pixels(page)
    scene, _ = Scene.from_query({"s": "plateau", "r": ["sgd(lr=0.1)", "adam(lr=0.05)", "rmsprop(lr=0.01)"],
                                 "n": "300"})
    race = run_race(scene)
    for i in (1, 2):  # Adam and RMSProp divide by sqrt(s): each has its box of learning rates per axis
        head = _head_px(page, race.runs[i].path[0, 40, 0], (-4.0, 4.0, -4.0, 4.0))
        assert _colour_near(px, ratio, head, RATE_BOX, radius=90) > 20 * ratio
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("[data-testid='race-root']").screenshot(path=str(ARTIFACTS / "insides_plateau.png"))
    page.close()

    page = _open(browser, base, RAVINE)
    page.get_by_role("tab", name="Update rules").click()
    page.wait_for_selector(READY, timeout=60_000)
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    chart.scroll_into_view_if_needed()
    expect(chart.locator("canvas, svg").first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    chart.screenshot(path=str(ARTIFACTS / "phase_diagram.png"))
    # a click on a cell sets the momentum racer's lr and beta
    lr_box = page.get_by_role("spinbutton", name="lr").nth(1)
    before = lr_box.input_value()
    box = chart.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.3)
    expect(lr_box).not_to_have_value(before, timeout=30_000)
    assert page.errors == []
    page.close()


CURVATURE = (0xE6, 0x51, 0x00)  # the curvature cross (app/component/arrows.js)


@pytest.mark.browser
def test_shift_click_draws_the_curvature_glyph_and_leaves_the_start(browser, base):
    page = _open(browser, base, "s=rosenbrock&r=sgd(lr%3D0.001)%230072B2&r=adam(lr%3D0.05)%23CC79A7&n=100")
    extent = (-2.0, 2.0, -1.0, 3.0)
    point = (0.5, 0.3)
    at = _head_px(page, point, extent)
    before, ratio = _top_pixels(page)
    assert _colour_near(before, ratio, at, CURVATURE, radius=60, tol=30) == 0
    start_x = page.get_by_role("spinbutton", name="Start x").input_value()
    page.locator("[data-testid='race-map-top']").click(position={"x": at[0], "y": at[1]}, modifiers=["Shift"])
    probe = page.locator("[data-testid='race-probe']")
    expect(probe).to_be_visible(timeout=60_000)
    expect(probe).to_contain_text("Curvature at (")
    text = probe.inner_text()
    x, y = (float(v) for v in re.search(r"Curvature at \(([-\d.e]+), ([-\d.e]+)\)", text).groups())
    assert abs(x - point[0]) < 0.01 and abs(y - point[1]) < 0.01  # where the click landed, to a pixel or so
    # Rosenbrock's Hessian [[1200x^2 - 400y + 2, -400x], [-400x, 200]]: its larger eigenvalue in closed form
    a, b = 1200 * x * x - 400 * y + 2, -400 * x
    hi = (a + 200) / 2 + np.hypot((a - 200) / 2, b)
    number = float(re.search(r"SGD \(lr=0.001\): lr x curvature = ([\d.]+) < 2: stable", text).group(1))
    assert number == pytest.approx(0.001 * hi, rel=0.01)  # x, y are shown to 3 digits
    assert "no fixed limit" in text
    page.wait_for_timeout(300)  # one animation frame draws the glyph
    after, ratio = _top_pixels(page)
    assert _colour_near(after, ratio, at, CURVATURE, radius=60, tol=30) > 20
    assert page.get_by_role("spinbutton", name="Start x").input_value() == start_x  # the start did not move
    assert not page.errors, page.errors
    page.close()
