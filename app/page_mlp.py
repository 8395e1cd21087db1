"""The MLP panel: the article's classifier, trained by the very same optimizers, compared live."""

from __future__ import annotations

import hashlib
import math
import time
import urllib.parse

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from surfaces.network import datasets
from surfaces.network.datasets import Dataset
from surfaces.network.experiment import DEFAULT_SHARPNESS_EVERY, LIVE_GRID, boundary_axes

from . import page_mlp_sweep, plots
from .controls import hyper_control, overlap_note, racer_controls, read_racer, write_racers
from .experiment import (
    ARTICLE,
    CSV,
    LIMITS,
    Experiment,
    from_query,
    normalized,
    parse_hidden,
    presets,
    to_query,
)
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
from .mlp_views import (
    boundary_picture,
    curves_data_and_spec,
    data_preview_figure,
    digits_preview_figure,
    landscape_figure,
    path_loss_chart,
    sharpness_chart,
    unique,
)
from .state import experiment_query
from .text import as_text

RACER_PREFIX = "m"  # widget-key prefix of this panel's optimizers ("r" is the surfaces panel's)
POLL = 0.15  # seconds between looks at a running job: a Stop click is handled within this
REDRAW = 0.3  # seconds at least between two redraws of the live curves: every second look, ~3 a second (issue 19 asks >= 2)
#: epochs per racer a live redraw sends at most (evenly spaced, the newest always): building and sending
#: the chart costs the server time in proportion (~30 ms per 1000 epochs of four racers), and a
#: chart ~700 px wide shows no more; the finished training's chart has every epoch
LIVE_POINTS = 150
PICTURE_REDRAW = 1.0  # seconds at least between two redraws of the live boundary pictures
PICTURE_WIDTH = 168  # pixels of one boundary picture on the page: eight wrap into rows


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
    ss["mlp_sharpness"] = int(exp.sharpness_every)
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
        sharpness_every=int(ss.get("mlp_sharpness", 0)),
    ).check()


def _load_article() -> None:
    _write_experiment(ARTICLE)
    st.session_state["mlp_autostart"] = True


def _on_preset() -> None:
    name = st.session_state.get("mlp_preset")
    if name:
        _write_experiment(presets()[name].experiment)


def _own_query() -> dict:
    """Return the URL's experiment keys: none of a scene's link (the surfaces page's), nor keys of no page."""
    query = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    return experiment_query(query)


def _flat(query: dict) -> dict:
    """Return a query's last value of each key, the racers' whole list (the form ``to_query`` writes)."""
    return {k: (v if k == "r" else v[-1]) for k, v in query.items()}


def _preset_of(exp: Experiment) -> str:
    """Return the name of the preset whose experiment ``exp`` trains, else ""."""
    same = normalized(exp)
    return next((name for name, p in presets().items() if normalized(p.experiment) == same), "")


def _open_link(query: dict) -> None:
    """Show the experiment of a link's query in every control, with a note for each part it could not use."""
    exp, notes = from_query(query) if query else (Experiment(), [])
    _write_experiment(exp)
    st.session_state["mlp_preset"] = _preset_of(exp)  # a preset's link shows its lesson
    st.session_state["mlp_link_notes"] = notes


def _widgets_fingerprint() -> tuple:
    """Return what the experiment's controls show (read, not checked): a change of any of them is a new experiment."""
    ss = st.session_state
    name = ss.get("mlp_dataset")
    plain = tuple(ss.get(k) for k in ("mlp_dataset", "mlp_hidden", "mlp_keep_prob", "mlp_batch", "mlp_epochs",
                                      "mlp_seed", "mlp_dtype", "mlp_sharpness", "mlp_csv_sha", "mlp_csv_label"))
    data = tuple(sorted((k, ss[k]) for k in ss if isinstance(k, str) and k.startswith(f"ds_{name}_")))
    try:
        racers = tuple(read_racer(i, ss, RACER_PREFIX) for i in ss[f"{RACER_PREFIX}_ids"])
    except (KeyError, ValueError):  # a racer whose widgets are not all there yet
        racers = ()
    return plain, data, racers


def _follow_history() -> None:
    """Show the URL's experiment when the browser's Back or Forward button changed the URL.

    As on the surfaces page (``page_surfaces._follow_history``): Streamlit
    reruns the page with the history entry's URL, which then differs from
    the one this page wrote last while the controls are as they were. A
    control changed meanwhile wins. A scene's link is not this page's to
    follow (``state.experiment_query``).
    """
    written = st.session_state.get("_mlp_url_written")
    query = _own_query()
    if written is None or not query or _flat(query) == written[0] or _widgets_fingerprint() != written[1]:
        return
    _open_link(query)


def _keep_url(exp: Experiment | None) -> None:
    """Write the experiment into the page's URL, so the address bar is always a link to it.

    Each new URL is a browser history entry, so Back steps back through the
    experiments (``_follow_history``). Controls that make no experiment
    (``exp`` None: a message says why) leave the URL at the last one that did.
    """
    ss = st.session_state
    if exp is not None:
        query = to_query(exp)
        if query != _flat({k: st.query_params.get_all(k) for k in st.query_params.keys()}):
            st.query_params.from_dict(query)
    else:
        query = ss.get("_mlp_url_written", (_flat(_own_query()),))[0]
    ss["_mlp_url_written"] = (query, _widgets_fingerprint())


def _share(exp: Experiment) -> None:
    """Show the link that opens this experiment, with a copy button (the address bar holds the same link)."""
    base = (getattr(st.context, "url", "") or "").split("?", 1)[0]
    with st.expander("Share this experiment"):
        st.code(f"{base}?{urllib.parse.urlencode(to_query(exp), doseq=True)}", language=None, wrap_lines=True)
        if exp.dataset == CSV:
            st.caption("An uploaded file cannot travel in a link: this one opens the default data set with the "
                       "same network, settings and optimizers.")
        else:
            st.caption("Anyone opening this link gets the same data, network, settings and optimizers, and so the "
                       "same numbers. The address bar holds it too.")


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
    sb.selectbox("Preset", ["", *presets()], key="mlp_preset", on_change=_on_preset,
                 format_func=lambda n: "choose a lesson..." if not n else presets()[n].title)
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
    sb.number_input("Sharpness every k-th epoch", key="mlp_sharpness", min_value=0,
                    max_value=LIMITS["sharpness_every"][1], step=1,
                    help="measure the largest eigenvalue of the loss's Hessian (power iteration) every k epochs "
                         f"and plot it against 2/lr; 0 switches it off. Every {DEFAULT_SHARPNESS_EVERY} epochs "
                         "costs a batch-32 training about a sixth more time")
    sb.header("Optimizers")
    racer_controls(RACER_PREFIX, LIMITS["racers"][1])


def _init() -> None:
    if f"{RACER_PREFIX}_ids" not in st.session_state:
        _open_link(_own_query())


def thin_records(records: dict[int, list[dict]], most: int) -> dict[int, list[dict]]:
    """Return each racer's records cut to at most ``most`` evenly spaced ones, its newest always kept."""
    out = {}
    for i, recs in records.items():
        if len(recs) <= most:
            out[i] = recs
            continue
        stride = math.ceil(len(recs) / most)
        kept = recs[len(recs) - 1::-stride][::-1]  # counted back from the newest, so it is always drawn
        out[i] = kept
    return out


def _draw_curves(chart, records: dict[int, list[dict]], labels: list[str], colors: list[str], log: bool,
                 epochs: int | None = None) -> None:
    """Draw loss and accuracy (train and test) of every racer into the ``chart`` placeholder."""
    drawn = curves_data_and_spec(records, labels, colors, log, epochs)
    if drawn is not None:
        chart.vega_lite_chart(drawn[0], drawn[1], width="stretch")


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


def _progress_text(job: Job) -> tuple[float, str]:
    """Return the progress bar's fraction and what it says the training is doing."""
    k, n, racers = job.epochs_done(), job.epochs, job.n_racers
    who = f"{racers} optimizer{'s' if racers != 1 else ''}"
    if job.state == QUEUED:
        return 0.0, f"waiting for a free training worker ({engine().ahead(job)} training(s) before yours)"
    if job.stopping:
        return k / max(1, n), f"stopping at epoch {k} of {n}, {who}..."
    return k / max(1, n), f"training: epoch {k} of {n}, {who} racing"


def _draw_pictures(place, frames: dict[int, tuple[int, np.ndarray]], labels: list[str], xs, ys, X, y) -> None:
    """Draw one boundary picture per racer (epoch in the caption) into the ``place`` placeholder."""
    if not frames or xs is None:
        return
    names = unique(labels)
    order = sorted(frames)
    pics = [boundary_picture(frames[i][1], xs, ys, X, y) for i in order]
    caps = [f"{names[i]} · epoch {frames[i][0]}" for i in order]
    place.image(pics, caption=caps, width=PICTURE_WIDTH)


def _follow(job: Job, bar, chart, labels: list[str], colors: list[str], log: bool, pictures=None, sharp=None,
            lrs: list | None = None, grid: tuple | None = None) -> None:
    """Return when ``job`` has ended, showing its progress meanwhile; the curves are redrawn at most every REDRAW s.

    The bar is updated on every look, epoch or not: that Streamlit call is
    where a click on Stop (or any control) interrupts this loop. The boundary
    pictures (``grid`` = the live grid's axes and the points) follow the
    newest snapshots at most every PICTURE_REDRAW s.
    """
    shown, drawn_at, pictured_at = -1, -math.inf, -math.inf
    while not job.done:
        frac, text = _progress_text(job)
        bar.progress(min(1.0, frac), text=text)
        n = job.reported()
        now = time.monotonic()
        if n != shown and now - drawn_at >= REDRAW:  # every redraw of the chart costs the server
            _draw_curves(chart, thin_records(job.records_so_far(), LIVE_POINTS), labels, colors, log, job.epochs)
            if sharp is not None and lrs is not None:
                spec = sharpness_chart(job.curves("sharpness"), lrs, labels, colors, job.epochs)
                if spec is not None:
                    sharp.altair_chart(spec, width="stretch")
            shown, drawn_at = n, now
        if pictures is not None and grid is not None and now - pictured_at >= PICTURE_REDRAW:
            _draw_pictures(pictures, job.latest_boundaries(), labels, *grid)
            pictured_at = now
        time.sleep(POLL)


def _show_data(exp: Experiment | None) -> None:
    """Show the data before training: the 2-D points, or a few images of each class for the digits."""
    if exp is None or exp.dataset == CSV:
        return
    try:
        data = _dataset(exp.dataset, exp.dataset_params)
    except ValueError:
        return
    with st.expander("The data", expanded=st.session_state.get("mlp_job") is None):
        if data.is_2d:
            st.image(_preview_png(exp.dataset, exp.dataset_params, data), width=360)
        elif exp.dataset == "digits":
            st.image(_digits_png(exp.dataset, exp.dataset_params, data), width=460)
        st.caption(f"{as_text(data.description or data.name)}: {data.n_train} training and {data.n_test} test "
                   f"examples, {data.n_features} inputs each.")


@st.cache_data(max_entries=32, show_spinner=False)
def _preview_png(name: str, params: tuple, _data) -> bytes:
    return plots.figure_png(data_preview_figure(_data.X_train, _data.y_train, "training points"))


@st.cache_data(max_entries=8, show_spinner=False)
def _digits_png(name: str, params: tuple, _data) -> bytes:
    return plots.figure_png(digits_preview_figure(_data.X_train, _data.y_train))


def render() -> None:
    """Draw the MLP panel."""
    _init()
    _follow_history()
    _controls()
    ss = st.session_state
    for note in ss.pop("mlp_link_notes", []):
        st.warning(f"From the link: {as_text(note)}", icon="🔗")
    st.markdown("### Train a classifier with every optimizer, from the same initial weights")
    st.caption("ReLU hidden layers, one sigmoid output, binary cross-entropy, He initialisation, inverted dropout, "
               "backpropagation by hand: the article's network with its defects fixed. Every optimizer advances "
               "one epoch in turn, so all curves grow together.")
    preset = presets().get(ss.get("mlp_preset") or "")
    exp = _experiment()
    _keep_url(exp)
    if preset is not None:
        same = exp is not None and normalized(exp) == normalized(preset.experiment)  # the lesson holds for the preset's settings, not for any change of them
        st.info(f"**{as_text(preset.title)}.** {as_text(preset.lesson)}"
                + ("" if same else " (You changed the preset's settings since.)"))
    if exp is not None:
        _share(exp)
    c1, c2, c3 = st.columns([2, 3, 2])
    train_clicked = c1.button("Train", type="primary", disabled=exp is None, key="act_mlp_train")
    c2.button("Run the article's experiment", key="act_mlp_article", on_click=_load_article,
              help=ARTICLE.title)
    stop_clicked = c3.button("Stop", key="act_mlp_stop")

    session, eng = _session(), engine()
    if stop_clicked:
        eng.unwatch(session)  # a shared training goes on for the others who watch it
    if (train_clicked or ss.pop("mlp_autostart", False)) and exp is not None:
        job = eng.watch(session, exp, ss.get("mlp_csv_bytes") if exp.dataset == CSV else None)
        ss["mlp_job"] = job.id
        ss["mlp_job_labels"] = [r.label() for r in exp.racers]
        ss["mlp_job_colors"] = [r.color or "#333333" for r in exp.racers]
        ss["mlp_job_lrs"] = [dict(r.hp).get("lr") for r in exp.racers]
        ss["mlp_job_note"] = overlap_note(exp.racers)
    _show_data(exp)
    page_mlp_sweep.render(exp)
    job = eng.job(ss.get("mlp_job"))
    if job is None:
        st.info("Choose a data set, a network and optimizers (or a preset), then press **Train**. "
                "**Run the article's experiment** sets up the article's protocol on the digits 3 vs 8 and starts it.")
        return
    if not job.done and session not in job.watchers and not job.stopping:
        st.info("You stopped following this training; others who started the same one still see it. "
                "Press **Train** to follow it again.")
        return

    labels, colors = ss.get("mlp_job_labels", []), ss.get("mlp_job_colors", [])
    lrs = ss.get("mlp_job_lrs", [None] * len(labels))
    bar = st.progress(0.0, text="training...")
    ss.setdefault("mlp_log", True)
    log = st.toggle("log-scale loss", key="mlp_log")
    chart = st.empty()
    if ss.get("mlp_job_note"):  # SGD and momentum at the same lr: say why their curves coincide
        st.info(ss["mlp_job_note"], icon=":material/info:")
    sharp = st.empty() if job.experiment.sharpness_every else None
    pictures, grid = None, None
    live = _live_grid(job)
    if live is not None:
        st.markdown("#### Decision boundaries")
        pictures, grid = st.empty(), live
    _follow(job, bar, chart, labels, colors, log, pictures, sharp, lrs, grid)
    if job.training is None:
        bar.empty()
        why = job.error or "it was stopped before its first epoch ended"
        st.error(f"Training could not run: {as_text(why)}", icon="⚠️")
        return
    _show_results(job.id, job.training, bar, chart, labels, colors, log, pictures, sharp)


def _live_grid(job: Job) -> tuple | None:
    """Return (xs, ys, X, y) of the live boundary pictures for a 2-D data set, else None."""
    exp = job.experiment
    if exp.dataset == CSV:
        return None
    try:
        data = _dataset(exp.dataset, exp.dataset_params)
    except ValueError:
        return None
    if not data.is_2d:
        return None
    # the worker's own grid, so the pictures match its snapshots
    return (*boundary_axes(data, LIVE_GRID), data.X_train, data.y_train)


def _show_results(job_id: int, training, bar, chart, labels: list[str], colors: list[str], log: bool,
                  pictures=None, sharp=None) -> None:
    """Draw a finished training: curves, the boundaries with a scrubber (2-D data), landscape, table, exports."""
    if training.stopped:
        bar.progress(training.epochs_done / max(1, training.epochs),
                     text=f"stopped at epoch {training.epochs_done} of {training.epochs}")
        st.warning(f"Stopped at epoch {training.epochs_done} of {training.epochs}: every optimizer's results "
                   f"below are those of epoch {training.epochs_done}.")
    else:
        n = len(training.runs)
        bar.progress(1.0, text=f"done: {training.epochs_done} epochs, {n} optimizer{'s' if n != 1 else ''}")
    records = {i: r.history.records() for i, r in enumerate(training.runs)}
    _draw_curves(chart, records, labels, colors, log, training.epochs)
    if sharp is not None:
        series = {i: ([e for e, _ in r.sharpness], [v for _, v in r.sharpness]) for i, r in enumerate(training.runs)}
        spec = sharpness_chart(series, [r.lr for r in training.runs], labels, colors, training.epochs)
        if spec is not None:
            box = sharp.container()
            box.altair_chart(spec, width="stretch")
            box.caption("Sharpness: the largest eigenvalue of the training loss's Hessian (power iteration on "
                       "Hessian-vector products). Dashed: 2/lr, where gradient descent stops being stable along "
                       "that direction.")
    if training.is_2d and pictures is not None:
        _scrubber(job_id, training, labels, pictures)
    _landscape(job_id, training, labels)
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
        n = len([r for r in training.runs if r.proba is not None])
        st.image(boundaries_png(job_id, training), width=min(4, max(1, n)) * 340)
        st.caption("Final decision boundaries: black line p = 0.5; dots are the standardised training points.")
    _downloads(job_id, training)


def _scrubber(job_id: int, training, labels: list[str], pictures) -> None:
    """Replace the live pictures by a slider over the saved boundary snapshots of every optimizer."""
    epochs = sorted({e for r in training.runs for e, _ in r.frames})
    if len(epochs) < 2:
        return
    epoch = st.select_slider("Boundaries at epoch", options=epochs, value=epochs[-1], key=f"mlp_scrub_{job_id}")
    frames = {}
    for i, r in enumerate(training.runs):
        got = [(e, f) for e, f in r.frames if e <= epoch]
        if got:
            frames[i] = got[-1]
    _draw_pictures(pictures, frames, labels, training.live_xs, training.live_ys, training.X, training.y)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _landscape_png(job_id: int, kind: str, _training) -> bytes:
    return plots.figure_png(landscape_figure(_training.slices[kind]))


def _landscape(job_id: int, training, labels: list[str]) -> None:
    """Draw the loss landscape slice with every optimizer's path, and how faithful the projection is."""
    if not training.slices:
        if training.slice_note:
            st.caption(as_text(training.slice_note))
        return
    st.markdown("#### The network's own loss landscape")
    kind = st.radio("Plane", ["pca", "random"], horizontal=True, key="mlp_plane",
                    format_func=lambda k: {"pca": "principal directions of the paths",
                                           "random": "filter-normalised random directions"}[k])
    sl = training.slices[kind]
    c1, c2 = st.columns([3, 2])
    c1.image(_landscape_png(job_id, kind, training), width="stretch")
    spec = path_loss_chart(sl, labels)
    if spec is not None:
        c2.altair_chart(spec, width="stretch")
    c2.caption("Solid: the loss along each optimizer's real path, in its colour on the map. Dashed: the loss at "
               "its points projected onto the plane. Where they part, the picture on the left is not the whole story: the path left the plane.")
    held = ", ".join(f"{as_text(p.label)} {p.explained:.0%}" for p in sl.paths)
    st.caption(f"Share of each path's movement the plane holds: {held}. "
               + (as_text(training.slice_note) if training.slice_note else ""))


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
