"""A small stand-in for the Descent app, used to develop and test the class simulator.

Two pages built with st.navigation, like the real app:

- "Surfaces" (default, url path "surfaces"): a selectbox "Surface", a number input
  "Steps", a slider "Learning rate" and a small matplotlib picture of plain gradient
  descent on the chosen surface.
- "MLP" (url path "mlp"): a button "Run the article's experiment" that trains a tiny
  two-layer network with NumPy for a few seconds, then shows a results table and the
  text marker "Experiment finished".

Run from the repository root: `streamlit run tests/apps/sim_target.py`.
"""

from __future__ import annotations

import io
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

SURFACES = {
    "Bowl": (lambda x, y: x**2 + 3 * y**2, lambda x, y: (2 * x, 6 * y)),
    "Rosenbrock": (
        lambda x, y: (1 - x) ** 2 + 10 * (y - x**2) ** 2,
        lambda x, y: (-2 * (1 - x) - 40 * x * (y - x**2), 20 * (y - x**2)),
    ),
    "Saddle": (lambda x, y: x**2 - y**2 + 0.1 * y**4, lambda x, y: (2 * x, -2 * y + 0.4 * y**3)),
}


@st.cache_data(max_entries=64)
def descend(surface: str, steps: int, lr: float) -> np.ndarray:
    _, grad = SURFACES[surface]
    p = np.array([-1.5, 1.2])
    path = [p.copy()]
    for _ in range(steps):
        gx, gy = grad(*p)
        p = p - lr * np.array([gx, gy])
        p = np.clip(p, -3, 3)
        path.append(p.copy())
    return np.array(path)


W, H = 320, 240  # picture size in pixels; the plot area is the whole picture


@st.cache_data(max_entries=8)
def contour_png(surface: str) -> bytes:
    """The surface's contour picture, rendered once per surface with matplotlib (like the app)."""
    f, _ = SURFACES[surface]
    xs = np.linspace(-2, 2, 120)
    X, Y = np.meshgrid(xs, xs)
    fig = Figure(figsize=(W / 80, H / 80), dpi=80)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.contourf(X, Y, np.log1p(np.abs(f(X, Y))), levels=20, cmap="viridis")
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2, 2)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def picture(surface: str, path: np.ndarray) -> bytes:
    """The cached contour with the descent path drawn on top (PIL: a few milliseconds)."""
    img = Image.open(io.BytesIO(contour_png(surface))).convert("RGB")
    px = [((x + 2) / 4 * (W - 1), (2 - y) / 4 * (H - 1)) for x, y in path]
    draw = ImageDraw.Draw(img)
    draw.line(px, fill=(255, 255, 255), width=2)
    for x, y in px:
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(255, 80, 80))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def surfaces_page() -> None:
    st.header("Optimizers on a surface")
    surface = st.selectbox("Surface", list(SURFACES))
    steps = st.number_input("Steps", min_value=5, max_value=200, value=40, step=5)
    lr = st.slider("Learning rate", min_value=0.001, max_value=0.2, value=0.05, step=0.001, format="%.3f")
    path = descend(surface, int(steps), float(lr))
    st.image(picture(surface, path), caption=f"gradient descent on {surface}")
    st.caption(f"final point ({path[-1, 0]:.3f}, {path[-1, 1]:.3f}) after {int(steps)} steps")


def train_tiny_mlp(seconds: float, seed: int = 0) -> pd.DataFrame:
    """Full-batch gradient descent on a 2-16-1 network for about `seconds` seconds."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)[:, None]
    rows = []
    for name, lr in (("sgd", 0.5), ("momentum", 0.2)):
        r = np.random.default_rng(seed)
        W1, b1 = r.normal(scale=0.5, size=(2, 16)), np.zeros(16)
        W2, b2 = r.normal(scale=0.5, size=(16, 1)), np.zeros(1)
        vel = [np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)]
        t_end = time.monotonic() + seconds / 2
        epochs = 0
        while time.monotonic() < t_end and epochs < 200_000:
            h = np.tanh(X @ W1 + b1)
            p = 1 / (1 + np.exp(-(h @ W2 + b2)))
            d2 = (p - y) / len(X)
            gW2, gb2 = h.T @ d2, d2.sum(0)
            dh = (d2 @ W2.T) * (1 - h**2)
            gW1, gb1 = X.T @ dh, dh.sum(0)
            for v, g, w in zip(vel, (gW1, gb1, gW2, gb2), (W1, b1, W2, b2)):
                v *= 0.9 if name == "momentum" else 0.0
                v += g
                w -= lr * v
            epochs += 1
        acc = float(((p > 0.5) == (y > 0.5)).mean())
        rows.append({"optimizer": name, "epochs": epochs, "accuracy": round(acc, 3)})
    return pd.DataFrame(rows)


def mlp_page() -> None:
    st.header("Training a small network")
    if st.button("Run the article's experiment"):
        with st.spinner("Training..."):
            st.session_state["results"] = train_tiny_mlp(seconds=3.0)
    if "results" in st.session_state:
        st.dataframe(st.session_state["results"])
        st.success("Experiment finished")


pg = st.navigation(
    [
        st.Page(surfaces_page, title="Surfaces", url_path="surfaces", default=True),
        st.Page(mlp_page, title="MLP", url_path="mlp"),
    ]
)
st.set_page_config(page_title="Descent (simulator target)")
pg.run()
