"""The "Compare fairly" tab: learning-rate sensitivity curves, an (lr, beta) heat map and outcome maps.

Every number comes from ``surfaces.sweep`` (the compiled engine running each
optimizer's own rule); this module arranges the scene's racers, starts, noise
seeds and window into its requests and draws the answers.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import replace
from typing import NamedTuple

import altair as alt
import numpy as np
import streamlit as st
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from optim import OPTIMIZERS
from surfaces import engine, sweep

from . import images, plots
from .controls import racer_key
from .maps_component import clicked, maps_view
from .outcome import (
    DIVERGED_COLOR,
    ELSEWHERE_COLOR,
    MAX_FADE,
    basin_color,
    outcome_rgb,
    racer_map,
    reporting_to,
)
from .race import starts_of, tolerance
from .racer import color_of
from .scene import Scene, load_surface

MAP_SIZES = (64, 128, 256)
#: session-state key of the Compare tab's "under the race" choice, read into ``Scene.overlay`` (app/state.py)
OVERLAY_KEY = "overlay"


#: set to 1 to compile every optimizer's shared kernel in the background once the server starts
WARM_ENV = "DESCENT_WARM_ENGINE"
_WARM_LOCK = threading.Lock()
_warm_thread: threading.Thread | None = None


def start_engine_warming() -> threading.Thread | None:
    """Return the thread compiling every optimizer's shared kernel, started once per server process; None when off.

    Then a student's newly typed formula compiles only its own gradient and loss
    (~0.2 s) when a sweep or map first runs on it, not a kernel per optimizer.
    Off unless ``DESCENT_WARM_ENGINE=1``: a compile holds the interpreter for a
    second or more, and 8 of them right after start-up slowed a class arriving
    then (first render p95 from 2 s to 23 s in the class simulator).
    """
    global _warm_thread
    if os.environ.get(WARM_ENV) != "1":
        return None
    with _WARM_LOCK:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_warm_when_idle, name="descent-warm-engine", daemon=True)
            _warm_thread.start()
    return _warm_thread


def _warm_when_idle() -> None:
    """Compile the shared kernels one optimizer at a time, after the catalogue's images, never while a page draws.

    A compile holds the interpreter for a second or two; students' pages come first.
    """
    images.start_catalogue_warming().join()
    for name in OPTIMIZERS:
        images.wait_for_idle()
        engine.warm_shared_kernels((name,))


def _seeds(scene: Scene) -> list[int]:
    return [scene.seed + k for k in range(scene.n_seeds)]


def _optimizers(scene: Scene) -> list[tuple[str, object]]:
    return [(r.label(), r.make()) for r in scene.racers]


# The sweeps are kept in plain bounded caches, not st.cache_data: their progress bar is an element made
# outside the computation, and st.cache_data replays a cached call's element calls, which for an outside
# element raises CacheReplayClosureError on the next rerun that hits the cache (any click in the tab).
_PROGRESS = threading.local()


def _report(share: float) -> None:
    """Move the progress bar of the run in this thread, if it has one (a cached answer has none to move)."""
    bar = getattr(_PROGRESS, "bar", None)
    if bar is not None:
        bar(share)


@functools.lru_cache(maxsize=32)
def cached_sensitivity(scene: Scene) -> list[sweep.Sensitivity]:
    """Return the learning-rate sweep of every racer of a checked scene (default rate grid)."""
    surf = load_surface(scene.surface, scene.formula)
    return sweep.lr_sweep(surf, _optimizers(scene), starts_of(scene, surf), scene.steps, noise=scene.noise,
                          seeds=_seeds(scene), tol=tolerance(scene, surf), batch_size=scene.batch_size or None,
                          progress=_report)


@functools.lru_cache(maxsize=32)
def cached_beta_map(scene: Scene, index: int) -> sweep.BetaMap:
    """Return the (lr, beta) map of racer ``index`` of a checked scene."""
    surf = load_surface(scene.surface, scene.formula)
    racer = scene.racers[index]
    return sweep.beta_sweep(surf, racer.label(), racer.make(), starts_of(scene, surf), scene.steps,
                            noise=scene.noise, seeds=_seeds(scene), tol=tolerance(scene, surf),
                            batch_size=scene.batch_size or None, progress=_report)


def cached_outcome_maps(scene: Scene, n: int) -> list[sweep.OutcomeMap]:
    """Return one outcome map per racer of a checked scene, n x n starts over its window (each map cached)."""
    maps, k = [], len(scene.racers)
    for i in range(k):
        with reporting_to(lambda share, i=i: _report((i + share) / k)):
            maps.append(racer_map(scene, i, n))  # the same maps the overlay under the race draws
    return maps


def render(scene: Scene) -> None:
    """Draw the comparison tab for a checked scene."""
    scene = replace(scene, overlay=None)  # what lies under the race changes none of these numbers
    surf = load_surface(scene.surface, scene.formula)
    st.caption(
        "A race at hand-picked learning rates cannot say which optimizer is best: each must run at its own best "
        "rate, and how wide the band of good rates is matters as much. These sweeps rerun the scene (its starts, "
        f"noise seeds and {scene.steps} steps) at {sweep.N_RATES} learning rates per optimizer."
    )
    sens_tab, beta_tab, map_tab = st.tabs(["Learning-rate sensitivity", "(lr, beta) map", "Outcome maps"],
                                          key="compare_tab", on_change="rerun")
    if sens_tab.open:
        with sens_tab:
            _sensitivity(scene)
    if beta_tab.open:
        with beta_tab:
            _beta(scene)
    if map_tab.open:
        with map_tab:
            _maps(scene, surf)


def _with_progress(fn, *args):
    """Return ``fn(*args)`` while a progress bar shows how far it got."""
    bar = st.progress(0.0, text="Running the sweep (the first run on a surface compiles the rules, a few seconds)")
    _PROGRESS.bar = lambda share: bar.progress(min(1.0, share))
    try:
        return fn(*args)
    finally:
        _PROGRESS.bar = None
        bar.empty()


def _sensitivity(scene: Scene) -> None:
    results = _with_progress(cached_sensitivity, scene)
    colors = [color_of(r, i) for i, r in enumerate(scene.racers)]
    st.altair_chart(sensitivity_chart(results, colors), width="stretch")
    st.dataframe(sensitivity_rows(results), hide_index=True, width="stretch", column_config={
        "best lr": st.column_config.NumberColumn(format="%.4g"),
        "loss above minimum": st.column_config.NumberColumn(format="%.3g"),
        "steps to the minimum": st.column_config.NumberColumn(format="%d"),
    })
    st.caption(
        "Loss above the minimum after the last step, mean over starts and seeds (the band spans the best and worst "
        f"seed); a rate at which any run diverged is left out. The good band: neighbouring rates within "
        f"{sweep.BAND_FACTOR:g}x of the best loss; its width in decades (1 = a factor of ten in the rate)."
    )
    best = [r.best_rate for r in results]
    st.button("Race each at its best rate", key="act_best_rates", on_click=set_best_rates, args=(best,),
              disabled=all(b is None for b in best),
              help="sets every racer's learning rate to its best rate from this sweep")


def set_best_rates(best: list[float | None], prefix: str = "r") -> None:
    """Set each racer's learning-rate widget to its best rate (a callback: runs before the widgets are drawn)."""
    ids = st.session_state.get(f"{prefix}_ids", [])
    for i, rate in zip(ids, best):
        if rate is not None:
            st.session_state[racer_key(i, "lr", prefix)] = float(f"{rate:.4g}")


def sensitivity_rows(results: list[sweep.Sensitivity]) -> list[dict]:
    """Return one table row per optimizer: best rate, its loss, the good band and its width."""
    rows = []
    for s in results:
        if s.best is None:
            rows.append({"optimizer": s.label, "best lr": None, "loss above minimum": None, "good band": "none",
                         "band width (decades)": None, "diverged at": "every rate"})
            continue
        lo, hi = s.band
        div = np.flatnonzero(s.diverged > 0)
        rows.append({
            "optimizer": s.label, "best lr": float(f"{s.best_rate:.4g}"), "loss above minimum": float(s.gap[s.best]),
            "steps to the minimum": None if math.isnan(s.steps[s.best]) else int(s.steps[s.best]),
            "good band": f"{s.rates[lo]:.3g} to {s.rates[hi]:.3g}", "band width (decades)": round(s.band_decades, 2),
            "diverged at": f"lr >= {s.rates[div[0]]:.3g}" if div.size else "no rate",
        })
    return rows


def sensitivity_chart(results: list[sweep.Sensitivity], colors: list[str]) -> alt.LayerChart:
    """Return the log-log chart of loss above the minimum against the learning rate, one curve per optimizer."""
    rows, best = [], []
    for s in results:
        for k, rate in enumerate(s.rates):
            if math.isfinite(s.gap[k]):
                rows.append({"optimizer": s.label, "lr": float(rate), "loss": float(s.gap[k]),
                             "low": float(s.gap_low[k]), "high": float(s.gap_high[k])})
        if s.best is not None:
            best.append({"optimizer": s.label, "lr": s.best_rate, "loss": float(s.gap[s.best]),
                         "note": f"best {s.best_rate:.3g}, band {s.band_decades:.1f} decades"})
    scale = alt.Scale(domain=[s.label for s in results], range=colors)
    x = alt.X("lr:Q", scale=alt.Scale(type="log"), title="learning rate")
    # one style of tick label for every decade ("1e-8", "1e+4"), not "0.000001" beside "1e-8"
    y = alt.Y("loss:Q", scale=alt.Scale(type="log"), title="final loss above the minimum", axis=alt.Axis(format=".0e"))
    base = alt.Chart(alt.Data(values=rows))
    band = base.mark_area(opacity=0.18).encode(x, alt.Y("low:Q", scale=alt.Scale(type="log")), y2="high:Q",
                                               color=alt.Color("optimizer:N", scale=scale))
    line = base.mark_line(point=True).encode(x, y, color=alt.Color("optimizer:N", scale=scale),
                                             tooltip=["optimizer:N", alt.Tooltip("lr:Q", format=".3g"),
                                                      alt.Tooltip("loss:Q", format=".3g")])
    marks = alt.Chart(alt.Data(values=best)).mark_point(shape="diamond", size=180, filled=True, stroke="black").encode(
        x, y, color=alt.Color("optimizer:N", scale=scale,
                              legend=alt.Legend(orient="bottom", symbolType="circle")),
        tooltip=["optimizer:N", "note:N"])
    # the legend's symbols would otherwise take the faint band's opacity
    return (band + line + marks).properties(height=380).configure_legend(symbolOpacity=1.0)


def _beta(scene: Scene) -> None:
    with_beta = [(i, r) for i, r in enumerate(scene.racers) if sweep.beta_name(r.make()) is not None]
    if not with_beta:
        st.info("None of the racers has a momentum parameter beta; add Momentum, Adam or RMSProp to see this map.")
        return
    labels = {i: r.label() for i, r in with_beta}
    index = st.selectbox("optimizer", list(labels), format_func=labels.get, key="compare_beta_racer")
    bm = _with_progress(cached_beta_map, scene, index)
    st.altair_chart(beta_chart(bm), width="stretch")
    if bm.best is not None:
        b, r = bm.best
        st.caption(f"Best: lr = {bm.rates[r]:.3g}, {bm.beta} = {bm.betas[b]:.3g} (loss above the minimum "
                   f"{bm.gap[b, r]:.3g}). Black cells diverged.")


def beta_chart(bm: sweep.BetaMap) -> alt.LayerChart:
    """Return the (lr, beta) heat map of log10 loss above the minimum, diverged cells black, the best ringed."""
    rows = []
    for b, beta in enumerate(bm.betas):
        for r, rate in enumerate(bm.rates):
            g = bm.gap[b, r]
            rows.append({"lr": f"{rate:.2g}", "beta": f"{beta:.3g}", "r": r, "b": b,
                         "log10 loss": float(math.log10(g)) if math.isfinite(g) else None,
                         "diverged": not math.isfinite(g)})
    lr_order = [f"{v:.2g}" for v in bm.rates]
    beta_order = [f"{v:.3g}" for v in bm.betas][::-1]
    x = alt.X("lr:O", sort=lr_order, title="learning rate", axis=alt.Axis(labelAngle=-60))
    y = alt.Y("beta:O", sort=beta_order, title=bm.beta)
    base = alt.Chart(alt.Data(values=rows))
    cells = base.mark_rect().encode(
        x, y, color=alt.Color("log10 loss:Q", scale=alt.Scale(scheme="viridis"),
                              title="log10 loss above min"),
        tooltip=["lr:N", "beta:N", alt.Tooltip("log10 loss:Q", format=".2f")],
    ).transform_filter("datum.diverged == false")
    dead = base.mark_rect(color=DIVERGED_COLOR).encode(x, y).transform_filter("datum.diverged == true")
    layers = cells + dead
    if bm.best is not None:
        b, r = bm.best
        best = [{"lr": f"{bm.rates[r]:.2g}", "beta": f"{bm.betas[b]:.3g}"}]
        layers = layers + alt.Chart(alt.Data(values=best)).mark_point(shape="square", size=120, color="white",
                                                                      strokeWidth=2).encode(x, y)
    return layers.properties(height=420, title=f"{bm.label}: loss after the race, by (lr, {bm.beta})")


def _maps(scene: Scene, surf) -> None:
    _overlay_control(scene)
    n = st.segmented_control("starts per side", MAP_SIZES, default=128, key="compare_map_n") or 128
    if engine.compiled_surface(surf) is None:
        # no compiled engine (a mean over data, or numba missing): NumPy would take minutes for a large grid
        n = min(int(n), MAP_SIZES[0])
        st.caption(f"This surface runs without the compiled engine, so its maps are {n} x {n} starts.")
    maps = _with_progress(cached_outcome_maps, scene, int(n))
    colors = [color_of(r, i) for i, r in enumerate(scene.racers)]
    fig = outcome_figure(maps, surf, colors)
    png = plots.figure_png(fig)  # drawn: the constrained layout has placed the axes
    # what a click is snapped to: each map's starts (the callback runs before the maps exist again)
    st.session_state[_GRIDS_KEY] = [_Grid(m.xs, m.ys) for m in maps]
    maps_view(png, map_boxes(fig, maps), key=_MAPS_KEY, on_click=_take_maps_click)
    rows = []
    for m in maps:
        total = m.outcome.size
        row = {"optimizer": m.label}
        for k in range(len(surf.minima)):
            row[f"minimum {k + 1}"] = f"{(m.outcome == k).sum() / total:.0%}"
        row["elsewhere"] = f"{(m.outcome == sweep.ELSEWHERE).sum() / total:.0%}"
        row["diverged"] = f"{(m.outcome == sweep.DIVERGED).sum() / total:.0%}"
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(
        f"Each pixel is a start: coloured by the declared minimum its run ends within {tolerance(scene, surf):.3g} "
        "of (the star of the same colour), grey where it stopped elsewhere (darker for a higher final loss), black "
        "where it diverged; paler where it "
        f"took more of the {scene.steps} steps to get there. Without gradient noise."
    )


def map_boxes(fig: Figure, maps: list[sweep.OutcomeMap]) -> list[dict]:
    """Return each map's axes in ``fig`` (already drawn) as {box, extent, n}, in the order of ``maps``.

    ``box`` is [x0, y0, x1, y1] in fractions of the figure from its bottom left,
    ``extent`` [x0, x1, y0, y1] the data the axes show, ``n`` [columns, rows]
    of the map's starts. Call it after the figure is drawn (``plots.figure_png``):
    with the constrained layout the axes take their place only then.
    """
    boxes = []
    for ax, m in zip(fig.axes, maps):
        pos = ax.get_position()
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        boxes.append({"box": [float(pos.x0), float(pos.y0), float(pos.x1), float(pos.y1)],
                      "extent": [float(x0), float(x1), float(y0), float(y1)], "n": [len(m.xs), len(m.ys)]})
    return boxes


_MAPS_KEY = "compare_maps"
_GRIDS_KEY = "_compare_map_grids"


class _Grid(NamedTuple):
    """The starts of one outcome map: cell centres along x and along y."""

    xs: np.ndarray
    ys: np.ndarray


def _take_maps_click() -> None:
    """Move the race's start to the clicked map's start (the maps' callback, before the page is drawn again).

    The page's ``_take_map_click`` then moves the start widgets, as after a click on the race's own map.
    """
    click = clicked(_MAPS_KEY)
    start = _start_of(st.session_state.get(_GRIDS_KEY) or [], click) if click is not None else None
    if start is not None:
        st.session_state["_pending_start"] = start


def _start_of(maps: list[_Grid] | list[sweep.OutcomeMap], click: tuple[int, float, float]) -> tuple[float, float] | None:
    """Return the start (a cell centre of the clicked map) nearest to the click, None for a map that is not there.

    ``maps`` are the maps' starts: their ``xs`` and ``ys`` (a ``_Grid`` each, or the maps themselves).
    """
    k, x, y = click
    if not 0 <= k < len(maps) or not (math.isfinite(x) and math.isfinite(y)):
        return None
    m = maps[k]
    return float(m.xs[np.argmin(np.abs(m.xs - x))]), float(m.ys[np.argmin(np.abs(m.ys - y))])


def _overlay_control(scene: Scene) -> None:
    """Draw the choice of the racer whose outcome map lies under the race (``Scene.overlay``), or none."""
    labels = [r.label() for r in scene.racers]
    if st.session_state.get(OVERLAY_KEY) not in range(len(labels)):
        st.session_state[OVERLAY_KEY] = None  # an optimizer was removed: its map went with it
    st.segmented_control(
        "Show under the race", list(range(len(labels))), format_func=lambda i: labels[i], key=OVERLAY_KEY,
        help="draws this optimizer's outcome map on the race's map instead of the surface's colours; "
             "click a pixel there to race from that start. Click the chosen one again for the surface.")


def _outcome_key(minima) -> list:
    """Return the legend's entries for the outcome maps: one star per minimum, elsewhere, diverged, paler."""
    entries = [Line2D([], [], marker="*", markersize=11, color=basin_color(i), markeredgecolor="black",
                      markeredgewidth=0.6, linestyle="none", label=f"minimum {i + 1} ({mx:.3g}, {my:.3g})")
               for i, (mx, my) in enumerate(minima)]
    entries.append(Patch(facecolor=ELSEWHERE_COLOR, edgecolor="0.5", label="stopped elsewhere (darker: higher loss)"))
    entries.append(Patch(facecolor=DIVERGED_COLOR, label="diverged"))
    if minima:
        pale = [c * (1 - MAX_FADE) + MAX_FADE for c in to_rgb(basin_color(0))]
        entries.append(Patch(facecolor=pale, edgecolor=basin_color(0), label="paler: more steps to get there"))
    return entries


def outcome_figure(maps: list[sweep.OutcomeMap], surf, racer_colors: list[str]) -> Figure:
    """Return the figure of the outcome maps side by side, minima starred in their basins' colours."""
    k = len(maps)
    cols = min(k, 4)
    rows = math.ceil(k / cols)
    fig = Figure(figsize=(3.4 * cols, 3.5 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    minima = list(surf.minima)
    for ax, m, rc in zip(axes.ravel(), maps, racer_colors):
        dx = (m.xs[1] - m.xs[0]) / 2
        dy = (m.ys[1] - m.ys[0]) / 2
        ax.imshow(outcome_rgb(m, len(minima)), origin="lower",
                  extent=(m.xs[0] - dx, m.xs[-1] + dx, m.ys[0] - dy, m.ys[-1] + dy),
                  interpolation="nearest", aspect="auto")
        for i, (mx, my) in enumerate(minima):
            # a white halo, then the star in its basin's colour with a dark rim: seen on its own colour
            ax.plot([mx], [my], marker="*", markersize=19, color="white", linestyle="none")
            ax.plot([mx], [my], marker="*", markersize=14, color=basin_color(i),
                    markeredgecolor="black", markeredgewidth=0.8, linestyle="none")
        ax.set_title(m.label, fontsize=11, color=rc)
        ax.set_xlim(m.xs[0] - dx, m.xs[-1] + dx)
        ax.set_ylim(m.ys[0] - dy, m.ys[-1] + dy)
        ax.tick_params(labelsize=8)
        ax.set_xlabel(surf.axis_labels[0], fontsize=9, labelpad=1)
        ax.set_ylabel(surf.axis_labels[1], fontsize=9, labelpad=1)
    fig.legend(handles=_outcome_key(minima), loc="outside lower center", ncols=min(len(minima) + 3, 4), fontsize=10,
        frameon=False, handlelength=1.2, columnspacing=1.2)
    for ax in axes.ravel()[k:]:
        ax.set_visible(False)
    return fig
