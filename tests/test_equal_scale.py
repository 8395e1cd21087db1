"""Pictures a student reads: equal scale on both axes, axes named as the formula names the weights, the colour bar."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from app import plots, presets
from app.colorbar import colorbar_html
from app.images import surface_images
from app.payload import payload
from app.race import run_race, window_of
from app.scene import Scene, load_surface


def _image_size(data_url: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).size


def test_equal_scale_is_on_by_default_and_a_link_can_turn_it_off():
    assert Scene().equal is True
    assert "eq" not in Scene().to_query()  # the default stays out of links
    off = replace(Scene(), equal=False)
    assert off.to_query()["eq"] == "0"
    back, notes = Scene.from_query(off.to_query())
    assert back.equal is False and notes == []
    bad, notes = Scene.from_query({"eq": "maybe"})
    assert bad.equal is True and any("eq=" in n for n in notes)


@pytest.mark.parametrize(("window", "wanted", "expected"), [
    (((-3, 3), (-3, 3)), True, True),
    (((-1, 4), (-5, 2)), True, True),       # 5 : 7
    (((-10, 10), (-3, 3)), True, False),    # 20 : 6 is flatter than 3 : 1
    (((0, 1), (0, 3)), True, True),         # 1 : 3, the limit
    (((-3, 3), (-3, 3)), False, False),
])
def test_equal_scale_where_the_window_allows(window, wanted, expected):
    assert plots.equal_scale(window, wanted) is expected


def test_the_round_bowl_is_drawn_round_in_the_page_background():
    surf = load_surface("bowl")
    window = tuple(map(tuple, surf.window))
    (x0, x1), (y0, y1) = window
    w, h = _image_size(surface_images("bowl", "", window, True)[0])
    assert abs(w / h - (x1 - x0) / (y1 - y0)) < 0.01
    # A contour ring of x^2 + y^2 in the picture: as wide as it is tall when one unit is as long on both axes.
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(plots.contour_image(surf, window, w, h, "png")
                                                             .split(",", 1)[1]))).convert("RGB")).astype(int)
    centre = img[h // 2, w // 2]
    dark = np.all(np.abs(img - centre) < 30, axis=-1)  # the innermost band around the minimum
    rows, cols = np.nonzero(dark)
    assert abs((cols.max() - cols.min()) - (rows.max() - rows.min())) <= 3
    # Without equal scale the picture is 4:3 and the ring an ellipse.
    w2, h2 = _image_size(surface_images("bowl", "", window, False)[0])
    assert abs(w2 / h2 - 4 / 3) < 0.01


def test_export_axes_have_equal_scale_for_the_bowl():
    race = run_race(presets.get("lr_too_large"))
    surf = load_surface("bowl")
    for equal, square in ((True, True), (False, False)):
        r = replace(race, scene=replace(race.scene, equal=equal))
        fig = plots.race_figure(surf, window_of(r.scene, surf), r)
        FigureCanvasAgg(fig).draw()
        box = fig.axes[0].get_window_extent()
        assert bool(abs(box.width - box.height) <= 2) is square, (equal, box.bounds)


def test_data_surfaces_name_their_axes_as_the_formula_names_the_weights():
    for name, (xname, yname) in (("line_fit", ("w", "b")), ("logistic", ("w1", "w2"))):
        scene = replace(Scene(surface=name), steps=20)
        race = run_race(scene.check())
        surf = load_surface(name)
        assert payload(race, "")["axes"] == [xname, yname]
        ax = plots.race_figure(surf, window_of(scene, surf), race).axes[0]
        assert (ax.get_xlabel(), ax.get_ylabel()) == (xname, yname)
    assert payload(run_race(Scene(surface="bowl", steps=5)), "")["axes"] == ["x", "y"]


def test_colour_bar_html_has_one_band_per_contour_level_and_its_ticks():
    surf = load_surface("rosenbrock")
    spec = plots.colorbar(surf, surf.window)
    out = colorbar_html(spec)
    assert out.count("<span") == len(spec["ticks"]) >= 3
    assert all(f">{label}<" in out for _, label in spec["ticks"])
    positions = [p for p, _ in spec["ticks"]]
    assert positions == sorted(positions) and 0 <= positions[0] and positions[-1] <= 100
    # each band is one flat colour of viridis, darkest (low loss) first
    first, last = (np.array([int(c[i: i + 2], 16) for i in (1, 3, 5)]) for c in (spec["bands"][0], spec["bands"][-1]))
    assert first.sum() < last.sum()
    assert colorbar_html({**spec, "label": "<b>x</b>"}).count("<b>") == 0  # text, never markup
