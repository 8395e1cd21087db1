"""The MLP page in Chromium at 1366 x 768: a control changes the URL, the URL reopens the same controls,
Back steps back, switching pages carries no key of the other page; eight optimizers' results stay on the page."""

from __future__ import annotations

import urllib.parse

import pytest
from playwright.sync_api import expect
from support import READY, serve

from app.experiment import Experiment, to_query
from app.racer import PALETTE, Racer
from app.state import EXPERIMENT_KEYS, SCENE_KEYS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("mlp_url") / "streamlit.log") as base:
        yield base


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    yield context.new_page()
    context.close()


def query(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)


def wait_for_query(page, key: str, value: str) -> None:
    """Return once the address bar's ``key`` has ``value`` (Streamlit writes it after the rerun)."""
    page.wait_for_url(lambda u: query(u).get(key) == [value], timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)


def field(page, label: str):
    return page.locator("[data-testid='stSidebar']").get_by_label(label, exact=True)


def set_field(page, label: str, value: str) -> None:
    box = field(page, label)
    box.fill(value)
    box.press("Enter")


def test_the_address_bar_holds_the_experiment_and_reopens_it(page, server):
    page.goto(f"{server}/mlp")
    wait_for_query(page, "ep", "100")  # the default experiment, written on arrival
    assert set(query(page.url)) == EXPERIMENT_KEYS
    set_field(page, "Epochs", "7")
    wait_for_query(page, "ep", "7")
    set_field(page, "Hidden layer sizes", "8, 4")
    wait_for_query(page, "h", "8,4")
    link = page.url

    # the link, opened in a new session, shows the same controls
    other = page.context.browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    try:
        other.goto(link)
        other.wait_for_selector(READY, timeout=90_000)
        # waited for: a new session's page may be ready before its first run has drawn the sidebar
        expect(field(other, "Epochs")).to_have_value("7", timeout=60_000)
        expect(field(other, "Hidden layer sizes")).to_have_value("8, 4")
        assert query(other.url) == query(link)  # nothing to correct: written back as it came
    finally:
        other.context.close()

    # Back: the previous experiment's controls
    page.go_back()
    page.wait_for_url(lambda u: query(u).get("h") == ["16,16"], timeout=60_000)
    expect(field(page, "Hidden layer sizes")).to_have_value("16, 16", timeout=60_000)
    expect(field(page, "Epochs")).to_have_value("7")


def test_switching_pages_carries_no_foreign_keys(page, server):
    page.goto(f"{server}/mlp")
    page.wait_for_selector(READY, timeout=90_000)
    set_field(page, "Epochs", "9")
    wait_for_query(page, "ep", "9")
    page.locator("[data-testid='stSidebarNav']").get_by_text("Loss surfaces").click()
    # the default page's path is the site's root
    page.wait_for_url(lambda u: "/mlp" not in u and "s" in query(u), timeout=60_000)
    page.wait_for_selector(READY, timeout=90_000)
    keys = set(query(page.url))
    assert keys <= SCENE_KEYS and not keys & (EXPERIMENT_KEYS - SCENE_KEYS), keys
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    assert not [a for a in alerts if "link" in a.lower()], alerts  # no note about the other page's keys
    page.locator("[data-testid='stSidebarNav']").get_by_text("MLP classifier").click()
    page.wait_for_url(lambda u: "/mlp" in u and query(u).get("ep") == ["9"], timeout=60_000)
    page.wait_for_selector(READY, timeout=90_000)
    keys = set(query(page.url))
    assert keys == EXPERIMENT_KEYS, keys
    expect(field(page, "Epochs")).to_have_value("9", timeout=60_000)


EIGHT = Experiment(dataset="two_moons", hidden=(8,), epochs=20, sharpness_every=5, racers=tuple(
    Racer(name, (("lr", 0.01),), color=PALETTE[i]) for i, name in enumerate(
        ("sgd", "momentum", "heavy_ball", "rmsprop", "adam", "adagrad", "adamw", "lion"))))


def test_eight_optimizers_stay_inside_the_page_at_1366(page, server):
    """Every chart and picture of a finished eight-optimizer training ends inside the page's content column."""
    page.goto(f"{server}/mlp?{urllib.parse.urlencode(to_query(EIGHT), doseq=True)}")
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator("[data-testid='stProgress']").get_by_text("done:").wait_for(timeout=120_000)
    page.wait_for_selector(READY, timeout=60_000)
    page.locator("[data-testid='stMain']").get_by_text("Share of each path").wait_for(timeout=60_000)
    right = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').getBoundingClientRect()"
                          ".right - parseFloat(getComputedStyle(document.querySelector("
                          "'[data-testid=stMainBlockContainer]')).paddingRight)")
    edges = page.evaluate("[...document.querySelectorAll('[data-testid=stVegaLiteChart] canvas, "
                          "[data-testid=stVegaLiteChart] svg, [data-testid=stImage] img')]"
                          ".map(e => [e.closest('[data-testid]').dataset.testid, e.getBoundingClientRect().right])")
    charts = [e for e in edges if e[0] == "stVegaLiteChart"]
    assert len(charts) >= 3, edges  # loss and accuracy, sharpness, loss along the paths
    assert all(r <= right + 1 for _, r in edges), (right, edges)
