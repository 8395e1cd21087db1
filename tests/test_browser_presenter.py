"""Presenter mode on a projector, and the first screen in normal mode, in a real headless Chromium.

At 1280x720, 1366x768 and 1920x1080 in presenter mode the map, the loss
chart and the playback controls lie inside the window without scrolling; at
1920x1080 the type is large enough for the back row; a preset can be switched
without leaving presenter mode. In normal mode the playback bar is on the
first screen at 1366x768 and 1920x1080. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect
from support import ARTIFACTS, READY, serve

from app import presets
from app.scene import load_surface

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1366, 768), (1920, 1080)]
# five racers: the tallest legend of the presets, the hardest to fit on a short screen
CROWDED = "rosenbrock_race"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("presenter") / "streamlit.log") as url:
        yield url


@pytest.fixture
def open_page(browser, base):
    pages = []

    def _open(preset: str, width: int, height: int, present: bool = True):
        page = browser.new_page(viewport={"width": width, "height": height})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        pages.append(page)
        query = presets.get(preset).to_query()
        if present:
            query["present"] = "1"
        page.goto(f"{base}/?{urlencode(query, doseq=True)}")
        page.wait_for_selector(READY, timeout=120_000)
        expect(page.locator("[data-testid='race-frame']")).to_have_text(re.compile(r"step \d+ / [1-9]\d*"),
                                                                         timeout=60_000)
        page.wait_for_timeout(600)  # the fit follows a layout on the next frame
        return page

    yield _open
    for page in pages:
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.errors == [], f"JavaScript errors: {page.errors}"
        page.close()


def inside(page, testid: str, width: int, height: int) -> dict:
    box = page.locator(f"[data-testid='{testid}']").first.bounding_box()
    assert box is not None, f"{testid} is not shown"
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{testid} {box} not inside {width}x{height}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{testid} {box} not inside {width}x{height}"
    return box


def scrolled(page) -> float:
    return float(page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTop"))


def font_px(locator) -> float:
    return float(locator.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)"))


@pytest.mark.parametrize("size", SIZES)
def test_presenter_mode_shows_map_loss_chart_and_controls_on_one_screen(open_page, size):
    width, height = size
    page = open_page(CROWDED, width, height)
    assert scrolled(page) == 0
    assert page.locator("[data-testid='stSidebar']").is_hidden()
    for testid in ("race-map", "race-loss", "race-controls", "race-play", "race-scrub", "descent-colorbar"):
        inside(page, testid, width, height)
    # a map a class can read: at least 40 % of the window's height
    assert page.locator("[data-testid='race-map']").bounding_box()["height"] >= 0.4 * height
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"presenter-{width}x{height}.png"))


def test_presenter_type_at_1920x1080_reads_from_the_back_row(open_page):
    page = open_page(CROWDED, 1920, 1080)
    for testid in ("race-map-bg", "race-loss-bg"):  # canvas tick labels: the size the canvas drew them at
        assert float(page.get_attribute(f"[data-testid='{testid}']", "data-font-px")) >= 18, testid
    legend = page.locator("[data-testid='race-legend'] li").first
    for sel in (".race-label", ".race-value"):
        assert font_px(legend.locator(sel)) >= 22, sel
    assert font_px(page.locator("[data-testid='race-frame']")) >= 22
    ticks = page.locator(".descent-colorbar-ticks span")
    assert ticks.count() >= 3
    for i in range(ticks.count()):
        assert font_px(ticks.nth(i)) >= 16
        assert ticks.nth(i).is_visible()


def test_colour_bar_labels_are_legible_at_1440_wide(open_page):
    page = open_page(CROWDED, 1440, 900, present=False)
    ticks = page.locator(".descent-colorbar-ticks span")
    assert ticks.count() >= 3
    boxes = [ticks.nth(i).bounding_box() for i in range(ticks.count())]
    assert all(font_px(ticks.nth(i)) >= 13 for i in range(ticks.count()))
    # labels side by side, none over another
    for a, b in zip(boxes, boxes[1:]):
        assert a["x"] + a["width"] <= b["x"], (a, b)


def test_a_preset_is_switched_without_leaving_presenter_mode(open_page):
    page = open_page("lr_too_large", 1366, 768)
    target = presets.presets()["ravine"].title
    page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=target).click()
    page.wait_for_selector(READY, timeout=120_000)
    expect(page.locator("[data-testid='stMain'] h3").first).to_have_text(target, timeout=60_000)
    # the URL is written at the end of the same script run that drew the heading: wait for it
    expect(page).to_have_url(re.compile(r"(?=.*present=1)(?=.*s=ravine)"), timeout=30_000)
    assert page.locator("[data-testid='stSidebar']").is_hidden()
    expect(page.locator("[data-testid='race-root']")).to_have_class(re.compile(r"\bpresenter\b"))
    expect(page.locator("[data-testid='race-frame']")).to_have_text(re.compile(r"/ 200$"), timeout=30_000)
    for testid in ("race-map", "race-loss", "race-controls"):
        inside(page, testid, 1366, 768)


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_normal_mode_playback_bar_is_on_the_first_screen(open_page, size):
    width, height = size
    page = open_page(CROWDED, width, height, present=False)
    assert scrolled(page) == 0
    for testid in ("race-controls", "race-play", "race-scrub", "race-map"):
        inside(page, testid, width, height)


def test_no_request_leaves_the_server_so_the_app_works_offline(browser, base):
    """The favicon, fonts and icons all come from the app's own server (a lecture hall is often offline)."""
    for path in ("/", "/mlp", "/?s=bowl&present=1"):
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        requests: list[str] = []
        page.on("request", lambda r, seen=requests: seen.append(r.url))
        page.goto(base + path)
        page.wait_for_selector(READY, timeout=120_000)
        page.wait_for_timeout(1500)
        icons = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map((l) => l.href)")
        page.close()
        host = base.replace("http://", "")
        away = [u for u in requests if not re.match(rf"(https?|wss?)://{re.escape(host)}/|data:|blob:", u)]
        assert requests and away == [], f"{path} asked another host for {away}"
        assert icons and all(i.startswith(base) for i in icons), icons


def test_phone_table_toolbar_does_not_cover_the_tab_bar(browser, base):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/?s=bowl")
    page.wait_for_selector(READY, timeout=120_000)
    table = page.locator("[data-testid='stDataFrame']").first
    table.scroll_into_view_if_needed()
    table.hover()  # the toolbar shows while the pointer is over the table (a tap on a phone)
    toolbar = page.locator("[data-testid='stElementToolbar']").first
    expect(toolbar).to_be_visible()
    bar, tabs = toolbar.bounding_box(), page.locator("[data-testid='stTabs'] [role='tablist']").first.bounding_box()
    page.screenshot(path=str(ARTIFACTS / "phone-390x844.png"))
    page.close()
    assert bar["y"] >= tabs["y"] + tabs["height"], f"toolbar {bar} over the tab bar {tabs}"


@pytest.mark.parametrize(("preset", "present", "size"), [("lr_too_large", False, (1366, 768)),
                                                        ("lr_too_large", True, (1920, 1080))])
def test_the_round_bowl_map_has_equal_scale(open_page, preset, present, size):
    page = open_page(preset, *size, present=present)
    top = page.locator("[data-testid='race-map-top']")
    w, h = (float(top.get_attribute(f"data-plot-{k}")) for k in ("width", "height"))
    (x0, x1), (y0, y1) = load_surface("bowl").window
    # one unit as many pixels across as up: the window is 6 by 6
    assert abs((w / (x1 - x0)) / (h / (y1 - y0)) - 1) < 0.01, (w, h)
