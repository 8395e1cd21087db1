"""Matplotlib pictures (Figure API only: pyplot is not thread-safe in a server)."""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure

CMAP = "viridis"
DIVERGED = "#FF0000"  # the cross where a diverging path left the window


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
    """Return (X, Y, Z) over the window on an n x n grid; Z is NaN where the loss is not finite.

    Raises SurfaceError, with a message for the student, where the loss is
    nowhere finite: there would be no contour to draw.
    """
    return surf.grid(n, window)


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


def colorbar(surf, window) -> dict:
    """Return the colour bar matching ``contour_image``'s colours for this window, for the page to draw.

    ``{"bands": ["#rrggbb", ...], "ticks": [(percent along the bar, label), ...], "label": str}``:
    one colour per contour band, equally wide as in the map's legend, so the
    page draws it as HTML text that stays sharp and follows the page's type size.
    """
    _, _, Z = _grid(surf, window, 260)
    levels, is_log = _levels(Z)
    norm = mcolors.BoundaryNorm(levels, 256)
    cmap = matplotlib.colormaps[CMAP]
    mids = (levels[:-1] + levels[1:]) / 2
    bands = [mcolors.to_hex(cmap(int(norm(v)))) for v in mids]
    idx = range(1, len(levels), 8) if is_log else range(0, len(levels), 8)
    ticks = [(100.0 * i / (len(levels) - 1), tick_label(levels[i])) for i in idx]
    return {"bands": bands, "ticks": ticks, "label": "loss" + (" (log-spaced colours)" if is_log else "")}


def _finite_path(p: np.ndarray) -> np.ndarray:
    ok = np.all(np.isfinite(p), axis=-1)
    return p[: int(np.argmin(ok)) if not ok.all() else len(p)]


def clip_segments(p: np.ndarray, window) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (a, b, t0, t1): each segment p[i] -> p[i+1] cut to the window (Liang-Barsky), a and b its ends.

    ``t0``/``t1`` are the kept fraction of the segment; a segment with nothing
    inside the window (or a point that is not finite) has NaN ends.
    """
    (x0, x1), (y0, y1) = window
    p = np.asarray(p, dtype=float).reshape(-1, 2)
    s, e = p[:-1], p[1:]
    with np.errstate(all="ignore"):
        d = e - s
        t0 = np.zeros(len(s))
        t1 = np.ones(len(s))
        ok = np.all(np.isfinite(s), axis=1) & np.all(np.isfinite(d), axis=1)
        for pk, qk in ((-d[:, 0], s[:, 0] - x0), (d[:, 0], x1 - s[:, 0]),
                       (-d[:, 1], s[:, 1] - y0), (d[:, 1], y1 - s[:, 1])):
            r = qk / pk
            ok &= ~((pk == 0) & (qk < 0))
            t0 = np.where(pk < 0, np.maximum(t0, r), t0)
            t1 = np.where(pk > 0, np.minimum(t1, r), t1)
        ok &= t0 <= t1
        a = np.where(ok[:, None], s + t0[:, None] * d, np.nan)
        b = np.where(ok[:, None], s + t1[:, None] * d, np.nan)
    return a, b, t0, t1


def exit_point(p: np.ndarray, window) -> tuple[float, float] | None:
    """Return where a diverging path left the window: its last point if inside, else the edge crossing after it.

    ``p`` holds the path's points up to its divergence (finite ones first).
    The browser's animator marks the same point (``exitPoint`` in app/component/race_data.js).
    """
    (x0, x1), (y0, y1) = window
    p = _finite_path(np.asarray(p, dtype=float).reshape(-1, 2))
    if len(p) == 0:
        return None
    inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
    if inside[-1]:
        return float(p[-1, 0]), float(p[-1, 1])
    if not inside.any():
        return float(np.clip(p[0, 0], x0, x1)), float(np.clip(p[0, 1], y0, y1))
    last = int(np.flatnonzero(inside)[-1])
    _, b, _, _ = clip_segments(p[last: last + 2], window)
    if not np.all(np.isfinite(b[0])):
        return float(p[last, 0]), float(p[last, 1])
    return float(b[0, 0]), float(b[0, 1])


def equal_scale(window, wanted: bool) -> bool:
    """Return True when the map is drawn with one unit the same length on both axes.

    Only where it is wanted and the window is no more than 3 times wider than
    tall (or taller than wide): a flatter window would leave a sliver of a map.
    """
    (x0, x1), (y0, y1) = window
    ratio = (x1 - x0) / (y1 - y0)
    return bool(wanted) and 1 / 3 <= ratio <= 3


def map_pixels(window, equal: bool, area: int = 840 * 630) -> tuple[int, int]:
    """Return (width, height) in pixels of a map picture of about ``area`` pixels: 4:3, or the window's shape."""
    (x0, x1), (y0, y1) = window
    aspect = (x1 - x0) / (y1 - y0) if equal else 4 / 3
    w = int(round((area * aspect) ** 0.5))
    return w, int(round(w / aspect))


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
                div = run.diverged_at[s][k]
                p = run.path[s, : steps + 1 if div is None else min(steps + 1, div), k]
                if len(p) == 0 or not np.all(np.isfinite(p[0])):
                    continue
                first = s == 0 and k == 0
                # NaN points leave gaps and the axes clip the rest: only the path's own segments show.
                ax.plot(p[:, 0], p[:, 1], "-", color=run.color, lw=1.8, label=run.label if first else None)
                ax.plot(p[0, 0], p[0, 1], "o", color=run.color, mec="white", ms=5)
                if div is not None and div <= steps:
                    ex = exit_point(p, window)
                    if ex is not None:  # on the window's edge: not clipped, like the browser's cross
                        ax.plot(*ex, "x", color=DIVERGED, ms=12, mew=3, clip_on=False, zorder=6)
                elif np.all(np.isfinite(p[-1])):
                    ax.plot(p[-1, 0], p[-1, 1], "o", color=run.color, mec="black", ms=8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    if equal_scale(window, getattr(race.scene, "equal", True)):
        ax.set_aspect("equal")
    xname, yname = surf.axis_labels
    ax.set_xlabel(xname, fontsize=fontsize)
    ax.set_ylabel(yname, fontsize=fontsize)
    ax.set_title(f"{surf.title} - step {steps} / {race.scene.steps}", fontsize=fontsize + 2)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=fontsize - 1, framealpha=0.85)
    return fig


def figure_png(fig: Figure, dpi: int | None = None) -> bytes:
    """Return a Figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
