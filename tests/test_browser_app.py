"""The whole app in a real headless Chromium: the race plays, pauses, takes clicks; the MLP panel trains.

Skipped where no Chromium exists, except under CI=true, where that fails.
Screenshots land in artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect, sync_playwright
from support import ARTIFACTS, READY, launch, require_chromium, serve

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    require_chromium()
    with serve(log=tmp_path_factory.mktemp("app") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
    pg = ctx.new_page()
    yield pg
    assert pg.locator("[data-testid='stException']").count() == 0, "an exception was shown"
    ctx.close()


def ready(page):
    page.wait_for_selector(READY, timeout=60_000)


def frame(page) -> int:
    return int(page.get_attribute("[data-testid='race-frame']", "data-frame"))


def test_page_loads_and_the_race_plays_and_pauses(base, page):
    t0 = time.monotonic()
    page.goto(base + "/")
    ready(page)
    frame_el = page.locator("[data-testid='race-frame']")
    expect(frame_el).to_be_visible(timeout=30_000)
    print(f"first full render in {time.monotonic() - t0:.2f} s")
    # autoplay: the counter advances
    a = frame(page)
    page.wait_for_timeout(700)
    b = frame(page)
    if b == a:  # paused at load (e.g. reached the end): start it
        page.click("[data-testid='race-restart']")
        page.click("[data-testid='race-play']")
        a = frame(page)
        page.wait_for_timeout(700)
        b = frame(page)
    assert b > a
    expect(frame_el).to_have_attribute("data-playing", "true")
    page.click("[data-testid='race-play']")  # pause
    expect(frame_el).to_have_attribute("data-playing", "false")
    stopped = frame(page)
    page.wait_for_timeout(600)
    assert frame(page) == stopped
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-surfaces.png"), full_page=True)


def test_click_on_the_map_moves_the_start(base, page):
    page.goto(base + "/?s=bowl&x0=-2.5,2&n=50")
    ready(page)
    top = page.locator("[data-testid='race-map-top']")
    expect(top).to_be_visible(timeout=30_000)
    box = top.bounding_box()
    left, ptop, width, height = (float(top.get_attribute(f"data-plot-{k}")) for k in ("left", "top", "width", "height"))
    # the bowl's map spans [-3, 3] x [-3, 3]: click at x = -1.5 (a quarter in), y = 0.75 (3/8 down from the top)
    page.mouse.click(box["x"] + left + 0.25 * width, box["y"] + ptop + 0.375 * height)
    page.wait_for_timeout(300)
    ready(page)
    sx = page.get_by_role("spinbutton", name="Start x")
    sy = page.get_by_role("spinbutton", name="Start y")
    expect(sx).not_to_have_value("-2.5", timeout=20_000)
    x, y = float(sx.input_value()), float(sy.input_value())
    assert abs(x - -1.5) < 0.05 and abs(y - 0.75) < 0.05, (x, y)
    assert "x0=" in page.url


def test_mlp_panel_trains_on_two_moons_and_draws_curves_and_boundaries(base, page):
    page.goto(base + "/mlp")
    ready(page)
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("30")
    epochs.press("Enter")
    ready(page)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(timeout=60_000)
    # the data's preview is an image from the start: the results table is what says the training ended
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=120_000)
    expect(page.locator("[data-testid='stImage'] img").last).to_be_visible()  # the final boundaries
    ready(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-mlp.png"), full_page=True)
