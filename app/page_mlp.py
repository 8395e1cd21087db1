"""The MLP panel: the article's classifier, trained by the very same optimizers, compared live."""

from __future__ import annotations

import hashlib
import math
import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from surfaces import datasets
from surfaces.experiment import summarize
from surfaces.mlp import History

from . import export, plots
from .controls import hyper_control, racer_controls, read_racer, write_racers
from .experiment import ARTICLE, LIMITS, Experiment, parse_hidden
from .jobs import Trainer, load_dataset
from .scene import SceneError

CSV = "csv"
P = "m"  # widget-key prefix of this panel's optimizers


@st.cache_resource(show_spinner=False)
def trainer() -> Trainer:
    """Return the server's one bounded pool of training workers."""
    return Trainer()


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def boundaries_png(result_key: str, _result: dict) -> bytes:
    """Return the decision-boundary picture of a finished job (keyed by the job)."""
    return plots.figure_png(plots.boundaries_figure(_result))


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
    write_racers(exp.racers, ss, P)


def _read_experiment() -> Experiment:
    ss = st.session_state
    name = ss["mlp_dataset"]
    params: tuple = ()
    if name != CSV:
        spec = datasets.DATASETS[name]
        params = tuple((h.name, ss.get(f"ds_{name}_{h.name}", h.default)) for h in spec.parameters)
    csv = ss.get("mlp_csv_bytes")
    return Experiment(
        dataset=name, dataset_params=params,
        csv_sha=hashlib.sha1(csv).hexdigest() if (name == CSV and csv) else "",
        csv_label=ss.get("mlp_csv_label", "") if name == CSV else "",
        hidden=parse_hidden(ss["mlp_hidden"]), keep_prob=float(ss["mlp_keep_prob"]),
        batch_size=int(ss["mlp_batch"]), epochs=int(ss["mlp_epochs"]),
        racers=tuple(read_racer(i, ss, P) for i in ss[f"{P}_ids"]), seed=int(ss["mlp_seed"]), dtype=ss["mlp_dtype"],
    ).check()


def _load_article() -> None:
    _write_experiment(ARTICLE)
    st.session_state["mlp_autostart"] = True


def _on_upload() -> None:
    f = st.session_state.get("act_mlp_upload")
    st.session_state.pop("mlp_csv_error", None)
    if f is None:
        st.session_state.pop("mlp_csv_bytes", None)
        return
    data = f.getvalue()
    try:
        cols = datasets.csv_columns(data)
    except datasets.DatasetError as e:
        st.session_state["mlp_csv_error"] = str(e)
        st.session_state.pop("mlp_csv_bytes", None)
        return
    st.session_state["mlp_csv_bytes"] = data
    st.session_state["mlp_csv_columns"] = cols
    st.session_state["mlp_csv_label"] = cols[-1]


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
    racer_controls(P, LIMITS["racers"][1])


def _init() -> None:
    if f"{P}_ids" not in st.session_state:
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


#: the training accuracy whose first epoch the results table reports (the article-style "how fast" column)
FAST = 0.99
FAST_COLUMN = f"epochs to {FAST:.0%} acc."
FIRST_COLUMN = "acc. after epoch 1"


def _results_table(result: dict) -> pd.DataFrame:
    """Return one row per run: how well (accuracies, loss), how fast (epoch 1, first epoch >= 99 %), how long.

    The numbers are the article experiment's summary (``surfaces.experiment.summarize``), one run at a time
    since two runs may share a label.
    """
    rows = []
    for run in result["runs"]:
        (r,) = summarize({run["label"]: History.from_dict(run["history"])}, FAST)
        first = r["first_epoch_reaching"]
        rows.append({
            "optimizer": run["label"],
            "train accuracy": r["train_acc"],
            "test accuracy": r["test_acc"],
            # When every run ends at 100 %, these two still order the optimizers (as the article's figure does).
            FIRST_COLUMN: r["acc_epoch_1"],
            FAST_COLUMN: str(first) if first is not None else "not reached",
            "final train loss": r["train_loss"],
            "epochs run": r["epochs_run"],
            "wall time (s)": round(r["wall_time"], 2),
            "diverged?": f"at epoch {r['diverged_at']}" if r["diverged_at"] is not None else "no",
        })
    return pd.DataFrame(rows)


def render() -> None:
    """Draw the MLP panel."""
    _init()
    _controls()
    st.markdown("### Train a classifier with every optimizer, from the same initial weights")
    st.caption("ReLU hidden layers, one sigmoid output, binary cross-entropy, He initialisation, inverted dropout, "
               "backpropagation by hand: the article's network with its defects fixed. Curves are the mean "
               "mini-batch loss of each epoch.")
    exp = None
    csv_error = st.session_state.get("mlp_csv_error") if st.session_state["mlp_dataset"] == CSV else None
    if csv_error:
        st.error(f"The uploaded file cannot be used: {csv_error}", icon="⚠️")
    else:
        try:
            exp = _read_experiment()
            if exp.dataset == CSV:
                load_dataset(exp, st.session_state.get("mlp_csv_bytes"))  # a bad file is reported before training
        except (SceneError, ValueError) as e:
            uploaded = st.session_state["mlp_dataset"] == CSV and st.session_state.get("mlp_csv_bytes")
            st.error(f"The uploaded file cannot be used: {e}" if uploaded else f"{e}", icon="⚠️")
            exp = None

    c1, c2, c3 = st.columns([2, 3, 2])
    train_clicked = c1.button("Train", type="primary", disabled=exp is None, key="act_mlp_train")
    c2.button("Run the article's experiment", key="act_mlp_article", on_click=_load_article,
              help=ARTICLE.title)
    stop_clicked = c3.button("Stop", key="act_mlp_stop")

    job = trainer().get(st.session_state.get("mlp_job", ""))
    if stop_clicked and job is not None:
        job.stop.set()
    if (train_clicked or st.session_state.pop("mlp_autostart", False)) and exp is not None:
        job = trainer().submit(exp, st.session_state.get("mlp_csv_bytes") if exp.dataset == CSV else None)
        st.session_state["mlp_job"] = job.key
        st.session_state["mlp_job_labels"] = [r.label() for r in exp.racers]
        st.session_state["mlp_job_colors"] = [r.color or "#333333" for r in exp.racers]
    if job is None:
        st.info("Choose a data set, a network and optimizers, then press **Train**. "
                "**Run the article's experiment** sets up the article's protocol on the digits 3 vs 8 and starts it.")
        return

    labels = st.session_state.get("mlp_job_labels", [])
    colors = st.session_state.get("mlp_job_colors", [])
    bar = st.progress(0.0, text="training...")
    st.session_state.setdefault("mlp_log", True)
    log = st.toggle("log-scale loss", key="mlp_log")
    chart = st.empty()
    shown = -1
    while True:
        job.poll()
        frac = job.fraction()
        if job.done:
            break
        with job.lock:
            n = sum(len(v) for v in job.records.values())
            series = {i: ([r["epoch"] for r in recs], [r["batch_loss_mean"] for r in recs])
                      for i, recs in job.records.items()} if n != shown else None
        if series is not None:  # redraw only when new epochs arrived: every redraw costs the server
            bar.progress(frac, text=f"training... {frac:.0%} of all epochs")
            _draw_curves(chart, series, labels, colors, log)
            shown = n
        time.sleep(0.5)

    err = job.future.exception()
    if err is not None:
        bar.empty()
        st.error(f"Training could not run: {err}", icon="⚠️")
        return
    result = job.future.result()
    bar.progress(1.0, text="stopped early" if result.get("stopped") else "done")
    series = {i: (r["history"]["epoch"], [math.nan if v is None else v for v in r["history"]["batch_loss_mean"]])
              for i, r in enumerate(result["runs"])}
    _draw_curves(chart, series, labels, colors, log)
    st.markdown("#### Results")
    # Losses span many decades after a long run (RMSProp reaches 1e-7 on digits): three significant digits.
    # Accuracies with three decimals in both columns (0.840, not 0.84 beside 0.8367), as the article's table.
    accuracy = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(_results_table(result), hide_index=True, width="stretch",
                 column_config={"train accuracy": accuracy, "test accuracy": accuracy,
                                FIRST_COLUMN: st.column_config.NumberColumn(
                                    format="%.3f", help="training accuracy after the first epoch"),
                                FAST_COLUMN: st.column_config.TextColumn(
                                    help=f"the first epoch whose training accuracy reached {FAST:.0%}"),
                                "final train loss": st.column_config.NumberColumn(format="%.3g")})
    st.caption(f"{result['dataset'].rstrip('. ')}; {result['n_train']} training and {result['n_test']} test examples.")
    if result.get("is_2d"):
        st.image(boundaries_png(job.key, result), width="stretch")
    _downloads(job.key, result)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _curves_png(result_key: str, _result: dict) -> bytes:
    return plots.figure_png(plots.cost_figure(_result))


def _downloads(key: str, result: dict) -> None:
    st.markdown("#### Export")
    c = st.columns(4)
    c[0].download_button("Curves (CSV)", export.training_csv(result), file_name="descent-training-curves.csv",
                         mime="text/csv", key="act_dl_curves_csv", on_click="ignore")
    c[1].download_button("Results table (CSV)", _results_table(result).to_csv(index=False),
                         file_name="descent-training-results.csv", mime="text/csv", key="act_dl_table_csv",
                         on_click="ignore")
    c[2].download_button("Cost curves (PNG)", _curves_png(key, result), file_name="descent-cost-curves.png",
                         mime="image/png", key="act_dl_curves_png", on_click="ignore")
    if result.get("is_2d"):
        c[3].download_button("Decision boundaries (PNG)", boundaries_png(key, result),
                             file_name="descent-boundaries.png", mime="image/png", key="act_dl_bounds_png",
                             on_click="ignore")
