"""The MLP panel's learning-rate sweep: every optimizer of the experiment trained alone at many rates and seeds.

The plan, the trainings and the aggregation are ``surfaces.network.sweep``'s;
where the trainings run is ``app.sweep_engine``'s. This module draws the
controls, the progress (a fragment that refreshes itself while the sweep
runs, so the rest of the page stays as it is) and the curves.
"""

from __future__ import annotations

import math
import os
import re

import altair as alt
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from surfaces.network import sweep
from surfaces.network.datasets import Dataset

from .controls import overlap_note
from .experiment import CSV, Experiment
from .page_compare import set_best_rates
from .racer import PALETTE
from .sweep_engine import (
    FAILED,
    MAX_WORKERS,
    RUNNING,
    SCHEDULER_ENV,
    STOPPED,
    SweepEngine,
    SweepFailed,
    SweepRun,
)
from .text import as_text

RACER_PREFIX = "m"  # the MLP panel's racer widgets (app/page_mlp.RACER_PREFIX)
LIVE_EVERY = 1.5  # seconds between two looks of the progress fragment at a running sweep
#: (History name, chart title, log scale)
PANELS = (("train_loss", "final training loss", True), ("test_loss", "final test loss", True),
          ("train_acc", "final training accuracy", False), ("test_acc", "final test accuracy", False))


def _session_alive(session: str) -> bool:
    """Return False once Streamlit no longer has ``session`` connected."""
    return not Runtime.exists() or Runtime.instance().is_active_session(session)


def _session() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


@st.cache_resource(show_spinner=False)
def sweep_engine() -> SweepEngine:
    """Return the server's one sweep engine (its executor is made when the first sweep starts)."""
    return SweepEngine(session_alive=_session_alive)


@st.cache_resource(max_entries=8, show_spinner=False)
def _data(dataset: str, params: tuple, csv_sha: str, csv_label: str, seed: int, _csv: bytes | None) -> Dataset:
    """Return the experiment's data set, built once per data set (an uploaded file by its hash, label and seed)."""
    return Experiment(dataset=dataset, dataset_params=params, csv_sha=csv_sha, csv_label=csv_label,
                      seed=seed).load_data(_csv)


def where_it_runs() -> str:
    """Return in words where a sweep's trainings run on this server."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    return f"the Dask cluster at {address}" if address else f"this server's {MAX_WORKERS} training workers"


def _settings() -> tuple[int, int, float]:
    ss = st.session_state
    ss.setdefault("mlp_sweep_rates", sweep.N_RATES)
    ss.setdefault("mlp_sweep_seeds", sweep.N_SEEDS)
    ss.setdefault("mlp_sweep_decades", sweep.DECADES)
    c = st.columns(3)
    lo, hi = sweep.LIMITS["rates"]
    c[0].number_input("Learning rates per optimizer", min_value=lo, max_value=hi, step=1, key="mlp_sweep_rates")
    lo, hi = sweep.LIMITS["seeds"]
    c[1].number_input("Seeds per rate", min_value=lo, max_value=hi, step=1, key="mlp_sweep_seeds",
                      help="each seed gives other initial weights and another order of the mini-batches")
    lo, hi = sweep.LIMITS["decades"]
    c[2].number_input("Decades the rates span", min_value=lo, max_value=hi, step=0.5, format="%g",
                      key="mlp_sweep_decades",
                      help="the rates are log-spaced around each optimizer's own lr (shifted to stay within "
                           "lr's declared range); 4 decades around 0.01 is 0.0001 to 1")
    return int(ss["mlp_sweep_rates"]), int(ss["mlp_sweep_seeds"]), float(ss["mlp_sweep_decades"])


def _plan(exp: Experiment | None, n_rates: int, n_seeds: int, decades: float, budget: float):
    """Return (plan, data, estimated seconds) of the sweep the controls describe, or None after st.error."""
    if exp is None:
        return None
    try:
        csv = st.session_state.get("mlp_csv_bytes") if exp.dataset == CSV else None
        data = _data(exp.dataset, exp.dataset_params, exp.csv_sha, exp.csv_label, exp.seed, csv)
        p = sweep.plan(exp, n_rates, n_seeds, decades)
        seconds = sweep.check_budget(p, data, budget)
    except ValueError as e:  # the project's errors say what to change; a too-big sweep names the settings
        st.error(as_text(e), icon="⚠️")
        return None
    return p, data, seconds


def render(exp: Experiment | None) -> None:
    """Draw the sweep section for the page's checked experiment (None: the page already said what is wrong)."""
    eng, session = sweep_engine(), _session()
    run = eng.current(session)
    with st.expander("Learning-rate sensitivity: each optimizer trained alone at many rates and seeds",
                     expanded=run is not None):
        st.caption("A comparison at one learning rate cannot say which optimizer is best: each must run at its own "
                   "best rate, and how wide the band of good rates is matters as much. Each point below is an "
                   "independent training of this experiment with that optimizer alone, at that rate and seed.")
        n_rates, n_seeds, decades = _settings()
        planned = _plan(exp, n_rates, n_seeds, decades, eng.budget)
        if planned is not None:
            p, _, seconds = planned
            st.caption(f"{len(p)} trainings ({len(p.labels)} optimizer{'s' if len(p.labels) != 1 else ''} x "
                       f"{n_rates} rates x {n_seeds} seeds, {exp.epochs} epochs each): "
                       + (f"about {seconds:,.0f} s" if seconds >= 1 else "under a second")
                       + f" of computing, on {where_it_runs()}.")
        c = st.columns([2, 2, 3])
        if c[0].button("Run the sweep", type="primary", disabled=planned is None, key="act_mlp_sweep_run"):
            try:
                run = eng.start(session, planned[0], planned[1])
            except SweepFailed as e:
                st.error(f"The sweep cannot run: {as_text(e)}", icon="⚠️")
                return
        # drawn after a start is handled, so it is enabled from the click that starts a sweep
        if c[1].button("Stop the sweep", key="act_mlp_sweep_stop", disabled=run is None or run.done):
            eng.stop(session)
        if run is None:
            return
        if run.done:
            _show(run, exp)
        else:
            _live(session)


@st.fragment(run_every=LIVE_EVERY)
def _live(session: str) -> None:
    """Show a running sweep's progress and curves so far; once it has ended, redraw the whole page."""
    run = sweep_engine().current(session)
    if run is None:
        return
    if run.done:
        st.rerun()  # the ended sweep is drawn once, by the page, without this timer
    _progress(run)
    _curves(run, PANELS[:1])  # one chart while it runs: a class of sweeps redraws these every LIVE_EVERY s


def progress_text(run: SweepRun) -> tuple[float, str]:
    """Return the progress bar's fraction and its words, e.g. ``12 of 84 trainings done``."""
    n, k = len(run.plan), run.result.done_count
    if run.state == RUNNING:
        if run.stopping:
            return k / n, f"stopping: {k} of {n} trainings done..."
        return k / n, f"{k} of {n} trainings done, on {run.executor_name}"
    if run.state == STOPPED:
        return k / n, f"stopped: {k} of {n} trainings done"
    if run.state == FAILED:
        return k / n, f"failed after {k} of {n} trainings"
    return 1.0, f"{n} of {n} trainings done in {run.ended - run.started:.0f} s, on {run.executor_name}"


def _progress(run: SweepRun) -> None:
    frac, text = progress_text(run)
    st.progress(min(1.0, frac), text=text)


def _colors(p: sweep.Plan) -> list[str]:
    return [c or PALETTE[i % len(PALETTE)] for i, c in enumerate(p.colors)]


def sweep_label(label: str) -> str:
    """Return a racer's label without its ``lr=...`` (the sweep varies it): ``Adam (lr=0.01)`` -> ``Adam``."""
    text = re.sub(r"lr=[^,)]*(, )?", "", label)
    return re.sub(r"\s*\(\s*\)", "", text.replace(", )", ")")).strip()


def _names(p: sweep.Plan) -> list[str]:
    """Return the optimizers' labels without their lr, made unique (two racers may share a label)."""
    out: list[str] = []
    for lab in map(sweep_label, p.labels):
        out.append(lab if lab not in out else f"{lab} #{sum(o.startswith(lab) for o in out) + 1}")
    return out


def _curves(run: SweepRun, panels=PANELS) -> None:
    res = run.result
    if res.done_count == 0:
        return
    cols = st.columns(2)
    for k, (metric, title, log) in enumerate(panels):
        spec = sweep_chart(res, metric, title, log)
        if spec is not None:
            cols[k % 2].altair_chart(spec, width="stretch")


def sweep_chart(res: sweep.Result, metric: str, title: str, log: bool) -> alt.LayerChart | None:
    """Return the chart of ``metric`` against the learning rate: per optimizer the mean over seeds, the
    min-max band over seeds, and its best rate (lowest mean final training loss) as a diamond; None when empty.

    The look is the surfaces page's sensitivity chart (``page_compare.sensitivity_chart``): log rate axis,
    a pale band, a line with points, diamonds ringed in black, the legend below.
    """
    p = res.plan
    names, colors = _names(p), _colors(p)
    rows, best = [], []
    for i, name in enumerate(names):
        mean, low, high = res.summary(i, metric)
        for k, rate in enumerate(p.rates[i]):
            if math.isfinite(mean[k]) and (not log or low[k] > 0):
                rows.append({"optimizer": name, "lr": rate, "value": float(mean[k]), "low": float(low[k]),
                             "high": float(high[k])})
        b = res.best(i)
        if b is not None and math.isfinite(mean[b]) and (not log or low[b] > 0):
            best.append({"optimizer": name, "lr": p.rates[i][b], "value": float(mean[b]),
                         "note": f"best rate {p.rates[i][b]:.3g}"})
    if not rows:
        return None
    scale = alt.Scale(domain=names, range=colors)
    x = alt.X("lr:Q", scale=alt.Scale(type="log"), title="learning rate", axis=alt.Axis(format="~g"))
    yscale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    y = alt.Y("value:Q", scale=yscale, title=title, axis=_decades([r["low"] for r in rows]
                                                                  + [r["high"] for r in rows]) if log else alt.Axis())
    base = alt.Chart(alt.Data(values=rows))
    band = base.mark_area(opacity=0.18).encode(x, alt.Y("low:Q", scale=yscale), y2="high:Q",
                                               color=alt.Color("optimizer:N", scale=scale))
    line = base.mark_line(point=True).encode(
        x, y, color=alt.Color("optimizer:N", scale=scale),
        tooltip=["optimizer:N", alt.Tooltip("lr:Q", format=".3g"), alt.Tooltip("value:Q", title=title, format=".4g"),
                 alt.Tooltip("low:Q", title="lowest seed", format=".4g"),
                 alt.Tooltip("high:Q", title="highest seed", format=".4g")])
    marks = alt.Chart(alt.Data(values=best)).mark_point(shape="diamond", size=180, filled=True, stroke="black").encode(
        x, y, color=alt.Color("optimizer:N", scale=scale, legend=alt.Legend(orient="bottom", title=None, columns=4, labelLimit=220)),
        tooltip=["optimizer:N", "note:N"])
    # the legend's symbols would otherwise take the faint band's opacity
    return (band + line + marks).properties(height=260).configure_legend(symbolOpacity=1.0)


def _decades(values: list[float]) -> alt.Axis:
    """Return a log axis ticked at the powers of ten the values span (0.01, 0.1, 1), not vega's 2-5 steps."""
    lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    return alt.Axis(values=[10.0**k for k in range(lo, hi + 1)], format="~g")


def result_rows(res: sweep.Result) -> list[dict]:
    """Return one table row per optimizer: its best rate, the mean final values there, the spread, divergence."""
    p = res.plan
    rows = []
    for i, name in enumerate(_names(p)):
        b = res.best(i)
        div = res.diverged(i)
        diverged = [p.rates[i][k] for k in range(len(div)) if div[k]]
        row = {"optimizer": name, "best lr": None, "train loss": None, "test loss": None, "train accuracy": None,
               "test accuracy": None, "train loss spread": None,
               "diverged at": f"lr {', '.join(f'{r:.3g}' for r in diverged)}" if diverged else "no rate"}
        if b is not None:
            row["best lr"] = float(f"{p.rates[i][b]:.4g}")
            for metric, col in (("train_loss", "train loss"), ("test_loss", "test loss"),
                                ("train_acc", "train accuracy"), ("test_acc", "test accuracy")):
                row[col] = float(res.summary(i, metric)[0][b])
            _, low, high = res.summary(i, "train_loss")
            row["train loss spread"] = float(high[b] - low[b])
        rows.append(row)
    return rows


def _show(run: SweepRun, exp: Experiment | None) -> None:
    """Draw an ended sweep: its progress line, the curves, the table, and the button to train at the best rates."""
    _progress(run)
    if run.error:
        st.error(f"The sweep could not finish: {as_text(run.error)}", icon="⚠️")
    _curves(run)
    res = run.result
    if res.done_count == 0:
        return
    st.dataframe(result_rows(res), hide_index=True, width="stretch", column_config={
        "best lr": st.column_config.NumberColumn(format="%.4g"),
        "train loss": st.column_config.NumberColumn(format="%.3g"),
        "test loss": st.column_config.NumberColumn(format="%.3g"),
        "train accuracy": st.column_config.NumberColumn(format="%.3f"),
        "test accuracy": st.column_config.NumberColumn(format="%.3f"),
        "train loss spread": st.column_config.NumberColumn(
            format="%.2g", help="highest minus lowest seed's final training loss at the best rate"),
    })
    p = res.plan
    st.caption(f"Lines: the mean over the {len(p.seeds)} seeds ({', '.join(map(str, p.seeds))}) of each final value; "
               "the pale band spans the lowest and the highest seed. A rate at which any seed diverged is left out. "
               "Diamonds: each optimizer's best rate, the one with the lowest mean final training loss.")
    note = overlap_note(p.experiment.racers)
    if note:  # SGD and moving-average momentum at the same rates: their curves lie on top of each other
        st.info(note, icon=":material/info:")
    best = [res.best_rate(i) for i in range(len(p.labels))]
    edge = [name for i, name in enumerate(_names(p)) if res.best(i) in (0, len(p.rates[i]) - 1) and len(p.rates[i]) > 2]
    if edge:
        who = edge[0] if len(edge) == 1 else f"{', '.join(edge[:-1])} and {edge[-1]}"
        st.caption(f"The best rate of {who} is at an end of the grid: a better one may lie beyond it. Span more "
                   "decades, or set the optimizer's lr nearer that end, and sweep again.")
    same = exp is not None and [r.optimizer for r in exp.racers] == [r.optimizer for r in p.experiment.racers]
    st.button("Train each at its best rate", key="act_mlp_sweep_best", on_click=_train_at, args=(best,),
              disabled=not same or all(b is None for b in best),
              help="sets every optimizer's lr to its best rate from this sweep and trains them"
                   + ("" if same else " (the optimizers have changed since the sweep)"))


def _train_at(best: list[float | None]) -> None:
    """Set every optimizer's lr widget to its best rate and ask the page to train (a callback, before the widgets)."""
    set_best_rates(best, RACER_PREFIX)
    st.session_state["mlp_autostart"] = True  # the page's own flag (its "Run the article's experiment" sets it too)
