"""Matplotlib pictures (Figure API only: pyplot is not thread-safe in a server)."""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

CMAP = "viridis"


def _levels(z: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return contour levels for z and whether they are log-spaced (when z spans many decades)."""
    finite = z[np.isfinite(z)]
    lo, hi = float(finite.min()), float(finite.max())
    shifted = finite - lo
    pos = shifted[shifted > 0]
    # Log-spaced levels when the values above the minimum span more than two decades
    # (Rosenbrock, Himmelblau, Beale...): linear levels would paint every valley one colour.
    if pos.size and hi - lo > 0 and pos.max() / max(np.percentile(pos, 1), 1e-300) > 1e2:
        a, b = np.log10(max(np.percentile(pos, 0.5), 1e-12)), np.log10(pos.max())
        return lo + np.concatenate([[0.0], np.logspace(a, b, 40)]), True
    return np.linspace(lo, hi if hi > lo else lo + 1.0, 41), False


def _grid(surf, window, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (X, Y, Z) over the window on an n x n grid; Z is NaN where the loss is not finite."""
    (x0, x1), (y0, y1) = window
    X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    with np.errstate(all="ignore"):
        Z = np.asarray(surf.loss(np.stack([X, Y], axis=-1)), dtype=float)
    return X, Y, np.where(np.isfinite(Z), Z, np.nan)


def contour_image(surf, window, width: int = 840, height: int = 630, fmt: str = "jpeg") -> str:
    """Return a data URL of the surface's filled contours covering exactly ``window``, no axes."""
    (x0, x1), (y0, y1) = window
    X, Y, Z = _grid(surf, window, 260)
    levels, is_log = _levels(Z)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    norm = mcolors.BoundaryNorm(levels, 256)
    ax.contourf(X, Y, Z, levels=levels, cmap=CMAP, norm=norm, extend="both")
    ax.contour(X, Y, Z, levels=levels[::4], colors="white", linewidths=0.4, alpha=0.45)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format="png")
        mime = "png"
    else:
        fig.savefig(buf, format="jpeg", pil_kwargs={"quality": 82, "optimize": True})
        mime = "jpeg"
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode()


def tick_label(v: float) -> str:
    """Return a colour-bar tick: two significant digits, written out from 0.001 to 99,000 (480, not 4.8e+02).

    Outside that range, the short scientific form: 4.8e5, 1.2e-5.
    """
    if v == 0 or not np.isfinite(v):
        return f"{v:g}"
    if 1e-3 <= abs(v) < 9.95e4:
        return f"{float(f'{v:.2g}'):.6g}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def colorbar_png(surf, window, width: int = 520, height: int = 70) -> bytes:
    """Return a horizontal colour bar (PNG) matching ``contour_image``'s colours for this window."""
    _, _, Z = _grid(surf, window, 260)
    levels, is_log = _levels(Z)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0.03, 0.55, 0.94, 0.3))  # fixed layout: a solver would double the cost
    cb = fig.colorbar(ScalarMappable(norm=mcolors.BoundaryNorm(levels, 256), cmap=CMAP), cax=ax,
                      orientation="horizontal", extend="both")
    ticks = levels[1::8] if is_log else levels[::8]
    cb.set_ticks(ticks)
    cb.ax.set_xticklabels([tick_label(v) for v in ticks], fontsize=8)
    cb.set_label("loss" + (" (log-spaced colours)" if is_log else ""), fontsize=9, labelpad=1)
    return figure_png(fig)


def _finite_path(p: np.ndarray) -> np.ndarray:
    ok = np.all(np.isfinite(p), axis=-1)
    return p[: int(np.argmin(ok)) if not ok.all() else len(p)]


def race_figure(surf, window, race, upto: int | None = None, size=(8.4, 6.3), dpi=100, fontsize=11) -> Figure:
    """Return a static picture of the race up to step ``upto``: contours, minima, paths, legend, colour bar."""
    (x0, x1), (y0, y1) = window
    X, Y, Z = _grid(surf, window, 220)
    levels, is_log = _levels(Z)
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    cs = ax.contourf(X, Y, Z, levels=levels, cmap=CMAP, norm=mcolors.BoundaryNorm(levels, 256), extend="both")
    cb = fig.colorbar(cs, ax=ax, shrink=0.9)
    cb.set_label("loss" + (" (log-spaced levels)" if is_log else ""), fontsize=fontsize)
    if is_log:
        cb.set_ticks(levels[1::8])
        cb.ax.set_yticklabels([tick_label(v) for v in levels[1::8]])
    for mx, my in surf.minima:
        ax.plot(mx, my, marker="*", ms=14, color="white", mec="black", zorder=5)
    steps = race.scene.steps if upto is None else upto
    for run in race.runs:
        for s in range(run.path.shape[0]):
            for k in range(run.path.shape[2]):
                p = _finite_path(run.path[s, : steps + 1, k])
                if len(p) == 0:
                    continue
                first = s == 0 and k == 0
                ax.plot(p[:, 0], p[:, 1], "-", color=run.color, lw=1.8, label=run.label if first else None)
                ax.plot(p[0, 0], p[0, 1], "o", color=run.color, mec="white", ms=5)
                ax.plot(p[-1, 0], p[-1, 1], "o", color=run.color, mec="black", ms=8)
                div = run.diverged_at[s][k]
                if div is not None and div <= steps:
                    ax.plot(p[-1, 0], p[-1, 1], "x", color="red", ms=12, mew=3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x", fontsize=fontsize)
    ax.set_ylabel("y", fontsize=fontsize)
    ax.set_title(f"{surf.title} - step {steps} / {race.scene.steps}", fontsize=fontsize + 2)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=fontsize - 1, framealpha=0.85)
    return fig


def figure_png(fig: Figure, dpi: int | None = None) -> bytes:
    """Return a Figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
