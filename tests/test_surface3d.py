"""The 3-D view's height grid (app/surface3d.py): layout, scale, ticks and its check, against hand-computed values."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from app import plots
from app.payload import RacePayloadError, check_payload, payload
from app.race import run_race
from app.scene import Scene, load_surface
from app.surface3d import check_grid, grid_payload, height_scale, heights

WINDOW = ((-2.0, 2.0), (-1.0, 3.0))


def rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def decode(part):
    nx, ny = part["n"]
    return np.frombuffer(base64.b64decode(part["h"]), dtype="<u2").reshape(ny, nx) / 65535.0


def test_grid_rows_run_along_x_from_the_bottom_of_the_window():
    part = grid_payload("rosenbrock", "", WINDOW, n=21)
    h = decode(part)
    xs, ys = np.linspace(-2, 2, 21), np.linspace(-1, 3, 21)
    z = rosenbrock(xs[None, :], ys[:, None])  # row j is y = ys[j], column i is x = xs[i]
    # the heights rise and fall with the loss: same order at every point
    order = np.argsort(z.ravel(), kind="stable")
    assert np.all(np.diff(h.ravel()[order]) >= -1e-6)
    # and the grid point at the minimum (1, 1) is on the floor
    assert h[np.argmin(abs(ys - 1)), np.argmin(abs(xs - 1))] == 0.0


def test_log_heights_follow_the_maps_colour_bands():
    """A loss in the map's k-th log band (between levels k and k+1) is at height between (k-1)/39 and k/39."""
    surf = load_surface("rosenbrock")
    _, _, z = plots._grid(surf, WINDOW, 260)
    levels, is_log = plots._levels(z)
    assert is_log and len(levels) == 41
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-2, 2, 400), rng.uniform(-1, 3, 400)])
    loss = rosenbrock(pts[:, 0], pts[:, 1])
    h = heights(loss, height_scale(z))
    band = np.searchsorted(levels, loss, side="right") - 1
    inside = (band >= 1) & (band < 40)
    assert inside.sum() > 300
    k = band[inside]
    assert np.all(h[inside] >= (k - 1) / 39 - 1e-9) and np.all(h[inside] <= k / 39 + 1e-9)


def test_heights_stay_in_the_windows_range_whatever_the_loss():
    scale = height_scale(rosenbrock(*np.meshgrid(np.linspace(-2, 2, 50), np.linspace(-1, 3, 50))))
    h = heights(np.array([-1.0, 0.0, 1e30, np.inf, np.nan]), scale)
    assert h.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_linear_scale_and_ticks_on_the_saddle():
    """The saddle x^2 - y^2 spans no decades: heights are linear, ticks are round losses at their heights."""
    surf = load_surface("saddle")
    part = grid_payload("saddle", "", surf.window, n=31)
    assert not part["log"] and part["label"] == "loss"
    h = decode(part)
    (x0, x1), (y0, y1) = surf.window
    xs, ys = np.linspace(x0, x1, 31), np.linspace(y0, y1, 31)
    z = np.asarray(surf.loss(np.stack(np.meshgrid(xs, ys), axis=-1)))
    # linear: h is an affine function of z
    slope, icept = np.polyfit(z.ravel(), h.ravel(), 1)
    assert np.allclose(h, slope * z + icept, atol=1e-5)
    for th, label in part["ticks"]:
        assert th == pytest.approx(slope * float(label) + icept, abs=2e-3)


def test_log_ticks_are_decades_labelled_as_losses():
    part = grid_payload("rosenbrock", "", WINDOW, n=21)
    assert part["log"] and part["label"] == "loss, log scale"
    labels = [lab for _, lab in part["ticks"]]
    assert labels == ["1", "10", "100", "1000"]
    hs = [t for t, _ in part["ticks"]]
    # decades are equally spaced in height
    assert np.allclose(np.diff(hs), hs[1] - hs[0], atol=1e-3)


def test_check_rejects_a_grid_of_the_wrong_size():
    part = dict(grid_payload("rosenbrock", "", WINDOW, n=21))
    check_grid(part)
    with pytest.raises(ValueError, match="21 x 21"):
        check_grid({**part, "h": base64.b64encode(b"\0" * 40).decode()})
    with pytest.raises(ValueError, match="surface3d.n"):
        check_grid({**part, "n": [1, 21]})


def test_payload_carries_the_grid_and_its_check_runs():
    scene = Scene()
    surf = load_surface(scene.surface, scene.formula)
    p = payload(run_race(scene), "")
    assert decode(p["surface3d"]).shape == (96, 96)
    check_payload(p)
    broken = {**p, "surface3d": {**p["surface3d"], "n": [95, 96]}}
    with pytest.raises(RacePayloadError):
        check_payload(broken)
    assert surf is not None
