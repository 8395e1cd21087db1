"""The MLP panel: the article's classifier, trained by the very same optimizers, compared live."""

from __future__ import annotations

import hashlib
import math
import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from surfaces.network import datasets
from surfaces.network.datasets import Dataset

from . import plots
from .controls import hyper_control, overlap_note, racer_controls, read_racer, write_racers
from .experiment import ARTICLE, CSV, LIMITS, Experiment, parse_hidden
from .jobs import QUEUED, Engine, Job
from .mlp_results import (
    FAST,
    FAST_COLUMN,
    FIRST_COLUMN,
    boundaries_figure,
    cost_figure,
    curves_csv,
    results_table,
)
from .text import as_text

RACER_PREFIX = "m"  # widget-key prefix of this panel's optimizers ("r" is the surfaces panel's)
POLL = 0.25  # seconds between looks at a running job: a Stop click is handled within this
REDRAW = 0.5  # seconds at least between two redraws of the live curves


def _session_alive(session: str) -> bool:
    """Return False once Streamlit no longer has ``session`` connected (its tab closed or its link lost)."""
    return not Runtime.exists() or Runtime.instance().is_active_session(session)


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    """Return the server's one training engine."""
    return Engine(session_alive=_session_alive)


def _session() -> str:
    """Return this browser session's id (who watches a job)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


@st.cache_resource(max_entries=64, show_spinner=False)
def _dataset(name: str, params: tuple) -> Dataset:
    """Return a registered data set (kept once per server for its size, for the cost estimate)."""
    return datasets.load(name, **dict(params))


@st.cache_resource(max_entries=4, show_spinner=False)
def _csv_dataset(sha: str, label: str, seed: int, _data: bytes) -> tuple[Dataset | None, str]:
    """Return an uploaded file's (data set, "") or (None, why it cannot be used), parsed once per file and label.

    The file is known by its content hash; a refusal is kept too, so a bad
    file is not parsed again on every rerun while its message shows.
    """
    try:
        return datasets.from_csv(_data, label, seed=seed), ""
    except datasets.DatasetError as e:
        return None, str(e)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def boundaries_png(job_id: int, _training) -> bytes:
    """Return the decision-boundary picture of a finished job (keyed by the job)."""
    return plots.figure_png(boundaries_figure(_training))


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _curves_png(job_id: int, _training) -> bytes:
    return plots.figure_png(cost_figure(_training))


def _write_experiment(exp: Experiment) -> None:
    ss = st.session_state
    ss["mlp_dataset"] = exp.dataset
    spec = datasets.DATASETS.get(exp.dataset)
    given = dict(exp.dataset_params)
    if spec is not None:
        for h in spec.parameters:
            ss[f"ds_{exp.dataset}_{h.name}"] = h.kind(given.get(h.name, h.default))
    ss["mlp_hidden"] = ", ".join(map(str, exp.hidden))
    ss["mlp_keep_prob"] = float(exp.keep_prob)
    ss["mlp_batch"] = int(exp.batch_size)
    ss["mlp_epochs"] = int(exp.epochs)
    ss["mlp_seed"] = int(exp.seed)
    ss["mlp_dtype"] = exp.dtype
    write_racers(exp.racers, ss, RACER_PREFIX)


def _read_experiment() -> Experiment:
    ss = st.session_state
    name = ss["mlp_dataset"]
    params: tuple = ()
    if name != CSV:
        spec = datasets.DATASETS[name]
        params = tuple((h.name, ss.get(f"ds_{name}_{h.name}", h.default)) for h in spec.parameters)
    return Experiment(
        dataset=name, dataset_params=params,
        csv_sha=ss.get("mlp_csv_sha", "") if name == CSV else "",
        csv_label=ss.get("mlp_csv_label", "") if name == CSV else "",
        hidden=parse_hidden(ss["mlp_hidden"]), keep_prob=float(ss["mlp_keep_prob"]),
        batch_size=int(ss["mlp_batch"]), epochs=int(ss["mlp_epochs"]),
        racers=tuple(read_racer(i, ss, RACER_PREFIX) for i in ss[f"{RACER_PREFIX}_ids"]), seed=int(ss["mlp_seed"]), dtype=ss["mlp_dtype"],
    ).check()


def _load_article() -> None:
    _write_experiment(ARTICLE)
    st.session_state["mlp_autostart"] = True


def _on_upload() -> None:
    """Keep the session's newly uploaded file (and only it) with its columns, or the reason it cannot be used."""
    ss = st.session_state
    f = ss.get("act_mlp_upload")
    _forget_upload(ss.get("mlp_csv_file_id"), keep=getattr(f, "file_id", None))
    for k in ("mlp_csv_error", "mlp_csv_bytes", "mlp_csv_sha", "mlp_csv_file_id"):
        ss.pop(k, None)
    if f is None:
        return
    data = f.getvalue()
    ss["mlp_csv_file_id"] = f.file_id
    try:
        cols = datasets.csv_columns(data)  # once per upload, not on every rerun
    except datasets.DatasetError as e:
        ss["mlp_csv_error"] = str(e)
        return
    ss["mlp_csv_bytes"] = data
    ss["mlp_csv_sha"] = hashlib.sha1(data).hexdigest()
    ss["mlp_csv_columns"] = cols
    ss["mlp_csv_label"] = cols[-1]


def _forget_upload(file_id: str | None, keep: str | None) -> None:
    """Drop a replaced upload from Streamlit's file store, which otherwise keeps every file until the session ends."""
    ctx = get_script_run_ctx()
    remove = getattr(getattr(ctx, "uploaded_file_mgr", None), "remove_file", None)
    if file_id and file_id != keep and remove is not None:
        remove(ctx.session_id, file_id)


def _controls() -> None:
    sb = st.sidebar
    sb.header("Data")
    names = [*datasets.DATASETS, CSV]
    sb.selectbox("Data set", names, key="mlp_dataset",
                 format_func=lambda n: "Upload a CSV file..." if n == CSV else datasets.DATASETS[n].title)
    name = st.session_state["mlp_dataset"]
    if name == CSV:
        sb.file_uploader("CSV file: numeric feature columns and a 0/1 label column", type=["csv", "txt"],
                         key="act_mlp_upload", on_change=_on_upload)
        if st.session_state.get("mlp_csv_bytes"):
            cols = st.session_state.get("mlp_csv_columns", [])
            sb.selectbox("Label column", cols, key="mlp_csv_label")
    else:
        spec = datasets.DATASETS[name]
        sb.caption(spec.doc)
        cols = sb.columns(2)
        for k, h in enumerate(spec.parameters):
            hyper_control(h, f"ds_{name}_{h.name}", cols[k % 2])
    sb.header("Network and training")
    sb.text_input("Hidden layer sizes", key="mlp_hidden", help="e.g. 100 (the article) or 64, 32")
    c = sb.columns(2)
    c[0].number_input("keep_prob", key="mlp_keep_prob", min_value=0.05, max_value=1.0, step=0.05, format="%g",
                      help="fraction of hidden units kept by (inverted) dropout; 1 means no dropout")
    c[1].number_input("Batch size", key="mlp_batch", min_value=1, max_value=LIMITS["batch_size"][1], step=1)
    c[0].number_input("Epochs", key="mlp_epochs", min_value=1, max_value=LIMITS["epochs"][1], step=10)
    c[1].number_input("Seed", key="mlp_seed", min_value=0, max_value=LIMITS["seed"][1], step=1,
                      help="one seed: every optimizer starts from the same initial weights")
    sb.selectbox("Precision", ["float32", "float64"], key="mlp_dtype")
    sb.header("Optimizers")
    racer_controls(RACER_PREFIX, LIMITS["racers"][1])


def _init() -> None:
    if f"{RACER_PREFIX}_ids" not in st.session_state:
        _write_experiment(Experiment())


def _unique(labels: list[str]) -> list[str]:
    """Return labels made unique (two racers may share a label), in order."""
    out: list[str] = []
    for lab in labels:
        out.append(lab if lab not in out else f"{lab} #{sum(o.startswith(lab) for o in out) + 1}")
    return out


def curves_chart(series: dict[int, tuple[list, list]], labels: list[str], colors: list[str], log: bool):
    """Return the Altair chart of loss curves (racer index -> (epochs, losses)), or None before the first epoch.

    Each racer keeps its colour and the legend lists racers in their order. On
    the log scale the axis shows the losses themselves (0.1, 0.01, ...), not
    their logarithms; a loss of 0 or a non-finite one is left out there.
    """
    names = _unique(labels)
    rows = [(names[i], int(e), float(v)) for i, (epochs, losses) in series.items() for e, v in zip(epochs, losses)]
    df = pd.DataFrame(rows, columns=["optimizer", "epoch", "loss"]).astype({"epoch": int, "loss": float})
    df = df[np.isfinite(df["loss"]) & ((df["loss"] > 0) if log else True)]
    if df.empty:
        return None
    shown = [names[i] for i in series]
    y_title = "mean batch loss" + (" (log)" if log else "")
    return alt.Chart(df).mark_line().encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d")),
        y=alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log" if log else "linear", zero=not log),
                axis=_log_axis(df["loss"]) if log else alt.Axis()),
        color=alt.Color("optimizer:N", title="optimizer", sort=shown,
                        scale=alt.Scale(domain=shown, range=[colors[names.index(n)] for n in shown]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=["optimizer", "epoch", alt.Tooltip("loss:Q", format=".4g")],
    ).properties(height=320)


def _log_axis(values: pd.Series) -> alt.Axis:
    """Return a log axis ticked at powers of ten (every other one past eight decades): 1, 0.01, 1e-4, ..."""
    lo, hi = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
    stride = 1 if hi - lo <= 8 else 2
    ticks = [10.0**k for k in range(hi, lo - 1, -stride)]
    return alt.Axis(values=ticks, labelExpr="datum.value >= 0.001 ? format(datum.value, '~g') "
                                             ": format(datum.value, '.0e')")


def _draw_curves(chart, series: dict[int, tuple[list, list]], labels: list[str], colors: list[str], log: bool) -> None:
    """Draw the loss curves into the ``chart`` placeholder."""
    spec = curves_chart(series, labels, colors, log)
    if spec is not None:
        chart.altair_chart(spec, width="stretch")


def _experiment() -> Experiment | None:
    """Return the checked Experiment the controls describe, within the training budget, or None after st.error."""
    ss = st.session_state
    if ss["mlp_dataset"] == CSV and ss.get("mlp_csv_error"):
        st.error(f"The uploaded file cannot be used: {as_text(ss['mlp_csv_error'])}", icon="⚠️")
        return None
    try:
        exp = _read_experiment()
    except ValueError as e:
        st.error(as_text(e), icon="⚠️")
        return None
    if exp.dataset == CSV:
        data, why = _csv_dataset(exp.csv_sha, exp.csv_label, exp.seed, ss["mlp_csv_bytes"])
        if data is None:
            st.error(f"The uploaded file cannot be used: {as_text(why)}", icon="⚠️")
            return None
    else:
        try:
            data = _dataset(exp.dataset, exp.dataset_params)
        except ValueError as e:
            st.error(as_text(e), icon="⚠️")
            return None
    try:
        engine().check(exp, data)
    except ValueError as e:  # over the training budget: the message names the settings to change
        st.error(as_text(e), icon="⚠️")
        return None
    return exp


def _follow(job: Job, bar, chart, labels: list[str], colors: list[str], log: bool) -> None:
    """Return when ``job`` has ended, showing its progress meanwhile; the curves are redrawn at most every REDRAW s.

    The bar is updated on every look, epoch or not: that Streamlit call is
    where a click on Stop (or any control) interrupts this loop.
    """
    shown, drawn_at = -1, -math.inf
    while not job.done:
        n = job.reported()
        frac = min(1.0, n / max(1, job.n_racers * job.epochs))
        if job.state == QUEUED:
            text = f"waiting for a free training worker ({engine().ahead(job)} training(s) before yours)"
        else:
            text = "stopping..." if job.stopping else f"training... {frac:.0%} of all epochs"
        bar.progress(frac, text=text)
        if n != shown and time.monotonic() - drawn_at >= REDRAW:  # every redraw of the chart costs the server
            _draw_curves(chart, job.curves(), labels, colors, log)
            shown, drawn_at = n, time.monotonic()
        time.sleep(POLL)


def render() -> None:
    """Draw the MLP panel."""
    _init()
    _controls()
    st.markdown("### Train a classifier with every optimizer, from the same initial weights")
    st.caption("ReLU hidden layers, one sigmoid output, binary cross-entropy, He initialisation, inverted dropout, "
               "backpropagation by hand: the article's network with its defects fixed. Curves are the mean "
               "mini-batch loss of each epoch.")
    exp = _experiment()
    c1, c2, c3 = st.columns([2, 3, 2])
    train_clicked = c1.button("Train", type="primary", disabled=exp is None, key="act_mlp_train")
    c2.button("Run the article's experiment", key="act_mlp_article", on_click=_load_article,
              help=ARTICLE.title)
    stop_clicked = c3.button("Stop", key="act_mlp_stop")

    ss, session, eng = st.session_state, _session(), engine()
    if stop_clicked:
        eng.unwatch(session)  # a shared training goes on for the others who watch it
    if (train_clicked or ss.pop("mlp_autostart", False)) and exp is not None:
        job = eng.watch(session, exp, ss.get("mlp_csv_bytes") if exp.dataset == CSV else None)
        ss["mlp_job"] = job.id
        ss["mlp_job_labels"] = [r.label() for r in exp.racers]
        ss["mlp_job_colors"] = [r.color or "#333333" for r in exp.racers]
        ss["mlp_job_note"] = overlap_note(exp.racers)
    job = eng.job(ss.get("mlp_job"))
    if job is None:
        st.info("Choose a data set, a network and optimizers, then press **Train**. "
                "**Run the article's experiment** sets up the article's protocol on the digits 3 vs 8 and starts it.")
        return
    if not job.done and session not in job.watchers and not job.stopping:
        st.info("You stopped following this training; others who started the same one still see it. "
                "Press **Train** to follow it again.")
        return

    labels, colors = ss.get("mlp_job_labels", []), ss.get("mlp_job_colors", [])
    bar = st.progress(0.0, text="training...")
    ss.setdefault("mlp_log", True)
    log = st.toggle("log-scale loss", key="mlp_log")
    chart = st.empty()
    if ss.get("mlp_job_note"):  # SGD and momentum at the same lr: say why their curves coincide
        st.info(ss["mlp_job_note"], icon=":material/info:")
    _follow(job, bar, chart, labels, colors, log)
    if job.training is None:
        bar.empty()
        why = job.error or "it was stopped before its first epoch ended"
        st.error(f"Training could not run: {as_text(why)}", icon="⚠️")
        return
    _show_results(job.id, job.training, bar, chart, labels, colors, log)


def _show_results(job_id: int, training, bar, chart, labels: list[str], colors: list[str], log: bool) -> None:
    """Draw a finished training: final curves, the results table, the boundaries (2-D data), the exports."""
    bar.progress(1.0, text="stopped early" if training.stopped else "done")
    series = {i: (r.history.epoch, r.history.batch_loss_mean) for i, r in enumerate(training.runs)}
    _draw_curves(chart, series, labels, colors, log)
    st.markdown("#### Results")
    # Losses span many decades after a long run (RMSProp reaches 1e-7 on digits): three significant digits.
    # Accuracies with three decimals in both columns (0.840, not 0.84 beside 0.8367), as the article's table.
    accuracy = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(results_table(training), hide_index=True, width="stretch",
                 column_config={"train accuracy": accuracy, "test accuracy": accuracy,
                                FIRST_COLUMN: st.column_config.NumberColumn(
                                    format="%.3f", help="training accuracy after the first epoch"),
                                FAST_COLUMN: st.column_config.TextColumn(
                                    help=f"the first epoch whose training accuracy reached {FAST:.0%}"),
                                "final train loss": st.column_config.NumberColumn(format="%.3g")})
    st.caption(f"{as_text(training.dataset.rstrip('. '))}; {training.n_train} training and {training.n_test} test examples.")
    if training.is_2d:
        st.image(boundaries_png(job_id, training), width="stretch")
    _downloads(job_id, training)


def _downloads(job_id: int, training) -> None:
    st.markdown("#### Export")
    c = st.columns(4)
    c[0].download_button("Curves (CSV)", curves_csv(training), file_name="descent-training-curves.csv",
                         mime="text/csv", key="act_dl_curves_csv", on_click="ignore")
    c[1].download_button("Results table (CSV)", results_table(training).to_csv(index=False),
                         file_name="descent-training-results.csv", mime="text/csv", key="act_dl_table_csv",
                         on_click="ignore")
    c[2].download_button("Cost curves (PNG)", _curves_png(job_id, training), file_name="descent-cost-curves.png",
                         mime="image/png", key="act_dl_curves_png", on_click="ignore")
    if training.is_2d:
        c[3].download_button("Decision boundaries (PNG)", boundaries_png(job_id, training),
                             file_name="descent-boundaries.png", mime="image/png", key="act_dl_bounds_png",
                             on_click="ignore")
