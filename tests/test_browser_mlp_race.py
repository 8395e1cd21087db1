"""The MLP page in a real browser: four optimizers race live on two moons; the landscape; the edge of stability.

Screenshots go to ``artifacts/``: ``mlp-live-race.png`` (during training),
``mlp-landscape.png`` and ``mlp-edge-of-stability.png``.
"""

from __future__ import annotations

import io
import time
import urllib.parse

import numpy as np
import pytest

from app.experiment import Experiment, presets, to_query
from app.racer import PALETTE, Racer
from tests.support import ARTIFACTS, READY, launch, serve

pytest.importorskip("playwright")
from PIL import Image  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

RACE = Experiment(dataset="two_moons", hidden=(16, 16), epochs=700, batch_size=32, seed=0,
                  racers=tuple(Racer(n, (("lr", lr),), color=PALETTE[i]) for i, (n, lr) in
                               enumerate((("sgd", 0.05), ("momentum", 0.05), ("rmsprop", 0.003), ("adam", 0.003)))))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("mlp") / "streamlit.log") as base:
        yield base


@pytest.fixture()
def page(server):
    with sync_playwright() as p:
        browser = launch(p)
        pg = browser.new_page(viewport={"width": 1400, "height": 1800})
        yield pg
        browser.close()


def open_experiment(page, server, exp) -> None:
    page.goto(f"{server}/mlp?{urllib.parse.urlencode(to_query(exp), doseq=True)}")
    page.wait_for_selector(READY, timeout=90_000)
    page.get_by_role("button", name="Train", exact=True).click()


def colour_counts(png: bytes) -> list[int]:
    """Return, per racer colour, how many pixels of the picture are close to it."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    out = []
    for hexc in PALETTE[:4]:
        c = np.array([int(hexc[i:i + 2], 16) for i in (1, 3, 5)])
        out.append(int((np.abs(a - c).sum(axis=2) < 60).sum()))
    return out


def progress_text(page) -> str:
    bar = page.locator("[data-testid='stProgress']")
    return bar.inner_text(timeout=5000) if bar.count() else ""


def epoch_of(text: str) -> int | None:
    import re

    m = re.search(r"epoch (\d+) of (\d+)", text)
    return int(m.group(1)) if m else None


def test_four_optimizers_race_live_and_the_boundaries_change_while_training(page, server):
    open_experiment(page, server, RACE)
    ARTIFACTS.mkdir(exist_ok=True)
    looks = []  # (epoch, colour counts of the curves, first boundary picture's pixels)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = progress_text(page)
        k = epoch_of(text)
        if text.startswith("done") or text.startswith("stopped"):
            break
        charts = page.locator("[data-testid='stVegaLiteChart']")
        pics = page.locator("[data-testid='stImage'] img")
        if k and 0 < k < RACE.epochs and charts.count() and pics.count() >= 4:
            # A clip of the page, not an element screenshot: the live elements are redrawn twice a second
            # and never hold still long enough for Playwright's stability wait.
            box_c, box_p = charts.first.bounding_box(), pics.first.bounding_box()
            if not box_c or not box_p:
                continue
            curves = colour_counts(page.screenshot(clip=box_c))
            pic = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=box_p))).convert("RGB"))
            looks.append((k, curves, pic))
            if len(looks) == 2:
                page.screenshot(path=str(ARTIFACTS / "mlp-live-race.png"), full_page=True)
        time.sleep(0.4)
    assert len(looks) >= 3, f"saw the race only {len(looks)} times: {[k for k, *_ in looks]}"
    first, last = looks[0], looks[-1]
    assert first[0] < last[0] < RACE.epochs
    # every racer's curve is drawn and grows while training is still under way (no one waits for another)
    assert all(c > 0 for c in first[1]), first[1]
    assert all(b > a for a, b in zip(first[1], last[1])), (first[1], last[1])
    # the boundary picture was redrawn with a different boundary during training
    assert first[2].shape != last[2].shape or np.abs(first[2].astype(int) - last[2].astype(int)).sum() > 0
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stProgress']\")]"
                           ".some(e => e.innerText.startsWith('done'))", timeout=180_000)
    page.wait_for_selector(READY, timeout=90_000)
    # the scrubber over the saved snapshots (the finished page may take one more script run to show it)
    expect(page.get_by_text("Boundaries at epoch").first).to_be_visible(timeout=60_000)
    land = page.get_by_text("The network's own loss landscape")
    land.scroll_into_view_if_needed()
    assert page.get_by_text("Share of each path's movement the plane holds").count() == 1
    page.locator("[data-testid='stImage'] img").last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "mlp-landscape.png"), full_page=True)


def test_edge_of_stability_preset_plots_sharpness_against_two_over_lr(page, server):
    exp = presets()["edge_of_stability"].experiment
    open_experiment(page, server, exp)
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stProgress']\")]"
                           ".some(e => e.innerText.startsWith('done'))", timeout=180_000)
    page.wait_for_selector(READY, timeout=90_000)
    cap = page.get_by_text("Sharpness: the largest eigenvalue")
    assert cap.count() == 1
    charts = page.locator("[data-testid='stVegaLiteChart']")
    assert charts.count() >= 2  # the curves and the sharpness
    charts.nth(1).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "mlp-edge-of-stability.png"), full_page=True)
