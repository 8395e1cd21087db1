"""The GIF export of a diverging race: paths stay inside the map, only the path's own segments, a cross where it left.

"Learning rate too large" runs SGD on x^2 + y^2 from (-2.5, 2): every iterate is
(-2.5, 2) * (1 - 2 lr)^t, on the line y = -0.8 x. For lr = 1.2 the first step
already lands at (3.5, -2.8), outside the window [-3, 3] x [-3, 3]; the segment
from the start crosses the edge x = 3 at y = 2 - 4.8 * 5.5 / 6 = -2.4.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app import export, presets
from app.race import run_race


def _exit_by_hand(window) -> tuple[float, float]:
    """Return where the lr = 1.2 path first leaves the window, from its closed form (independent of the app)."""
    (x0, x1), (y0, y1) = window
    start = np.array([-2.5, 2.0])
    t = 0
    while True:
        p, q = start * (1 - 2 * 1.2) ** t, start * (1 - 2 * 1.2) ** (t + 1)
        if not (x0 <= q[0] <= x1 and y0 <= q[1] <= y1):
            break
        t += 1
    # the segment p -> q leaves through the first edge it meets
    fractions = [((edge - p[i]) / (q[i] - p[i])) for i, lo, hi in ((0, x0, x1), (1, y0, y1))
                 for edge in (lo, hi) if q[i] != p[i] and 0 <= (edge - p[i]) / (q[i] - p[i]) <= 1]
    s = min(fractions)
    return tuple(p + s * (q - p))


@pytest.fixture(scope="module")
def rendered():
    race = run_race(presets.get("lr_too_large"))
    frames = export.render_frames(race, 12)
    background, to_px, clip = export._background(race, (8.4, 6.3), 100, 11)
    return race, frames, np.asarray(background).astype(int), to_px, clip


def _red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)


def test_the_preset_is_the_one_the_test_computes():
    race = run_race(presets.get("lr_too_large"))
    labels = [r.label for r in race.runs]
    assert "SGD (lr=1.2)" in labels and race.scene.surface == "bowl"
    run = race.runs[labels.index("SGD (lr=1.2)")]
    assert run.diverged_at[0][0] is not None
    assert np.allclose(run.path[0, 1, 0], (3.5, -2.8))


def test_last_gif_frame_has_the_cross_where_the_path_left_the_window(rendered):
    race, frames, _, to_px, _ = rendered
    window = ((-3.0, 3.0), (-3.0, 3.0))
    ex, ey = to_px(np.array([_exit_by_hand(window)]))[0]
    gif = Image.open(io.BytesIO(export.gif_bytes(frames)))
    gif.seek(gif.n_frames - 1)
    last = np.asarray(gif.convert("RGB")).astype(int)
    r = 12
    near = last[int(ey) - r: int(ey) + r + 1, int(ex) - r: int(ex) + r + 1]
    assert _red(near).sum() >= 30, f"no divergence cross near ({ex:.0f}, {ey:.0f}) in the GIF's last frame"
    # The cross is the only red in the picture: nowhere else is a marker left behind.
    red = _red(last)
    red[int(ey) - r: int(ey) + r + 1, int(ex) - r: int(ex) + r + 1] = False
    assert red.sum() == 0
    # Before the run diverges there is no cross.
    first = np.asarray(frames[0]).astype(int)
    assert _red(first).sum() == 0


def test_no_path_pixel_outside_the_map_axes_and_none_off_the_line(rendered):
    _, frames, background, to_px, clip = rendered
    left, top, right, bottom = clip
    window = ((-3.0, 3.0), (-3.0, 3.0))
    ex, ey = to_px(np.array([_exit_by_hand(window)]))[0]
    (ax, ay), (bx, by) = to_px(np.array([[-3.0, 2.4], [3.0, -2.4]]))  # y = -0.8 x across the window
    for im in frames:
        changed = np.any(np.asarray(im).astype(int) != background, axis=-1)
        rows, cols = np.nonzero(changed)
        # the cross may reach past the edge it sits on, as in the browser; nothing else may
        cross = (np.abs(cols - ex) <= 12) & (np.abs(rows - ey) <= 12)
        outside = (cols < left - 1) | (cols > right + 1) | (rows < top - 1) | (rows > bottom + 1)
        assert not np.any(outside & ~cross), "a path was drawn outside the map's axes"
        # Every drawn pixel (but the step counter in the corner) lies on the line all iterates are on.
        counter = (cols < left + 220) & (rows < top + 40)
        d = np.abs((by - ay) * cols - (bx - ax) * rows + bx * ay - by * ax) / np.hypot(bx - ax, by - ay)
        assert np.all(d[~counter] <= 13), f"pixels drawn {d[~counter].max():.0f} px off the line y = -0.8 x"
