"""A standalone page that mounts the race animator on a synthetic race, for browser tests and benchmarks.

Run it with ``streamlit run tests/apps/race_demo.py``. Query parameters:
``racers`` (3), ``steps`` (200), ``starts`` (1), ``image`` ("png" or "jpeg"),
``diverge`` (1: the last racer blows up), ``offset`` (0: subtracted from
every loss), ``presenter`` (0), ``autoplay`` (0),
``layout`` ("wide" or "centered"), ``height`` (620),
``preset`` (a name from app/presets.toml: that preset's real race instead of
the made-up one) and ``only`` (with ``preset``: keep only racer number ``only``).

Without ``preset`` the paths are made up (damped spirals into the minimum of
Rosenbrock's function), not computed by any optimizer: the page tests the
animator alone. With it, the race is computed by ``app.race`` and ``app.payload`` as the app does.
Importing this module only defines ``demo_payload``; the page runs as a script.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.surface3d import grid_payload  # noqa: E402
from surfaces.trace import DIVERGENCE_LIMIT  # noqa: E402

EXTENT = (-2.0, 2.0, -1.0, 3.0)
MINIMUM = (1.0, 1.0)
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
LABELS = ("SGD", "Momentum", "RMSProp", "Adam", "Adagrad", "AdamW")


def rosenbrock(x, y):
    """Return Rosenbrock's function (1 - x)^2 + 100 (y - x^2)^2, elementwise."""
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def contour_image(fmt: str = "png", size=(800, 600)) -> str:
    """Return a data URL of filled contours of Rosenbrock's function covering EXTENT exactly."""
    x0, x1, y0, y1 = EXTENT
    xs = np.linspace(x0, x1, 400)
    ys = np.linspace(y0, y1, 300)
    gx, gy = np.meshgrid(xs, ys)
    z = np.log10(rosenbrock(gx, gy) + 0.1)
    fig = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.contourf(gx, gy, z, levels=24, cmap="viridis")
    ax.contour(gx, gy, z, levels=12, colors="white", linewidths=0.5, alpha=0.45)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    buf = io.BytesIO()
    if fmt == "jpeg":
        fig.savefig(buf, format="jpeg", pil_kwargs={"quality": 85})
    else:
        fig.savefig(buf, format="png")
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _spiral(start, steps, rate, turn, wobble, seed):
    """Return points of a damped spiral from ``start`` into MINIMUM, with a little noise."""
    t = np.arange(steps + 1, dtype=float)
    s = np.asarray(start) - np.asarray(MINIMUM)
    decay = np.exp(-rate * t)
    angle = turn * (1.0 - decay)
    rng = np.random.default_rng(seed)
    zig = wobble * decay * np.sin(t * 0.9)
    px = MINIMUM[0] + decay * (s[0] * np.cos(angle) - s[1] * np.sin(angle)) + zig
    py = MINIMUM[1] + decay * (s[0] * np.sin(angle) + s[1] * np.cos(angle)) - zig
    noise = rng.normal(0.0, 0.004, size=(2, steps + 1)) * decay
    return np.stack([px + noise[0], py + noise[1]], axis=1)


def _blow_up(start, steps):
    """Return the points of a path that oscillates outwards until it leaves the box ``trace`` keeps.

    Like ``surfaces.trace``, the path ends where a coordinate passes
    DIVERGENCE_LIMIT: no race the app sends has points farther out.
    """
    t = np.arange(steps + 1, dtype=float)
    s = np.asarray(start) - np.asarray(MINIMUM)
    with np.errstate(over="ignore", invalid="ignore"):
        grow = np.exp(0.45 * t) * np.where(t % 2 == 0, 1.0, -1.0)
        p = np.asarray(MINIMUM) + s * (1.0 + 0.15 * (grow[:, None] - 1.0) * np.array([1.0, 0.6]))
        loss = rosenbrock(p[:, 0], p[:, 1])
    finite = np.isfinite(loss) & (np.abs(p) <= DIVERGENCE_LIMIT).all(axis=1)
    n = int(np.argmin(finite)) if not finite.all() else len(finite)
    return p[:n], (n if n < steps + 1 else None)


def demo_payload(
    *,
    racers: int = 3,
    steps: int = 200,
    starts: int = 1,
    image: str = "png",
    diverge: bool = True,
    offset: float = 0.0,
    scene: int = 0,
) -> dict:
    """Return a race payload of ``racers`` made-up racers, as the app would send it.

    ``offset`` is subtracted from every loss, to make some of them zero or negative.
    """
    start_points = [(-1.5, 2.4), (1.6, -0.6), (-1.2, -0.5), (0.2, 2.7)]
    out = []
    for r in range(racers):
        paths, losses, diverged = [], [], []
        for j in range(starts):
            start = start_points[j % len(start_points)]
            if diverge and r == racers - 1 and racers > 1:
                p, div = _blow_up(start, steps)
            else:
                p = _spiral(
                    start, steps, rate=3.0 / steps * (1 + r), turn=2.5 + r, wobble=0.08 * r, seed=r * 31 + j
                )
                div = None
            loss = rosenbrock(p[:, 0], p[:, 1]) - offset
            flat = np.empty(2 * len(p))
            flat[0::2] = np.round(p[:, 0], 4)
            flat[1::2] = np.round(p[:, 1], 4)
            paths.append(flat.tolist())
            losses.append([float(f"{v:.4g}") for v in loss])
            diverged.append(div)
        out.append(
            {
                "label": LABELS[r % len(LABELS)],
                "color": COLORS[r % len(COLORS)],
                "paths": paths,
                "loss": losses,
                "diverged_at": diverged,
            }
        )
    return {
        "scene_id": f"demo-{scene}",
        "title": "Rosenbrock" if scene == 0 else f"Rosenbrock, scene {scene}",
        "image": contour_image(image),
        "extent": list(EXTENT),
        "steps": steps,
        "racers": out,
        "minima": [list(MINIMUM)],
        "loss_log": False,
        "presenter": False,
        "autoplay": False,
        "surface3d": grid_payload("rosenbrock", "", (EXTENT[:2], EXTENT[2:])),
    }


def preset_payload(name: str, only: int | None = None) -> dict:
    """Return the payload the app sends for preset ``name`` (its real race), keeping only racer ``only`` if given."""
    # Imported here: the demo's made-up payloads must not pay for loading the app's race code.
    from app import plots, presets
    from app.payload import payload as race_payload
    from app.race import run_race, window_of
    from app.scene import load_surface

    scene = presets.get(name)
    race = run_race(scene)
    surf = load_surface(scene.surface, scene.formula)
    payload = race_payload(race, plots.contour_image(surf, window_of(scene, surf)), autoplay=False)
    if only is not None:
        payload["racers"] = [payload["racers"][only]]
    return payload


def main() -> None:
    import streamlit as st

    from app.race_component import race_view

    q = st.query_params
    st.set_page_config(page_title="race demo", layout="centered" if q.get("layout") == "centered" else "wide")

    def qint(name, default):
        try:
            return int(q.get(name, default))
        except ValueError:
            return default

    cached = st.cache_data(show_spinner=False)(demo_payload)
    state = st.session_state
    state.setdefault("scene", 0)
    state.setdefault("clicks", 0)
    state["runs"] = state.get("runs", 0) + 1  # the 3-D tests count reruns: turning must cause none
    if st.button("New scene", key="new_scene"):
        state.scene += 1
    log = st.toggle("Log loss", key="log_loss")

    if q.get("preset"):
        only = qint("only", -1)
        payload = dict(st.cache_data(show_spinner=False)(preset_payload)(q["preset"], only if only >= 0 else None))
        payload["loss_log"] = payload["loss_log"] or log
    else:
        payload = dict(
            cached(
                racers=qint("racers", 3),
                steps=qint("steps", 200),
                starts=qint("starts", 1),
                image=q.get("image", "png"),
                diverge=bool(qint("diverge", 1)),
                offset=float(q.get("offset", 0)),
                scene=state.scene,
            )
        )
        payload["loss_log"] = log
    payload["presenter"] = bool(qint("presenter", 0))
    payload["autoplay"] = bool(qint("autoplay", 0))

    click = race_view(payload, key="race", height=qint("height", 620))
    if click is not None:
        state.clicks += 1
        state.last_click = click
    st.write(f"clicks {state.clicks}")
    st.write(f"runs {state.runs}")
    if "last_click" in state:
        x, y = state.last_click
        st.write(f"clicked {x:.3f} {y:.3f}")


if __name__ == "__main__":
    main()
