"""What a student watches on the MLP page: curves, boundary pictures, the data, the landscape, the sharpness.

Pure functions from numbers to Altair charts, RGB arrays and matplotlib
``Figure``s (no Streamlit here), so a live redraw costs the server little:
the boundary pictures are painted with numpy, not drawn by matplotlib.
"""

from __future__ import annotations

import functools
import json
import math

import altair as alt
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

#: regions: a light diverging map (blue: class 0, red: class 1); points: the same hues, dark, with a white ring
_REGION = colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3]
REGION_LUT = np.round(255 * (0.45 * _REGION + 0.55)).astype(np.uint8)
POINT_COLORS = {0: np.array([33, 102, 172], np.uint8), 1: np.array([178, 24, 43], np.uint8)}
PICTURE = 168  # pixels per side of a boundary picture


def unique(labels: list[str]) -> list[str]:
    """Return labels made unique (two racers may share a label), in order."""
    out: list[str] = []
    for lab in labels:
        out.append(lab if lab not in out else f"{lab} #{sum(o.startswith(lab) for o in out) + 1}")
    return out


# -- curves --------------------------------------------------------------------------------

METRICS = (("loss", "train_loss", "train"), ("loss", "test_loss", "test"),
           ("accuracy", "train_acc", "train"), ("accuracy", "test_acc", "test"))


def curves_frame(records: dict[int, list[dict]], names: list[str]) -> pd.DataFrame:
    """Return long-form rows (optimizer, epoch, metric, set, value) of every racer's epoch records."""
    rows = []
    for i, recs in records.items():
        for r in recs:
            for metric, key, which in METRICS:
                v = r.get(key)
                if v is not None and math.isfinite(v):
                    rows.append((names[i], int(r["epoch"]), metric, which, float(v)))
    return pd.DataFrame(rows, columns=["optimizer", "epoch", "metric", "set", "value"])


def curves_data_and_spec(records: dict[int, list[dict]], labels: list[str], colors: list[str], log: bool,
                         epochs: int | None = None) -> tuple[pd.DataFrame, dict] | None:
    """Return ``(rows, Vega-Lite spec without its data)`` of the curves, or None before epoch 1.

    Loss above accuracy, train (solid) and test (dashed), on one shared epoch
    axis; ``epochs`` fixes the axis to the whole planned training, so curves
    grow into a frame that does not rescale under the student's eyes. Altair
    builds and validates a spec in about 40 ms, most of a live redraw's server
    time, so the spec is built once per set of racers and only the rows change.
    """
    names = unique(labels)
    df = _curve_rows(records, names, log)
    if df.empty:
        return None
    shown = tuple(names[i] for i in sorted(records))
    return df, json.loads(_curves_spec(shown, tuple(colors[names.index(n)] for n in shown), log, epochs))


def _curve_rows(records: dict[int, list[dict]], names: list[str], log: bool) -> pd.DataFrame:
    """Return the long-form rows drawn: on a log axis without the losses at or below zero."""
    df = curves_frame(records, names)
    if log and not df.empty:
        df = df[(df["metric"] != "loss") | (df["value"] > 0)]
    return df


@functools.lru_cache(maxsize=64)
def _curves_spec(shown: tuple[str, ...], colors: tuple[str, ...], log: bool, epochs: int | None) -> str:
    """Return the curves' Vega-Lite spec as JSON, without data (the rows travel beside it)."""
    empty = pd.DataFrame({"optimizer": pd.Series(dtype=str), "epoch": pd.Series(dtype=int),
                          "metric": pd.Series(dtype=str), "set": pd.Series(dtype=str),
                          "value": pd.Series(dtype=float)})
    spec = _curves_layout(empty, list(shown), list(colors), log, epochs).to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    return json.dumps(spec)


def _curves_layout(df: pd.DataFrame, shown: list[str], colors: list[str], log: bool, epochs: int | None):
    """Return the Altair chart of the curves over the rows ``df`` (``curves_data_and_spec`` keeps its spec)."""
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d"),
              scale=alt.Scale(domain=[0, epochs]) if epochs else alt.Undefined)
    # labelLimit: "Heavy-ball momentum (lr=0.05)" whole, not cut at Vega's default 160 px
    color = alt.Color("optimizer:N", sort=shown, legend=alt.Legend(orient="bottom", columns=4, labelLimit=260),
                      scale=alt.Scale(domain=shown, range=colors))
    dash = alt.StrokeDash("set:N", sort=["train", "test"], legend=alt.Legend(orient="bottom", title="data"),
                          scale=alt.Scale(domain=["train", "test"], range=[[1, 0], [5, 3]]))
    tip = ["optimizer", "set", "epoch", alt.Tooltip("value:Q", format=".4g")]
    base = alt.Chart(df).mark_line(strokeWidth=1.8).encode(x=x, color=color, strokeDash=dash, tooltip=tip,
                                                            detail="optimizer:N")
    loss = base.transform_filter(alt.datum.metric == "loss").encode(
        y=alt.Y("value:Q", title="loss" + (" (log)" if log else ""),
                scale=alt.Scale(type="log") if log else alt.Scale(zero=True))).properties(height=220)
    acc = base.transform_filter(alt.datum.metric == "accuracy").encode(
        y=alt.Y("value:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]))).properties(height=160)
    return alt.vconcat(loss, acc).resolve_scale(x="shared", color="shared", strokeDash="shared")


def sharpness_chart(series: dict[int, tuple[list, list]], lrs: list[float | None], labels: list[str],
                    colors: list[str], epochs: int | None = None):
    """Return the sharpness of each racer against the epoch with its 2/lr as a dashed line, or None without data."""
    names = unique(labels)
    rows = [(names[i], int(e), float(v)) for i, (es, vs) in series.items() for e, v in zip(es, vs)
            if v is not None and math.isfinite(v)]
    if not rows:
        return None
    df = pd.DataFrame(rows, columns=["optimizer", "epoch", "sharpness"])
    edges = pd.DataFrame([(names[i], 2.0 / lrs[i]) for i in series if lrs[i]], columns=["optimizer", "2/lr"])
    shown = [names[i] for i in sorted(series)]
    color = alt.Color("optimizer:N", sort=shown, legend=alt.Legend(orient="bottom"),
                      scale=alt.Scale(domain=shown, range=[colors[names.index(n)] for n in shown]))
    x = alt.X("epoch:Q", axis=alt.Axis(format="d"), scale=alt.Scale(domain=[0, epochs]) if epochs else alt.Undefined)
    # A spike (rare since the Hessian-vector products use a step of 1e-6, which seldom crosses a ReLU kink;
    # or a real jump) must not flatten the rest: the axis ends above 2/lr and the 95th percentile, and what
    # passes it is drawn at the edge.
    top = 1.3 * max(float(df["sharpness"].quantile(0.95)), float(edges["2/lr"].max()) if not edges.empty else 0.0)
    line = alt.Chart(df).mark_line(point=True, strokeWidth=1.5).encode(
        x=x, y=alt.Y("sharpness:Q", title="sharpness", scale=alt.Scale(domain=[0, top], clamp=True)),
        color=color, tooltip=["optimizer", "epoch", alt.Tooltip("sharpness:Q", format=".3g")])
    chart = line
    if not edges.empty:
        rule = alt.Chart(edges).mark_rule(strokeDash=[6, 4], strokeWidth=1.5).encode(
            y="2/lr:Q", color=color, tooltip=["optimizer", alt.Tooltip("2/lr:Q", format=".3g")])
        chart = line + rule
    # Inside a vconcat: Streamlit (1.67) draws a bare layer chart about 80 px high whatever its height says.
    # Fitted to the page's width, axis labels included: else the plot alone gets that width and the whole
    # chart runs about 60 px past the page's right edge (seen at 1366 px).
    return alt.vconcat(chart.properties(height=240)).properties(
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


# -- boundary pictures ---------------------------------------------------------------------

def boundary_picture(P: np.ndarray, xs: np.ndarray, ys: np.ndarray, X: np.ndarray | None, y: np.ndarray | None,
                     size: int = PICTURE) -> np.ndarray:
    """Return an RGB uint8 picture (size x size) of P(label 1) with the data points painted on their regions.

    ``P`` is a (len(ys), len(xs)) grid of probabilities in 0..1 or uint8 0..255;
    the p = 0.5 line is dark; each point is a dark dot of its class in a white ring.
    """
    P = np.asarray(P)
    q = P.astype(np.float64) / 255 if P.dtype == np.uint8 else np.clip(np.nan_to_num(P, nan=0.5), 0, 1)
    n = q.shape[0]
    # nearest-neighbour upscale, flipped so that larger y is up
    idx_r = np.minimum((np.arange(size) * n) // size, n - 1)
    idx_c = np.minimum((np.arange(size) * q.shape[1]) // size, q.shape[1] - 1)
    up = q[::-1][idx_r][:, idx_c]
    img = REGION_LUT[np.round(up * 255).astype(int)].copy()
    side = up > 0.5
    edge = np.zeros_like(side)
    edge[:-1] |= side[:-1] != side[1:]
    edge[:, :-1] |= side[:, :-1] != side[:, 1:]
    img[edge] = (40, 40, 40)
    if X is not None and y is not None and len(X):
        px = np.round((X[:, 0] - xs[0]) / (xs[-1] - xs[0]) * (size - 1)).astype(int)
        py = np.round((ys[-1] - X[:, 1]) / (ys[-1] - ys[0]) * (size - 1)).astype(int)
        ok = (px >= 0) & (px < size) & (py >= 0) & (py < size)
        for r, white in ((2, True), (1, False)):
            for dx in range(-r, r + 1):
                for dy in range(-r, r + 1):
                    if white and max(abs(dx), abs(dy)) < 2:
                        continue
                    cx, cy = np.clip(px[ok] + dx, 0, size - 1), np.clip(py[ok] + dy, 0, size - 1)
                    if white:
                        img[cy, cx] = 255
                    else:
                        labels = np.asarray(y).ravel()[ok] > 0.5
                        img[cy[labels], cx[labels]] = POINT_COLORS[1]
                        img[cy[~labels], cx[~labels]] = POINT_COLORS[0]
    return img


def data_preview_figure(X: np.ndarray, y: np.ndarray, title: str) -> Figure:
    """Return a scatter plot of 2-D training points, class 1 red, class 0 blue, white-edged."""
    fig = Figure(figsize=(3.6, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    yy = np.asarray(y).ravel() > 0.5
    for cls, mask in ((0, ~yy), (1, yy)):
        ax.scatter(X[mask, 0], X[mask, 1], s=16, color=POINT_COLORS[cls] / 255, edgecolors="white", linewidths=0.5,
                   label=f"label {cls}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def digits_preview_figure(X: np.ndarray, y: np.ndarray, per_class: int = 6) -> Figure:
    """Return a few training images of each class (8x8 digits, standardised values shown as grey levels)."""
    fig = Figure(figsize=(per_class * 0.75, 1.9), dpi=100, layout="constrained")
    yy = np.asarray(y).ravel() > 0.5
    for row, cls in enumerate((1, 0)):
        picks = np.flatnonzero(yy == bool(cls))[:per_class]
        for k, j in enumerate(picks):
            ax = fig.add_subplot(2, per_class, row * per_class + k + 1)
            ax.imshow(X[j].reshape(8, 8), cmap="gray_r", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(f"label {cls}", fontsize=8)
    return fig


# -- the landscape ----------------------------------------------------------------------------

def landscape_figure(sl, fontsize: int = 9) -> Figure:
    """Return the slice's loss as filled contours (log colours) with every optimizer's projected path on it."""
    # Over three paths the legend would cover much of the map: it goes below it in two columns (the
    # figure taller by its rows), with labels short enough for two to share the width
    below = len(sl.paths) > 3
    rows = (len(sl.paths) + 2) // 2
    fig = Figure(figsize=(6.4, 5.0 + (0.2 * rows + 0.15 if below else 0)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    L = np.asarray(sl.loss, dtype=float)
    finite = L[np.isfinite(L) & (L > 0)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (1e-3, 1.0)
    hi = max(hi, lo * 1.01)
    levels = np.geomspace(lo, hi, 25)
    cs = ax.contourf(sl.a, sl.b, np.clip(np.nan_to_num(L, nan=hi, posinf=hi), lo, hi), levels=levels,
                     norm=LogNorm(lo, hi), cmap="viridis")
    fig.colorbar(cs, ax=ax, label="training loss", format="%.2g")
    for p in sl.paths:
        c = p.coords
        ax.plot(c[:, 0], c[:, 1], color="white", lw=3.2, alpha=0.8)
        ax.plot(c[:, 0], c[:, 1], color=p.color or "black", lw=1.8,
                label=f"{p.label}: plane holds {p.explained:.0%}" + ("" if below else " of its movement"))
        ax.plot(c[-1, 0], c[-1, 1], "o", color=p.color or "black", mec="white", ms=7)
    ax.plot(0, 0, "*", color="white", mec="black", ms=13, label="common initial weights")
    what = ("plane of the paths' first two principal directions"
            + (f" ({sl.share:.0%} of all their movement)" if math.isfinite(sl.share) else ""))
    ax.set_title(f"Training loss on a {what}".replace(" (", "\n(", 1) if sl.kind == "pca"
                 else "Training loss on a plane of two filter-normalised\nrandom directions (Li et al. 2018)",
                 fontsize=fontsize)
    ax.set_xlabel("direction 1", fontsize=fontsize)
    ax.set_ylabel("direction 2", fontsize=fontsize)
    if below:
        fig.legend(fontsize=fontsize - 1, loc="outside lower center", ncols=2, frameon=False)
    else:
        ax.legend(fontsize=fontsize - 1, loc="upper right", framealpha=0.85)
    return fig


def path_loss_chart(sl, labels: list[str]):
    """Return the loss along each real path (solid) beside the loss at its projected points (dashed)."""
    names = unique(labels)
    rows = []
    for k, p in enumerate(sl.paths):
        name = names[k] if k < len(names) else p.label
        for e, real, proj in zip(p.epochs, p.path_loss, p.plane_loss):
            rows.append((name, int(e), "real weights", float(real)))
            rows.append((name, int(e), "projected onto the plane", float(proj)))
    df = pd.DataFrame(rows, columns=["optimizer", "epoch", "where", "loss"])
    df = df[np.isfinite(df["loss"]) & (df["loss"] > 0)]
    if df.empty:
        return None
    shown = [names[k] if k < len(names) else p.label for k, p in enumerate(sl.paths)]
    colors = [p.color or "#333333" for p in sl.paths]
    return alt.Chart(df).mark_line(strokeWidth=1.6).encode(
        # the axis ends at the last epoch drawn, not at Vega's next round number (350 for a 302-epoch run)
        x=alt.X("epoch:Q", axis=alt.Axis(format="d"),
                scale=alt.Scale(domain=[int(df["epoch"].min()), int(df["epoch"].max())], nice=False)),
        y=alt.Y("loss:Q", title="training loss (log)", scale=alt.Scale(type="log")),
        # The chart sits beside the map, in a column about 350 px wide at 1366 px, whose height the
        # legends share with the plot: the map beside it is the colours' key (and the tooltip names
        # each line); only the two line styles get a legend, above the plot.
        color=alt.Color("optimizer:N", sort=shown, scale=alt.Scale(domain=shown, range=colors), legend=None),
        strokeDash=alt.StrokeDash("where:N", legend=alt.Legend(orient="top", title=None),
                                  scale=alt.Scale(domain=["real weights", "projected onto the plane"],
                                                  range=[[1, 0], [5, 3]])),
        detail="optimizer:N",
        tooltip=["optimizer", "where", "epoch", alt.Tooltip("loss:Q", format=".4g")],
    ).properties(height=300)
