"""The surfaces panel's instruments: the insides switch, each rule with its values, optimal settings, the phase diagram.

Called from ``app/page_surfaces.py`` in a few lines. What is pure (which
racers have a prediction, what a button or a click on the phase diagram
writes into the widgets, the rule with numbers in it) is a plain function of
values, so it is tested without a browser; the Streamlit parts only draw.

The rules are shown at a step chosen with a slider here: the animator's
current step lives in the browser and reaches the server only with a
rerun, which would restart nothing but cost a round trip per frame.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any

import altair as alt
import numpy as np
import streamlit as st

from surfaces.curvature import (
    REGIONS,
    CurvatureError,
    is_quadratic,
    optimal_settings,
    phase_diagram,
    quadratic_eigenvalues,
)
from surfaces.formula import number_latex

from .controls import racer_key
from .insides import linear_kind
from .race import Race
from .racer import Racer
from .scene import Scene, load_surface

PREFIX = "r"  # the surfaces panel's racer widgets
PHASE_KEY = "view_phase"  # "view_": a chart's state, never re-saved as a widget value (app/state.py)


# -- the insides switch -------------------------------------------------------------

def insides_toggle() -> None:
    """Draw the sidebar switch that records and draws every single-start racer's insides (the Scene's flag)."""
    st.sidebar.toggle("Show the optimizers' insides", key="insides",
                      help="arrows for the gradient, the step and each optimizer's own vectors, its learning rate "
                           "per axis and the surface's curvature at every step (one start, one noise seed)")


def ask_insides() -> None:
    """Turn the insides on: the animator's switch asked for them (a widget callback, run before the rerun)."""
    st.session_state["insides"] = True


# -- pure parts ------------------------------------------------------------------------

def _vec(v) -> str:
    """Return a 2-vector as LaTeX: (a,\\ b), each number to 4 significant digits."""
    a, b = (float(x) for x in v)
    return rf"\left({number_latex(float(f'{a:.4g}'))},\ {number_latex(float(f'{b:.4g}'))}\right)"


def rule_with_values(racer: Racer, internals, t: int) -> list[str]:
    """Return LaTeX lines: ``racer``'s rule at step ``t`` (1..steps) with the recorded values put in.

    Every number comes from the run's record (``surfaces.trace(record=True)``):
    the gradient, the state before and after, the step. Nothing is recomputed.
    """
    vals = racer.values()
    g = internals.grad[t - 1]
    before, after = internals.path[t - 1], internals.path[t]
    lr = float(internals.lr[t - 1])
    eta = number_latex(float(f"{lr:.4g}"))
    st_ = internals.states
    d = internals.derived
    lines = [rf"t = {t}:\quad g_t = \nabla f(\theta_{{t-1}}) = {_vec(g)}"]
    name = racer.optimizer
    if name in ("momentum", "heavy_ball"):
        b = number_latex(vals["beta"])
        c = rf"(1 - {b})\," if name == "momentum" else ""
        lines.append(rf"v_t = {b}\,{_vec(st_['v'][t - 1])} + {c}{_vec(g)} = {_vec(st_['v'][t])}")
    elif name in ("rmsprop", "adagrad"):
        lines.append(rf"s_t = {_vec(st_['s'][t])},\quad \frac{{\eta}}{{\sqrt{{s_t}} + \epsilon}} = "
                     rf"{_vec(d['effective_lr'][t])}")
    elif name in ("adam", "adamw"):
        b1, b2 = number_latex(vals["beta1"]), number_latex(vals["beta2"])
        lines.append(rf"m_t = {b1}\,{_vec(st_['m'][t - 1])} + (1 - {b1})\,{_vec(g)} = {_vec(st_['m'][t])}")
        lines.append(rf"s_t = {_vec(st_['s'][t])},\quad \hat m_t = \frac{{m_t}}{{1 - {b1}^{{{t}}}}} = "
                     rf"{_vec(d['m_hat'][t])},\quad \hat s_t = \frac{{s_t}}{{1 - {b2}^{{{t}}}}} = {_vec(d['s_hat'][t])}")
        lines.append(rf"\frac{{\eta}}{{\sqrt{{\hat s_t}} + \epsilon}} = {_vec(d['effective_lr'][t])}")
    elif name == "lion":
        lines.append(rf"m_t = {_vec(st_['m'][t])}")
    lines.append(rf"\theta_t = \theta_{{t-1}} - \Delta_t = {_vec(before)} - {_vec(internals.step[t - 1])} = "
                 rf"{_vec(after)}\quad(\eta = {eta})")
    return lines


def optimal_values(racer: Racer, eigenvalues) -> dict[str, float]:
    """Return the hyperparameter values that make ``racer`` fastest on a quadratic with these eigenvalues.

    Gradient descent: ``lr = 2 / (lambda_min + lambda_max)``. Momentum (either
    form): Polyak's ``beta = ((sqrt k - 1) / (sqrt k + 1))^2`` and its ``lr``
    in the racer's own form. Raises CurvatureError where there is none.
    """
    kind = linear_kind(racer.optimizer)
    if kind is None:
        raise CurvatureError(f"{racer.label()} is not a linear iteration, so no single best setting exists")
    best = optimal_settings(eigenvalues)
    if kind[0] == "sgd":
        return {"lr": best.gd_lr}
    return {"lr": best.momentum_lr(kind[1]), "beta": best.momentum_beta}


def set_racer_values(state: MutableMapping[str, Any], racer_id: int, values: dict[str, float]) -> None:
    """Write hyperparameter values into racer ``racer_id``'s widgets (rounded to 4 significant digits, as typed)."""
    for name, v in values.items():
        state[racer_key(racer_id, name, PREFIX)] = float(f"{v:.4g}")


def apply_phase_pick(state: MutableMapping[str, Any], racer_id: int, selection: Any) -> bool:
    """Set racer ``racer_id``'s lr and beta from a click on the phase diagram; return False when nothing was picked.

    ``selection`` is the chart's selection state (``{"pick": [{"lr": ..., "beta": ...}]}``).
    """
    picked = (selection or {}).get("pick") or []
    if not picked:
        return False
    point = picked[0]
    if "lr" not in point or "beta" not in point:
        return False
    set_racer_values(state, racer_id, {"lr": float(point["lr"]), "beta": float(point["beta"])})
    return True


def phase_grid(eigenvalues, form: str, nesterov: bool = False, n_lr: int = 48, n_beta: int = 40):
    """Return the PhaseDiagram over a grid that spans converging, swinging and diverging settings of this quadratic."""
    lam_max = float(np.max(np.abs(eigenvalues)))
    betas = np.round(np.linspace(0.0, 0.975, n_beta), 4)
    # the divergence edge runs from lr = 2 / lambda_max (beta = 0) up to 2 (1 + beta) / ((1 - beta) lambda_max) (ema)
    top = (80.0 if form == "ema" else 4.0) / lam_max
    lrs = np.array([float(f"{v:.4g}") for v in np.geomspace(0.01 / lam_max, top, n_lr)])
    return phase_diagram(eigenvalues, lrs, betas, form, nesterov)


# -- drawing ---------------------------------------------------------------------------

def _linear_racers(scene: Scene) -> list[tuple[int, Racer]]:
    """Return (widget id, racer) of each gradient-descent or momentum racer, in the widgets' order."""
    ids = st.session_state.get(f"{PREFIX}_ids", list(range(len(scene.racers))))
    return [(i, r) for i, r in zip(ids, scene.racers) if linear_kind(r.optimizer)]


def instruments(scene: Scene, race_with_insides: Race) -> None:
    """Draw the rules with values, and on a quadratic the optimal settings and the phase diagram."""
    _values_section(scene, race_with_insides)
    surf = load_surface(scene.surface, scene.formula)
    if not is_quadratic(surf):
        st.caption("Predicted rates, optimal settings and the phase diagram need a quadratic surface "
                   "(bowl, ravine, Booth, Matyas or a typed quadratic), whose curvature is the same everywhere.")
        return
    eig = quadratic_eigenvalues(surf)
    _optimal_section(scene, eig)
    _phase_section(scene, eig)


def _values_section(scene: Scene, race: Race) -> None:
    st.markdown("##### Each rule with its numbers")
    recorded = [(r, run) for r, run in zip(scene.racers, race.runs) if run.internals is not None]
    if not recorded:
        st.caption("The numbers need one start and one noise seed per optimizer.")
        return
    ss = st.session_state
    if not 1 <= ss.get("rules_step", 0) <= scene.steps:  # a new scene with fewer steps, or the first visit
        ss["rules_step"] = scene.steps
    t = st.slider("at step", 1, scene.steps, key="rules_step",
                  help="the animator's step stays in the browser; choose the step to show here")
    for racer, run in recorded:
        last = run.internals.diverged_at - 1 if run.internals.diverged_at is not None else scene.steps
        st.markdown(f"**{racer.label()}**")
        if t > last:
            st.caption(f"diverged at step {run.internals.diverged_at}; showing step {last}")
        if last < 1:
            continue
        for line in rule_with_values(racer, run.internals, min(t, last)):
            st.latex(line)


def _set_optimal(racer_id: int, values: dict[str, float]) -> None:
    set_racer_values(st.session_state, racer_id, values)


def _optimal_section(scene: Scene, eig) -> None:
    st.markdown("##### Optimal settings on this quadratic")
    try:
        best = optimal_settings(eig)
    except CurvatureError as e:
        st.caption(str(e))
        return
    st.caption(f"Curvatures {eig[0]:.4g} and {eig[1]:.4g}, condition number k = {best.condition:.4g}. "
               f"Gradient descent at lr = 2 / (λmin + λmax) = {best.gd_lr:.4g} shrinks the error by "
               f"{best.gd_rate:.4g} per step; Polyak's momentum, beta = ((√k − 1)/(√k + 1))² = "
               f"{best.momentum_beta:.4g}, by {best.momentum_rate:.4g}.")
    racers = _linear_racers(scene)
    if not racers:
        st.caption("Add a gradient-descent or momentum optimizer to try them.")
    for i, racer in racers:
        values = optimal_values(racer, eig)
        text = ", ".join(f"{k} = {v:.4g}" for k, v in values.items())
        st.button(f"{racer.label()}: optimal {text}", key=f"act_optimal_{i}", on_click=_set_optimal,
                  args=(i, values))


def _on_phase_pick(racer_id: int) -> None:
    event = st.session_state.get(PHASE_KEY)
    apply_phase_pick(st.session_state, racer_id, getattr(event, "selection", None) or (event or {}).get("selection"))


def _phase_section(scene: Scene, eig) -> None:
    racers = [(i, r) for i, r in _linear_racers(scene) if linear_kind(r.optimizer)[0] == "momentum"]
    st.markdown("##### Momentum's phase diagram")
    if not racers:
        st.caption("Add a momentum optimizer to see where its (lr, beta) converge, swing or diverge.")
        return
    names = {i: r.label() for i, r in racers}
    rid = st.selectbox("racer", list(names), format_func=names.get, key="phase_racer") if len(racers) > 1 else racers[0][0]
    racer = dict(racers)[rid]
    vals = racer.values()
    form = linear_kind(racer.optimizer)[1]
    pd = phase_grid(eig, form, bool(vals.get("nesterov")))
    st.altair_chart(phase_chart(pd, vals["lr"], vals["beta"]), key=PHASE_KEY, on_select=lambda: _on_phase_pick(rid),
                    selection_mode="pick", width="stretch")
    st.caption(f"Colour: the predicted rate (the error shrinks by this factor per step; dark red: 1 or more, "
               "diverges; white dots: the error swings while it shrinks) of "
               f"{racer.label()} in the {'moving-average' if form == 'ema' else 'heavy-ball'} form. "
               "Click a cell to race with those settings; the ring is the racer now.")


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    """Return the len(v)+1 cell edges around grid values ``v`` (midpoints, geometric ones on a log axis)."""
    w = np.log(v) if log else v
    mid = (w[1:] + w[:-1]) / 2
    e = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(e) if log else e


def phase_chart(pd, lr_now: float, beta_now: float) -> alt.LayerChart:
    """Return the Altair chart of a PhaseDiagram: cells coloured by rate, regions named, the racer's settings ringed."""
    le, be = _edges(pd.lrs, True), _edges(pd.betas, False)
    rows = []
    for bi, b in enumerate(pd.betas):
        for li, lr in enumerate(pd.lrs):
            rows.append({"lr": float(lr), "beta": float(b), "lr0": float(le[li]), "lr1": float(le[li + 1]),
                         "b0": float(be[bi]), "b1": float(be[bi + 1]), "rate": float(min(pd.rate[bi, li], 1.0)),
                         "region": REGIONS[int(pd.region[bi, li])]})
    pick = alt.selection_point(name="pick", fields=["lr", "beta"], on="click", clear=False)
    x_scale = alt.Scale(type="log", domain=[float(le[0]), float(le[-1])], nice=False)
    y_scale = alt.Scale(domain=[float(be[0]), float(be[-1])], nice=False)
    cells = alt.Chart(alt.Data(values=rows)).mark_rect().encode(
        x=alt.X("lr0:Q", scale=x_scale, title="lr"), x2="lr1:Q",
        y=alt.Y("b0:Q", scale=y_scale, title="beta"), y2="b1:Q",
        # rates that matter crowd just under 1 (0.98 against 0.999 is 20 times slower): a power scale spreads them
        color=alt.condition(alt.datum.rate >= 1, alt.value("#5c1f1f"),
                            alt.Color("rate:Q", scale=alt.Scale(scheme="viridis", reverse=True, type="pow", exponent=8,
                                                                domain=[float(min(pd.rate.min(), 0.99)), 1.0]),
                                      title="rate per step")),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.9)),
        tooltip=[alt.Tooltip("lr:Q", format=".4g"), alt.Tooltip("beta:Q", format=".3f"),
                 alt.Tooltip("rate:Q", format=".4f"), "region:N"],
    ).add_params(pick)
    swings = alt.Chart(alt.Data(values=[r for r in rows if r["region"] == REGIONS[1]])).mark_point(
        shape="circle", size=5, filled=True, color="white", opacity=0.7).encode(
        x=alt.X("lr:Q", scale=x_scale), y=alt.Y("beta:Q", scale=y_scale))
    labels = []
    for code, name in enumerate(REGIONS):
        where = np.argwhere(pd.region == code)
        if len(where):
            # the region's middle cell in reading order, so a label sits inside its region
            bi, li = where[len(where) // 2]
            labels.append({"lr": float(pd.lrs[li]), "beta": float(pd.betas[bi]), "text": name})
    text = alt.Chart(alt.Data(values=labels)).mark_text(fontWeight="bold", fontSize=13, color="white").encode(
        x=alt.X("lr:Q", scale=x_scale), y=alt.Y("beta:Q", scale=y_scale), text="text:N")
    ring = alt.Chart(alt.Data(values=[{"lr": float(lr_now), "beta": float(beta_now)}])).mark_point(
        shape="circle", size=260, color="#ff2d55", strokeWidth=3, filled=False).encode(
        x=alt.X("lr:Q", scale=x_scale), y=alt.Y("beta:Q", scale=y_scale))
    return alt.layer(cells, swings, text, ring).properties(height=380)


def race_with_insides(scene: Scene, cached_race) -> Race:
    """Return the scene's race with insides recorded, through the page's own cache."""
    return cached_race(replace(scene, insides=True))
