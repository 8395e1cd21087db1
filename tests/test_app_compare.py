"""The "Compare fairly" tab, headless with Streamlit's AppTest: curves, table, the best-rate button, the maps."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import optim
import surfaces
from app import plots
from app.payload import RacePayloadError, check_payload, payload
from app.race import run_race
from app.racer import PALETTE, Racer
from app.scene import Scene
from surfaces import sweep

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _open_compare(steps: int = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.sidebar.selectbox(key="surface").set_value("himmelblau").run()
    at.session_state["steps"] = steps
    at.session_state["tab"] = "Compare fairly"
    at.run()
    _clean(at)
    return at


def _show_maps(at: AppTest) -> None:
    """Open the Compare tab's outcome maps, 64 starts per side."""
    at.session_state["compare_tab"] = "Outcome maps"
    at.session_state["compare_map_n"] = 64
    at.run()
    _clean(at)


def _open_maps() -> AppTest:
    """Return the app on Himmelblau (40 steps) with the Compare tab's outcome maps open."""
    at = _open_compare(40)
    _show_maps(at)
    return at


def test_race_each_at_its_best_rate_sets_every_racers_lr():
    at = _open_compare()
    table = next(d.value for d in at.dataframe if "best lr" in d.value.columns)
    ids = at.session_state["r_ids"]
    names = [at.session_state[f"r{i}_opt"] for i in ids]
    assert len(table) == len(ids)
    # the best rate of SGD on Himmelblau from the scene's start, found here by a plain loop over the same grid
    s = surfaces.get("himmelblau")
    start = (at.session_state["start_x"], at.session_state["start_y"])
    sgd_row = names.index("sgd")
    rates = sweep.default_rates(optim.make("sgd"))
    tol = 0.01 * math.hypot(10, 10)  # 1 % of Himmelblau's window diagonal
    scores = []
    for r in rates:
        tr = surfaces.trace(s, optim.make("sgd", lr=float(r)), start, 60, compiled=False)
        gap = np.inf if tr.diverged_at is not None else max(tr.loss[-1], sweep.GAP_FLOOR)
        # ties in loss go to the rate whose run settled within tol of a minimum soonest
        near = np.min(np.linalg.norm(tr.path[:, None] - np.asarray(s.minima)[None], axis=-1), axis=1) <= tol
        settled = (np.flatnonzero(~near)[-1] + 1 if (~near).any() else 0) if near[-1] else np.inf
        scores.append((gap, settled))
    best = min(range(len(rates)), key=lambda i: (scores[i][0], scores[i][1], i))
    assert table["best lr"][sgd_row] == float(f"{rates[best]:.4g}")

    at.button(key="act_best_rates").click().run()
    _clean(at)
    for row, i in enumerate(ids):
        assert at.session_state[f"r{i}_lr"] == float(f"{table['best lr'][row]:.4g}")
    at.session_state["tab"] = "Results"
    at.run()
    _clean(at)
    race = next(d.value for d in at.dataframe if "final loss" in d.value.columns)
    assert any(f"lr={at.session_state[f'r{ids[sgd_row]}_lr']:g}" in label for label in race["optimizer"])


def test_beta_map_and_outcome_maps_render():
    at = _open_compare(40)
    at.session_state["compare_tab"] = "(lr, beta) map"
    at.run()
    _clean(at)
    assert any("Best: lr" in c.value for c in at.caption)
    _show_maps(at)
    shares = next(d.value for d in at.dataframe if "minimum 1" in d.value.columns)
    assert list(shares.columns[1:5]) == ["minimum 1", "minimum 2", "minimum 3", "minimum 4"]


# -- the outcome map under the race ---------------------------------------------------

def _png_pixels(url: str) -> np.ndarray:
    """Return a PNG data URL's pixels as floats in 0..1, (h, w, 3), top row first."""
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")) / 255.0


def _rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0


def _fade_of(pixel: np.ndarray, color: np.ndarray) -> float | None:
    """Return f if ``pixel`` is ``color`` taken the share f toward white (the same f in every channel), else None."""
    room = 1.0 - color
    use = room > 0.1
    f = (pixel[use] - color[use]) / room[use]
    ok = np.allclose(pixel[~use], color[~use] + f.mean() * room[~use], atol=0.02) if (~use).any() else True
    return float(f.mean()) if ok and np.ptp(f) <= 0.02 else None


def _expected(surf, racer: Racer, start, steps: int, tol: float):
    """Return where one run from ``start`` ends, by a single NumPy trace: ("diverged",), ("elsewhere",) or ("minimum", k)."""
    tr = surfaces.trace(surf, racer.make(), start, steps, compiled=False)
    if tr.diverged_at is not None:
        return ("diverged",)
    d = np.linalg.norm(np.asarray(surf.minima) - tr.path[-1], axis=1)
    return ("minimum", int(np.argmin(d))) if d.min() <= tol else ("elsewhere",)


def _check_pixel(pixel: np.ndarray, outcome: tuple, out: dict) -> None:
    if outcome[0] == "diverged":
        np.testing.assert_allclose(pixel, _rgb(out["diverged"]), atol=1 / 255)
    elif outcome[0] == "elsewhere":
        assert np.ptp(pixel) <= 1 / 255 and 0.39 <= pixel[0] <= 0.86, pixel  # a grey
    else:
        f = _fade_of(pixel, _rgb(out["minima_colors"][outcome[1]]))
        assert f is not None and -0.01 <= f <= out["max_fade"] + 0.01, (pixel, outcome)


def test_overlay_pixels_agree_with_single_traces_from_their_centres():
    # SGD at a rate where some starts diverge, some stop short and some reach minimum 1 or 2 in 30 steps
    racer = Racer("sgd", (("lr", 0.025),), color=PALETTE[0])
    scene = Scene(surface="himmelblau", racers=(racer,), steps=30, overlay=0).check()
    surf = surfaces.get("himmelblau")
    p = payload(run_race(scene), "")
    check_payload(p)
    out = p["outcome"]
    px = _png_pixels(out["image"])
    n = out["n"]
    assert px.shape == (n, n, 3) and out["extent"] == [-5.0, 5.0, -5.0, 5.0]
    tol = 0.01 * math.hypot(10, 10)
    assert out["tol"] == pytest.approx(tol)
    # a few pixels of every kind of colour the picture holds (dark, grey, coloured), each checked by its own trace
    kinds = {"dark": px.max(axis=-1) < 0.2, "grey": np.ptp(px, axis=-1) < 0.01, "colour": np.ptp(px, axis=-1) > 0.1}
    rng = np.random.default_rng(3)
    checked = set()
    for kind, mask in kinds.items():
        rows, cols = np.nonzero(mask)
        assert rows.size, kind
        for a in rng.choice(rows.size, min(6, rows.size), replace=False):
            r, c = int(rows[a]), int(cols[a])
            # row r from the top: the start's y counts down from the window's top edge
            start = (-5.0 + (c + 0.5) * 10.0 / n, 5.0 - (r + 0.5) * 10.0 / n)
            outcome = _expected(surf, racer, start, 30, tol)
            _check_pixel(px[r, c], outcome, out)
            checked.add(outcome[0])
    assert checked == {"diverged", "elsewhere", "minimum"}


def test_every_overlay_on_himmelblau_has_the_four_basins_each_coloured_as_its_minimum():
    racer = Racer("sgd", (("lr", 0.01),), color=PALETTE[0])
    scene = Scene(surface="himmelblau", racers=(racer,), steps=200, overlay=0).check()
    out = payload(run_race(scene), "")["outcome"]
    px, n = _png_pixels(out["image"]), out["n"]
    for k, (mx, my) in enumerate(surfaces.get("himmelblau").minima):
        r, c = int((5.0 - my) / 10.0 * n), int((mx + 5.0) / 10.0 * n)  # the pixel the minimum lies in
        f = _fade_of(px[r, c], _rgb(out["minima_colors"][k]))
        assert f is not None and f <= 0.01, (k, px[r, c])  # there at once: the full colour
    assert len(set(out["minima_colors"])) == 4


def test_overlay_keeps_the_default_payload_within_400_kb_and_the_race_in_place():
    surf = surfaces.get("rosenbrock")
    image = plots.contour_image(surf, surf.window)
    plain = payload(run_race(Scene().check()), image)
    p = payload(run_race(Scene(overlay=3).check()), image)
    check_payload(p)
    assert plain["outcome"] is None and p["outcome"]["label"] == Scene().racers[3].label()
    assert len(json.dumps(p, separators=(",", ":")).encode()) <= 400 * 1024
    assert p["scene_id"] == plain["scene_id"]  # showing the map keeps the race's place


def test_check_payload_refuses_a_broken_overlay():
    p = payload(run_race(Scene(surface="himmelblau", steps=20, overlay=0).check()), "")
    for change, words in ((("image", "data:image/jpeg;base64,AA"), "data:image/png"),
                          (("racer", 7), "one of the 4 racers"), (("n", 1000), "2 to 256"),
                          (("minima_colors", ["#000000"]), "one colour per minimum"),
                          (("extent", [1, 0, 0, 1]), "extent"), (("diverged", "red"), "#rrggbb")):
        broken = {**p, "outcome": {**p["outcome"], change[0]: change[1]}}
        with pytest.raises(RacePayloadError, match=words):
            check_payload(broken)


def test_show_under_the_race_puts_the_racers_map_in_the_link_and_a_removed_racer_takes_it_away():
    at = _open_maps()
    control = next(w for w in at.get("button_group") if w.label == "Show under the race")
    control.set_value(1).run()
    _clean(at)
    assert at.query_params["ov"] in ("2", ["2"])
    note = [c.value for c in at.caption if "outcome map" in c.value and "Under the race" in c.value]
    assert note and "this bar is the surface's loss" in note[0]  # the colour bar says it no longer colours the map alone
    ids = list(at.session_state["r_ids"])
    at.session_state["r_ids"] = ids[:1]  # only the first optimizer is left: the second's map goes too
    at.run()
    _clean(at)
    assert "ov" not in at.query_params


def test_the_map_under_the_race_is_computed_under_a_progress_bar_that_goes_once_it_is_drawn(monkeypatch):
    """A data surface's overlay takes seconds (no compiled engine): a bar counts it up, then leaves the page."""
    from streamlit.delta_generator import DeltaGenerator

    seen: list[tuple[float, str]] = []
    real = DeltaGenerator.progress

    def spy(self, value, text=None, **kwargs):
        seen.append((float(value), str(text)))
        return real(self, value, text=text, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "progress", spy)
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.sidebar.selectbox(key="surface").set_value("line_fit").run()
    at.session_state["steps"] = 30
    at.run()
    seen.clear()
    at.session_state["overlay"] = 1  # the second racer's map under the race, as "Show under the race" sets it
    at.run()
    _clean(at)
    ours = [(v, t) for v, t in seen if "outcome map under the race" in t]
    assert ours and ours[0][0] == 0.0 and ours[-1][0] == 1.0, seen
    assert [v for v, _ in ours] == sorted(v for v, _ in ours)  # it only moves forward
    assert "64 x 64 starts, 30 steps each" in ours[0][1]  # what it is computing, in the student's terms
    assert not at.get("progress")  # gone once the map is drawn
    seen.clear()
    at.run()  # the map is cached now: no bar at all
    assert not [t for _, t in seen if "outcome map under the race" in t]


# -- the clickable outcome maps of the Compare tab ----------------------------------------

def _synthetic_maps(k: int, n: int = 6) -> list[sweep.OutcomeMap]:
    """Return k outcome maps over Himmelblau's window with scattered outcomes (no sweep: the layout is under test)."""
    rng = np.random.default_rng(k)
    xs, ys, _ = sweep.grid_starts(((-5.0, 5.0), (-5.0, 5.0)), n)
    return [sweep.OutcomeMap(f"racer {i}", xs, ys, rng.integers(-2, 4, (n, n)), np.zeros((n, n), int),
                             rng.uniform(0, 5, (n, n))) for i in range(k)]


def _box_pixel(axis: dict, x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Return where the box arithmetic the browser does puts data (x, y): PNG pixel (column, row from the top)."""
    b0, c0, b1, c1 = axis["box"]
    x0, x1, y0, y1 = axis["extent"]
    fx = b0 + (x - x0) / (x1 - x0) * (b1 - b0)
    fy = c0 + (y - y0) / (y1 - y0) * (c1 - c0)
    return fx * width, (1 - fy) * height


@pytest.mark.parametrize("k", [1, 4, 6])
def test_map_boxes_put_a_data_point_where_matplotlib_draws_it(k):
    from app.outcome import outcome_rgb
    from app.page_compare import map_boxes, outcome_figure

    maps = _synthetic_maps(k)
    surf = surfaces.get("himmelblau")
    fig = outcome_figure(maps, surf, PALETTE[:k] if k <= len(PALETTE) else [PALETTE[0]] * k)
    png = plots.figure_png(fig)
    boxes = map_boxes(fig, maps)
    assert len(boxes) == k
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) / 255.0
    height, width = picture.shape[:2]
    assert (width, height) == (round(fig.bbox.width), round(fig.bbox.height))  # the PNG is at the figure's dpi
    if k == 6:  # two rows: the second row's boxes lie below the first's
        assert boxes[4]["box"][3] < boxes[0]["box"][1]
    for ax, m, axis in zip(fig.axes, maps, boxes):
        assert axis["n"] == [6, 6]
        for x, y in [(m.xs[1], m.ys[4]), (m.xs[5], m.ys[0]), (-4.9, 4.9), (0.37, -2.2)]:
            dx, dy = ax.transData.transform((x, y))  # matplotlib's own display pixels, y up
            px, py = _box_pixel(axis, x, y, width, height)
            assert abs(px - dx) <= 0.5 and abs(py - (height - dy)) <= 0.5, (k, x, y, px, py, dx, dy)
        # and the picture there shows that start's colour (row i for ys[i], column j for xs[j])
        rgb = outcome_rgb(m, len(surf.minima))
        for i, j in [(0, 0), (4, 1), (2, 5)]:
            px, py = _box_pixel(axis, m.xs[j], m.ys[i], width, height)
            assert np.abs(picture[int(py), int(px)] - rgb[i, j]).max() <= 2 / 255, (k, i, j)


def test_a_click_on_a_map_is_the_nearest_start_of_that_map_and_a_map_that_is_not_there_is_none():
    from app.page_compare import _start_of

    maps = _synthetic_maps(2)
    step = 10 / 6
    assert _start_of(maps, (1, -5 + 2.4 * step, -5 + 0.6 * step)) == pytest.approx((-5 + 2.5 * step, -5 + 0.5 * step))
    assert _start_of(maps, (2, 0.0, 0.0)) is None
    assert _start_of(maps, (-1, 0.0, 0.0)) is None
    assert _start_of(maps, (0, float("nan"), 0.0)) is None


def test_the_outcome_maps_are_one_clickable_element_not_a_picture():
    """AppTest cannot click a component: the click itself is tests/test_browser_compare_maps.py's."""
    at = _open_maps()
    assert not at.get("imgs")  # the picture is the clickable element, not st.image
    maps = [e for e in at.get("bidi_component") if "descent_outcome_maps" in str(e.proto.component_name)]
    assert len(maps) == 1
