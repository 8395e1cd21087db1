"""The outcome maps of the "Compare fairly" tab, clicked in a real headless Chromium on the real app.

The maps side by side are one picture (the matplotlib figure); a click inside
the second map must start the race from the centre of the start's pixel it
fell in (the Start x / Start y widgets and the link's ``x0`` then say so), and
a click in the figure's margin must change nothing. The pixel is worked out
here from Himmelblau's window and the map's size, not read from the app.
A screenshot of the tab at 1366 x 768 lands in ``artifacts/compare_maps.png``.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from support import ARTIFACTS, READY, serve

QUERY = "s=himmelblau&n=40"
WINDOW = (-5.0, 5.0, -5.0, 5.0)
N = 64  # starts per side, chosen on the tab: a pixel is then several CSS pixels wide


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("compare_maps") / "streamlit.log") as url:
        yield url


def _start(page) -> tuple[float, float]:
    return (float(page.get_by_role("spinbutton", name="Start x").input_value()), float(page.get_by_role("spinbutton", name="Start y").input_value()))


def _css(img, axis: dict, x: float, y: float) -> dict:
    """Return the CSS position in the picture of data (x, y) in the map with ``axis``'s box and extent."""
    rect = img.evaluate("(el) => { const r = el.getBoundingClientRect(); return {w: r.width, h: r.height}; }")
    b0, c0, b1, c1 = axis["box"]
    x0, x1, y0, y1 = axis["extent"]
    fx = b0 + (x - x0) / (x1 - x0) * (b1 - b0)
    fy = c0 + (y - y0) / (y1 - y0) * (c1 - c0)
    return {"x": fx * rect["w"], "y": (1 - fy) * rect["h"]}


@pytest.mark.browser
def test_a_click_on_the_second_map_races_from_its_pixels_centre_and_a_margin_click_does_nothing(browser, base):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/?{QUERY}")
    page.wait_for_selector(READY, timeout=120_000)
    page.get_by_role("tab", name="Compare fairly").click()
    page.wait_for_selector(READY, timeout=120_000)
    page.get_by_role("tab", name="Outcome maps").click()
    page.wait_for_selector(READY, timeout=180_000)
    page.get_by_role("radio", name=str(N), exact=True).click()
    img = page.locator("[data-testid='maps-img']")
    expect(img).to_be_visible(timeout=120_000)
    # the rerun with the new size may not have started yet when the click returns: wait for its maps
    expect(img).to_have_attribute("data-axes", re.compile(rf'"n":\[{N},{N}\]'), timeout=180_000)
    page.wait_for_selector(READY, timeout=180_000)
    expect(page.get_by_text("Click a map to race from that start.")).to_be_visible()
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=60_000)
    axes = json.loads(img.get_attribute("data-axes"))
    assert len(axes) >= 2, "the default scene races at least two optimizers"
    second = axes[1]
    assert second["n"] == [N, N] and second["extent"] == pytest.approx(WINDOW)
    img.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare_maps.png"))

    # the margin (above the first map's title, left of everything): no cursor, no new start, no rerun
    before, url = _start(page), page.url
    margin = {"x": 3.0, "y": 3.0}
    img.hover(position=margin)
    expect(img).not_to_have_class("maps-img on-map")
    img.click(position=margin)
    page.wait_for_timeout(1500)  # a click that did something would have rerun the script by now
    page.wait_for_selector(READY, timeout=60_000)
    assert _start(page) == before and page.url == url

    # inside the second map, 0.2 of a pixel off a pixel's centre: the race starts from that centre
    step = (WINDOW[1] - WINDOW[0]) / N
    j, i = int((1.3 - WINDOW[0]) / step), int((-2.6 - WINDOW[2]) / step)
    centre = (WINDOW[0] + (j + 0.5) * step, WINDOW[2] + (i + 0.5) * step)
    assert centre != pytest.approx(before, abs=step)  # the click must move the start for this test to mean something
    where = _css(img, second, centre[0] + 0.2 * step, centre[1] - 0.2 * step)
    img.hover(position=where)
    expect(img).to_have_class("maps-img on-map")
    img.click(position=where)
    page.wait_for_function("(u) => location.href !== u", arg=url, timeout=60_000)
    page.wait_for_selector(READY, timeout=120_000)
    sx, sy = _start(page)
    assert math.isclose(sx, centre[0], abs_tol=0.5 * step) and math.isclose(sy, centre[1], abs_tol=0.5 * step)
    assert abs(sx - centre[0]) <= 1e-3 * step and abs(sy - centre[1]) <= 1e-3 * step, (sx, sy, centre)
    x0 = parse_qs(urlparse(page.url).query)["x0"][0]
    assert [float(v) for v in x0.split(",")] == pytest.approx(list(centre), abs=1e-3 * step)
    # and the page then rests: the click ran the script once, not in a loop (a page that called
    # st.rerun() on this click saw it again in every following run)
    page.evaluate("""() => {
        const app = document.querySelector("[data-testid='stApp']");
        window.__descentRuns = 0;
        new MutationObserver(() => {
            if (app.getAttribute("data-test-script-state") === "running") window.__descentRuns += 1;
        }).observe(app, { attributes: true, attributeFilter: ["data-test-script-state"] });
    }""")
    page.wait_for_timeout(3000)
    assert page.evaluate("() => window.__descentRuns") == 0, "the script kept rerunning after the click"
    assert not errors, errors
    page.close()
