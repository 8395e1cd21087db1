"""The Shift+click probe: the exact curvature at a clicked point and each racer's stability there (issue 17, item 2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import page_surfaces
from app.insides import probe
from app.payload import RacePayloadError, check_payload
from app.race_component import MapClick
from app.racer import Racer
from app.scene import Scene, load_surface

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def _rosenbrock_eigenvalues(x: float, y: float) -> tuple[float, float]:
    """Return the ascending eigenvalues of [[1200x^2 - 400y + 2, -400x], [-400x, 200]] in closed form."""
    a, b, c = 1200 * x * x - 400 * y + 2, -400 * x, 200.0
    mid, half = (a + c) / 2, math.hypot((a - c) / 2, b)
    return mid - half, mid + half


@pytest.mark.parametrize("point", [(-1.2, 1.0), (0.5, 0.3), (1.5, 0.0), (1.0, 1.0)])
def test_probe_eigenvalues_on_rosenbrock_are_the_closed_form(point):
    scene = Scene(surface="rosenbrock", racers=(Racer("sgd", (("lr", 0.001),)),)).check()
    p = probe(scene, load_surface("rosenbrock", ""), point)
    lo, hi = _rosenbrock_eigenvalues(*point)
    assert (p["x"], p["y"]) == point
    assert p["eigenvalues"] == pytest.approx([lo, hi], rel=1e-12, abs=1e-9)
    # the angle is the direction of the first eigenvector: H u = lo u
    a, b = 1200 * point[0] ** 2 - 400 * point[1] + 2, -400 * point[0]
    u = np.array([math.cos(p["angle"]), math.sin(p["angle"])])
    h = np.array([[a, b], [b, 200.0]])
    assert h @ u == pytest.approx(lo * u, abs=1e-8 * max(1.0, abs(hi)))
    if lo > 0:
        assert p["condition"] == pytest.approx(hi / lo, rel=1e-12)


@pytest.mark.parametrize(("lr", "point", "verdict"), [(0.001, (0.5, 0.3), "< 2: stable"),
                                                      (0.01, (1.5, 0.0), "> 2: this step overshoots")])
def test_probe_says_sgds_lr_times_the_largest_curvature_against_2(lr, point, verdict):
    scene = Scene(surface="rosenbrock", racers=(Racer("sgd", (("lr", lr),)), Racer("adam"))).check()
    p = probe(scene, load_surface("rosenbrock", ""), point)
    number = lr * _rosenbrock_eigenvalues(*point)[1]
    assert (number < 2) == verdict.startswith("<")
    assert p["stability"][0] == f"SGD (lr={lr:g}): lr x curvature = {number:.3g} {verdict}"
    assert "no fixed limit" in p["stability"][1]
    assert len(p["stability"]) == 2


def test_probe_passes_the_payload_check_and_a_broken_one_does_not():
    scene = Scene(surface="rosenbrock", racers=(Racer("sgd"), Racer("momentum"))).check()
    p = probe(scene, load_surface("rosenbrock", ""), (0.5, 0.3))
    base = {"scene_id": "s", "title": "", "image": "", "extent": [-2, 2, -1, 3], "steps": 0, "minima": [],
            "racers": [{"label": r, "color": "#112233", "paths": [[0.0, 0.0]], "loss": [[1.0]], "diverged_at": [None]}
                       for r in ("a", "b")]}
    check_payload({**base, "probe": p})
    check_payload({**base, "probe": None})
    with pytest.raises(RacePayloadError, match="one sentence per racer"):
        check_payload({**base, "probe": {**p, "stability": p["stability"][:1]}})
    with pytest.raises(RacePayloadError, match="eigenvalues"):
        check_payload({**base, "probe": {**p, "eigenvalues": [1.0, float("nan")]}})
    with pytest.raises(RacePayloadError, match="finite point"):
        check_payload({**base, "probe": {**p, "x": float("inf")}})


def test_map_click_keeps_the_tuple_and_carries_the_flag():
    x, y = MapClick(1, 2)
    assert (x, y) == (1.0, 2.0) and not MapClick(1, 2).probe and MapClick(1, 2, True).probe


class _FakeRace:
    """Stands in for the animator: hands the page one click, then none; keeps every payload it was given."""

    def __init__(self, click: MapClick):
        self.click = click
        self.payloads: list[dict] = []

    def __call__(self, payload, **kwargs):
        self.payloads.append(payload)
        click, self.click = self.click, None
        return click


def _run_with_click(monkeypatch, click: MapClick) -> tuple[AppTest, _FakeRace]:
    fake = _FakeRace(None)
    monkeypatch.setattr(page_surfaces, "race_view", fake)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    fake.click = click
    at.run()  # the click comes back, the page stores it and reruns
    assert not at.exception, [e.value for e in at.exception]
    return at, fake


def test_a_shift_click_sets_the_probe_and_not_the_start(monkeypatch):
    at, fake = _run_with_click(monkeypatch, MapClick(0.5, 0.3, True))
    start = (at.session_state["start_x"], at.session_state["start_y"])
    assert start == pytest.approx((-1.2, 1.0))  # Rosenbrock's own start, untouched
    assert at.session_state[page_surfaces.PROBE_KEY]["xy"] == (0.5, 0.3)
    last = fake.payloads[-1]["probe"]
    assert (last["x"], last["y"]) == (0.5, 0.3)
    assert last["eigenvalues"] == pytest.approx(list(_rosenbrock_eigenvalues(0.5, 0.3)), rel=1e-12)
    assert len(last["stability"]) == len(fake.payloads[-1]["racers"])
    # a new surface forgets the point
    at.sidebar.selectbox(key="surface").set_value("himmelblau").run()
    assert not at.exception
    assert fake.payloads[-1]["probe"] is None
    assert page_surfaces.PROBE_KEY not in at.session_state


def test_a_plain_click_sets_the_start_and_no_probe(monkeypatch):
    at, fake = _run_with_click(monkeypatch, MapClick(0.5, 0.3))
    assert (at.session_state["start_x"], at.session_state["start_y"]) == (0.5, 0.3)
    assert page_surfaces.PROBE_KEY not in at.session_state
    assert fake.payloads[-1]["probe"] is None

