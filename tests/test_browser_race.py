"""The race animator in a real headless Chromium: drawing, playback, keys, and clicks back to Python.

Drives ``tests/apps/race_demo.py`` (a synthetic race) through Streamlit. Where
no Chromium is installed the browser tests are skipped, except under CI=true,
where they fail. A screenshot of the component is saved to ``artifacts/race.png``.
The payload check that guards ``race_view`` is tested here too, without a browser.
"""

from __future__ import annotations

import base64
import io
import re
import sys
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from support import ARTIFACTS, READY, ROOT, serve

DEMO = ROOT / "tests" / "apps" / "race_demo.py"

from app.payload import RacePayloadError, check_payload  # noqa: E402

sys.path.insert(0, str(DEMO.parent))
from race_demo import EXTENT, demo_payload  # noqa: E402

STEPS = 200  # the demo's default


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Return the base URL of the demo page served by a Streamlit subprocess."""
    with serve(DEMO, log=tmp_path_factory.mktemp("race") / "streamlit.log") as base:
        yield base


@pytest.fixture
def open_demo(browser, server):
    """Return a function that opens the demo with query parameters and gives back the page."""
    pages = []

    def _open(query: str = "", width: int = 1400, height: int = 1000):
        page = browser.new_page(viewport={"width": width, "height": height})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        pages.append(page)
        page.goto(f"{server}/?{query}")
        page.wait_for_selector(READY, timeout=60_000)
        # The template reads "step 0 / 0" until the payload arrives; wait for the real count.
        expect(page.locator("[data-testid='race-frame']")).to_have_text(
            re.compile(r"step 0 / [1-9]\d*"), timeout=30_000
        )
        return page

    yield _open
    for page in pages:
        assert page.locator("[data-testid='stException']").count() == 0, "the demo page showed an exception"
        assert page.errors == [], f"JavaScript errors: {page.errors}"
        page.close()


# -- helpers ---------------------------------------------------------------------


def frame(page) -> int:
    return int(page.get_attribute("[data-testid='race-frame']", "data-frame"))


def playing(page) -> bool:
    return page.get_attribute("[data-testid='race-frame']", "data-playing") == "true"


def wait_until(predicate, what: str, timeout: float = 20.0):
    """Poll ``predicate`` until true; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {timeout:g} s")


def scrub_to(page, k: int):
    page.locator("[data-testid='race-scrub']").evaluate(
        "(el, k) => { el.value = k; el.dispatchEvent(new Event('input', {bubbles: true})); }", k
    )
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", str(k))


def canvas_pixels(page, testid: str) -> np.ndarray:
    """Return the RGBA pixels of one canvas layer, as drawn (transparent where nothing is)."""
    url = page.locator(f"[data-testid='{testid}']").evaluate("(c) => c.toDataURL('image/png')")
    raw = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA")).astype(int)


def plot_rect(page) -> tuple[dict, dict]:
    """Return (bounding box of the map's top layer in page pixels, the plot's rectangle inside it)."""
    top = page.locator("[data-testid='race-map-top']")
    rect = {k: float(top.get_attribute(f"data-plot-{k}")) for k in ("left", "top", "width", "height")}
    return top.bounding_box(), rect


# -- tests -----------------------------------------------------------------------


@pytest.mark.browser
def test_map_and_loss_chart_are_drawn(open_demo):
    page = open_demo()
    # The contour image covers the plot, so the background is far from blank.
    shot = page.locator("[data-testid='race-map']").screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L")).astype(float)
    assert pixels.std() > 20, f"map looks blank (grey-level std {pixels.std():.1f})"
    loss = np.asarray(
        Image.open(io.BytesIO(page.locator("[data-testid='race-loss']").screenshot())).convert("L")
    )
    assert (loss < 200).mean() > 0.003, "loss chart has no axes or labels"

    # The plot keeps the image's 800 x 600 aspect.
    _, rect = plot_rect(page)
    assert abs(rect["width"] / rect["height"] - 4 / 3) < 0.01

    # The legend lists every racer with its label and a loss at step 0.
    rows = page.locator("[data-testid='race-legend'] li")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("SGD")
    expect(page.locator("[data-testid='race-title']")).to_have_text("Rosenbrock")

    scrub_to(page, 120)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("[data-testid='race-root']").screenshot(path=str(ARTIFACTS / "race.png"))


@pytest.mark.browser
def test_play_advances_and_pause_stops(open_demo):
    page = open_demo()
    assert not playing(page)
    before = canvas_pixels(page, "race-map-trail")
    assert before[..., 3].max() == 0, "trail layer should be empty at step 0"

    page.click("[data-testid='race-play']")
    wait_until(lambda: frame(page) >= 10, "the frame counter advancing while playing")
    assert playing(page)
    fps = float(page.get_attribute("[data-testid='race-fps']", "data-fps"))
    assert fps > 0, "the render loop reports no frame rate while playing"

    page.click("[data-testid='race-play']")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "false")
    stopped = frame(page)
    page.wait_for_timeout(600)
    assert frame(page) == stopped, "the frame moved after pause"
    assert stopped < STEPS
    assert page.locator("[data-testid='race-frame']").inner_text() == f"step {stopped} / {STEPS}"

    # Playing drew coloured trails, in the racers' colours.
    trail = canvas_pixels(page, "race-map-trail")
    opaque = trail[trail[..., 3] == 255][:, :3]
    for hex_color in ("#0072B2", "#D55E00"):
        rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(opaque - rgb).sum(axis=1) < 12).sum() > 20, f"no trail drawn in {hex_color}"


@pytest.mark.browser
def test_playback_stops_at_the_last_step(open_demo):
    page = open_demo()
    scrub_to(page, STEPS - 5)
    page.click("[data-testid='race-play']")
    wait_until(lambda: not playing(page), "playback stopping at the end")
    assert frame(page) == STEPS
    # Play at the end starts over.
    page.click("[data-testid='race-play']")
    wait_until(lambda: frame(page) < STEPS, "play at the end restarting")
    page.click("[data-testid='race-play']")


@pytest.mark.browser
def test_step_buttons_move_one_frame(open_demo):
    page = open_demo()
    scrub_to(page, 50)
    page.click("[data-testid='race-forward']")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", "51")
    page.click("[data-testid='race-back']")
    page.click("[data-testid='race-back']")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", "49")
    scrub_to(page, 0)
    page.click("[data-testid='race-back']")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", "0")


@pytest.mark.browser
def test_scrubber_sets_the_frame_and_restart_plays_from_zero(open_demo):
    page = open_demo()
    scrub_to(page, 137)
    expect(page.locator("[data-testid='race-frame']")).to_have_text(f"step 137 / {STEPS}")
    assert page.locator("[data-testid='race-scrub']").get_attribute("max") == str(STEPS)
    page.click("[data-testid='race-restart']")
    wait_until(lambda: playing(page) and frame(page) < 137, "restart playing from step 0")
    page.click("[data-testid='race-play']")


@pytest.mark.browser
def test_keyboard_shortcuts_when_focused(open_demo):
    page = open_demo()
    scrub_to(page, 20)
    page.locator("[data-testid='race-root']").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", "21")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", "19")
    page.keyboard.press("Space")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "true")
    page.keyboard.press("Space")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "false")
    # Space on a focused button toggles once, not twice (key and button click).
    page.locator("[data-testid='race-forward']").focus()
    page.keyboard.press("Space")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "true")
    page.keyboard.press("Home")
    wait_until(lambda: frame(page) < 15 and playing(page), "Home restarting playback")
    page.keyboard.press("Space")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "false")


@pytest.mark.browser
def test_keys_work_page_wide_only_in_presenter_mode(open_demo):
    page = open_demo()
    page.locator("text=clicks 0").click()
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    assert not playing(page), "space outside the component played without presenter mode"

    page = open_demo("presenter=1")
    page.locator("text=clicks 0").click()
    page.keyboard.press("Space")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "true")
    page.keyboard.press("Space")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-playing", "false")
    paused_at = frame(page)
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", str(paused_at + 1))


@pytest.mark.browser
def test_click_on_map_returns_data_coordinates_once(open_demo):
    page = open_demo()
    scrub_to(page, 40)
    box, rect = plot_rect(page)
    fx, fy = 0.25, 0.75
    page.mouse.click(
        box["x"] + rect["left"] + fx * rect["width"], box["y"] + rect["top"] + fy * rect["height"]
    )
    expect(page.get_by_text("clicks 1")).to_be_visible(timeout=20_000)
    page.wait_for_selector(READY)
    text = page.get_by_text(re.compile(r"^clicked ")).inner_text()
    x, y = (float(v) for v in text.split()[1:3])
    x0, x1, y0, y1 = EXTENT
    want_x, want_y = x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)
    pixel = (x1 - x0) / rect["width"]
    assert abs(x - want_x) <= 1.5 * pixel and abs(y - want_y) <= 1.5 * pixel, (x, y, want_x, want_y)

    # The rerun that delivered the click kept the playback position.
    assert frame(page) == 40
    # A click outside the plot (on the axis labels) sends nothing.
    page.mouse.click(box["x"] + rect["left"] / 2, box["y"] + rect["top"] + rect["height"] / 2)
    # Another rerun (the log switch) does not deliver the same click again.
    page.get_by_text("Log loss").click()
    page.wait_for_selector(READY)
    page.wait_for_timeout(500)
    expect(page.get_by_text("clicks 1")).to_be_visible()


@pytest.mark.browser
def test_same_scene_keeps_position_and_a_new_scene_restarts(open_demo):
    page = open_demo()
    scrub_to(page, 80)
    log = page.locator("[data-testid='race-log']")
    assert not log.is_checked()
    # Same scene_id, new payload (loss_log flips): position stays, the switch follows.
    page.get_by_text("Log loss").click()
    page.wait_for_selector(READY)
    expect(log).to_be_checked()
    assert frame(page) == 80
    # New scene_id: back to step 0 with the new title.
    page.get_by_role("button", name="New scene").click()
    expect(page.locator("[data-testid='race-title']")).to_have_text("Rosenbrock, scene 1")
    expect(page.locator("[data-testid='race-frame']")).to_have_attribute("data-frame", "0")


@pytest.mark.browser
def test_diverged_racer_is_marked_in_legend_and_on_map(open_demo):
    page = open_demo()
    diverged_at = demo_payload()["racers"][2]["diverged_at"][0]
    assert diverged_at is not None and diverged_at < STEPS
    last = page.locator("[data-testid='race-legend'] li").nth(2)
    scrub_to(page, diverged_at - 1)
    expect(last).not_to_contain_text("diverged")
    top_before = canvas_pixels(page, "race-map-top")
    scrub_to(page, diverged_at)
    expect(last).to_contain_text(f"diverged at step {diverged_at}")
    top = canvas_pixels(page, "race-map-top")
    red = np.array([0xD7, 0x19, 0x1C])

    def reds(px):
        return ((np.abs(px[..., :3] - red).sum(axis=-1) < 30) & (px[..., 3] > 200)).sum()

    assert reds(top) > 20 > reds(top_before), "no red cross where the path left"


@pytest.mark.browser
def test_log_scale_falls_back_to_linear_with_a_note(open_demo):
    page = open_demo("offset=5")  # some losses are now negative
    note = page.locator("[data-testid='race-loss-note']")
    expect(note).to_be_hidden()
    page.locator(".race-switch").click()
    expect(note).to_contain_text("stays linear")

    page = open_demo()
    before = canvas_pixels(page, "race-loss-bg")
    page.locator(".race-switch").click()
    expect(page.locator("[data-testid='race-log']")).to_be_checked()
    expect(page.locator("[data-testid='race-loss-note']")).to_be_hidden()
    after = canvas_pixels(page, "race-loss-bg")
    assert np.abs(after - before).sum() > 0, "switching to log scale did not redraw the axis"


@pytest.mark.browser
def test_narrow_container_stacks_and_still_fits_the_plot(open_demo):
    page = open_demo("layout=centered", width=800, height=1600)
    root = page.locator("[data-testid='race-root']")
    expect(root).to_have_class(re.compile(r"\bnarrow\b"), timeout=15_000)
    map_box = page.locator("[data-testid='race-map']").bounding_box()
    loss_box = page.locator("[data-testid='race-loss']").bounding_box()
    assert loss_box["y"] >= map_box["y"] + map_box["height"], "loss chart should sit below the map"
    assert map_box["width"] <= root.bounding_box()["width"] + 1


def test_check_payload_accepts_the_demo_and_names_what_is_wrong():
    good = demo_payload(racers=2, steps=30, starts=2)
    check_payload(good)

    def broken(change):
        p = {**good, "racers": [dict(r) for r in good["racers"]]}
        change(p)
        with pytest.raises(RacePayloadError) as err:
            check_payload(p)
        return str(err.value)

    assert "extent" in broken(lambda p: p.update(extent=[1, 0, 0, 1]))
    assert "missing steps" in broken(lambda p: p.pop("steps"))
    assert "data:image" in broken(lambda p: p.update(image="http://example.org/a.png"))
    assert "2 paths, 1 loss" in broken(lambda p: p["racers"][0].update(loss=p["racers"][0]["loss"][:1]))
    msg = broken(
        lambda p: p["racers"][1].update(loss=[p["racers"][1]["loss"][0][:-1], p["racers"][1]["loss"][1]])
    )
    assert "start 0" in msg and "31 points" in msg
    assert isinstance(RacePayloadError("x"), ValueError)


# -- divergence drawn honestly: the real race of the "Learning rate too large" preset ---------------

PRESET = "lr_too_large"

# Scrubs through every step inside the page and returns, per step and per colour, the pixels of
# one trail layer that have that colour (flat x, y lists): one round trip instead of 100.
SAMPLE_TRAIL_JS = """async (root, [testid, colours, tol]) => {
  const scrub = root.querySelector("[data-testid='race-scrub']");
  const frame = root.querySelector("[data-testid='race-frame']");
  const canvas = root.querySelector(`[data-testid='${testid}']`);
  const ctx = canvas.getContext("2d");
  const nextFrame = () => new Promise((done) => requestAnimationFrame(() => done()));
  const steps = Number(scrub.max);
  const out = [];
  for (let k = 0; k <= steps; k++) {
    scrub.value = String(k);
    scrub.dispatchEvent(new Event("input", { bubbles: true }));
    for (let i = 0; i < 100 && frame.dataset.frame !== String(k); i++) await nextFrame();
    await nextFrame();
    const { data, width } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const perColour = colours.map(() => []);
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] <= 200) continue;
      colours.forEach((rgb, c) => {
        const d = Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]);
        if (d < tol) perColour[c].push((i / 4) % width, Math.floor(i / 4 / width));
      });
    }
    out.push(perColour);
  }
  return { frames: out, scale: canvas.width / canvas.clientWidth };
}"""


def sample_trails(page, testid: str, colours: list[str]) -> tuple[list, float]:
    """Return (per step, per colour: an (m, 2) array of painted pixel centres in CSS px), scrubbing every step."""
    got = page.locator("[data-testid='race-root']").evaluate(SAMPLE_TRAIL_JS, [testid, [hex_rgb(c) for c in colours], 40])
    frames = [
        [(np.asarray(flat, dtype=float).reshape(-1, 2) + 0.5) / got["scale"] for flat in per_colour]
        for per_colour in got["frames"]
    ]
    return frames


def assert_on_polyline(pts: np.ndarray, line: np.ndarray, rect: dict, what: str):
    """Fail unless every painted pixel lies inside the plot and within a line's half-width of ``line``."""
    if not len(pts):
        return
    inside = (
        (pts[:, 0] >= rect["left"] - 1) & (pts[:, 0] <= rect["left"] + rect["width"] + 1)
        & (pts[:, 1] >= rect["top"] - 1) & (pts[:, 1] <= rect["top"] + rect["height"] + 1)
    )
    assert inside.all(), f"{what}: {int((~inside).sum())} pixels outside the plot"
    d = distance_to_polyline(pts, line)
    assert d.max() < 3.5, (
        f"{what}: {int((d >= 3.5).sum())} pixels up to {d.max():.0f} px from the data, "
        f"e.g. at {pts[np.argmax(d)].round(1).tolist()}"
    )


def hex_rgb(color: str) -> list[int]:
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)]


def distance_to_polyline(pts: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Return each point's distance (pixels) to the nearest segment of ``line`` (m, 2); to its point if m == 1."""
    if len(line) == 1:
        return np.linalg.norm(pts - line[0], axis=1)
    a, b = line[:-1], line[1:]
    ab = b - a
    length2 = np.maximum((ab**2).sum(axis=1), 1e-12)
    t = np.clip(((pts[:, None, :] - a) * ab).sum(axis=2) / length2, 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.linalg.norm(pts[:, None, :] - nearest, axis=2).min(axis=1)


def to_plot_pixels(flat: list[float], extent, rect) -> np.ndarray:
    """Return a flat [x0, y0, x1, y1, ...] path in the map's CSS pixels, by the plot's rectangle."""
    x0, x1, y0, y1 = extent
    xy = np.asarray(flat, dtype=float).reshape(-1, 2)
    px = rect["left"] + (xy[:, 0] - x0) / (x1 - x0) * rect["width"]
    py = rect["top"] + (y1 - xy[:, 1]) / (y1 - y0) * rect["height"]
    return np.stack([px, py], axis=1)


@pytest.fixture(scope="module")
def preset_race():
    sys.path.insert(0, str(DEMO.parent))
    from race_demo import preset_payload

    return preset_payload(PRESET)


@pytest.mark.browser
@pytest.mark.parametrize("only", [0, 1, 2])
def test_each_racer_paints_only_its_own_path_at_every_step(open_demo, preset_race, only):
    racer = preset_race["racers"][only]
    page = open_demo(f"preset={PRESET}&only={only}")
    _, rect = plot_rect(page)
    frames = sample_trails(page, "race-map-trail", [racer["color"]])
    line = to_plot_pixels(racer["paths"][0], preset_race["extent"], rect)
    assert len(frames) == preset_race["steps"] + 1
    for k, (pts,) in enumerate(frames):
        assert_on_polyline(pts, line[: min(k, len(line) - 1) + 1], rect, f"step {k}, {racer['label']}")
    assert len(frames[-1][0]) > 200, f"{racer['label']}'s trail is hardly drawn at the last step"


@pytest.mark.browser
def test_loss_chart_paints_each_racers_own_loss_at_every_step(open_demo, preset_race):
    page = open_demo(f"preset={PRESET}")
    top = page.locator("[data-testid='race-loss-top']")
    rect = {k: float(top.get_attribute(f"data-plot-{k}")) for k in ("left", "top", "width", "height")}
    assert top.get_attribute("data-y-log") == "true"
    lo, hi = float(top.get_attribute("data-y-lo")), float(top.get_attribute("data-y-hi"))
    racers = preset_race["racers"]
    frames = sample_trails(page, "race-loss-trail", [r["color"] for r in racers])
    steps = preset_race["steps"]
    for c, racer in enumerate(racers):
        # The axis's range is the chart's choice; where each loss lands on it is computed here.
        loss = np.asarray(racer["loss"][0], dtype=float)
        level = np.clip(np.log10(loss), lo, hi)
        line = np.stack([
            rect["left"] + np.arange(len(loss)) / steps * rect["width"],
            rect["top"] + (hi - level) / (hi - lo) * rect["height"],
        ], axis=1)
        for k, per_colour in enumerate(frames):
            assert_on_polyline(per_colour[c], line[: min(k, len(line) - 1) + 1], rect, f"step {k}, {racer['label']}")
        assert len(frames[-1][c]) > 50, f"{racer['label']}'s loss is hardly drawn"


@pytest.mark.browser
def test_a_diverged_path_ends_with_a_cross_where_it_left_the_window(open_demo, preset_race):
    racer = preset_race["racers"][2]
    assert racer["diverged_at"][0] is not None
    page = open_demo(f"preset={PRESET}&only=2")
    _, rect = plot_rect(page)
    scrub_to(page, preset_race["steps"])
    # Where the path first leaves the window, found on the data (start inside, next point outside).
    x0, x1, y0, y1 = preset_race["extent"]
    xy = np.asarray(racer["paths"][0]).reshape(-1, 2)
    out = np.flatnonzero((xy[:, 0] < x0) | (xy[:, 0] > x1) | (xy[:, 1] < y0) | (xy[:, 1] > y1))
    (a, b) = xy[out[0] - 1], xy[out[0]]
    t = min(
        ((edge - a[i]) / (b[i] - a[i]) for i, lo, hi in ((0, x0, x1), (1, y0, y1)) for edge in (lo, hi)
         if b[i] != a[i] and 0 <= (edge - a[i]) / (b[i] - a[i]) <= 1),
    )
    exit_px = to_plot_pixels(list(a + t * (b - a)), preset_race["extent"], rect)[0]
    top = canvas_pixels(page, "race-map-top")
    red = (np.abs(top[..., :3] - np.array([0xD7, 0x19, 0x1C])).sum(axis=-1) < 30) & (top[..., 3] > 200)
    ys, xs = np.nonzero(red)
    assert len(xs) > 20, "no divergence cross at the last step"
    centre = np.array([xs.mean(), ys.mean()]) + 0.5
    assert np.linalg.norm(centre - exit_px) < 6, (centre.tolist(), exit_px.tolist())


@pytest.mark.browser
def test_log_loss_axis_shows_a_diverging_loss_rising(open_demo, preset_race):
    page = open_demo(f"preset={PRESET}")
    expect(page.locator("[data-testid='race-log']")).to_be_checked()
    scrub_to(page, preset_race["steps"])
    top = page.locator("[data-testid='race-loss-top']")
    rect = {k: float(top.get_attribute(f"data-plot-{k}")) for k in ("top", "height")}
    trail = canvas_pixels(page, "race-loss-trail")
    colour = np.array(hex_rgb(preset_race["racers"][2]["color"]))
    mine = (np.abs(trail[..., :3] - colour).sum(axis=-1) < 40) & (trail[..., 3] > 200)
    rows = np.flatnonzero(mine.any(axis=1))
    assert rows.size, "the diverging racer's loss is not drawn"
    # A loss that grows by eleven orders of magnitude climbs most of the chart, not a stub at its top.
    assert (rows.max() - rows.min()) > 0.4 * rect["height"], (rows.min(), rows.max(), rect)


# -- presenter mode: large type, and the whole component on one screen ------------------------------


def font_px(locator) -> float:
    return float(locator.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)"))


@pytest.mark.browser
def test_presenter_type_is_large_at_1920x1080(open_demo):
    page = open_demo("presenter=1", width=1920, height=1080)
    for testid in ("race-map-bg", "race-loss-bg"):
        px = float(page.get_attribute(f"[data-testid='{testid}']", "data-font-px"))
        assert px >= 18, f"{testid} tick labels are {px} px"
    rows = page.locator("[data-testid='race-legend'] li")
    for sel in (".race-label", ".race-value", ".race-value .unit"):
        px = font_px(rows.nth(0).locator(sel))
        assert px >= 22, f"legend {sel} is {px} px"
    assert font_px(page.locator("[data-testid='race-frame']")) >= 22
    # Normal mode keeps the smaller type.
    page = open_demo(width=1920, height=1080)
    assert float(page.get_attribute("[data-testid='race-map-bg']", "data-font-px")) < 18


@pytest.mark.browser
@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080)])
def test_presenter_component_fits_the_window(open_demo, size):
    width, height = size
    page = open_demo("presenter=1", width=width, height=height)
    page.wait_for_timeout(300)  # the fit follows a layout on the next frame
    for testid in ("race-root", "race-map", "race-loss", "race-controls", "race-legend"):
        box = page.locator(f"[data-testid='{testid}']").bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{testid} {box} outside {size}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{testid} {box} outside {size}"
