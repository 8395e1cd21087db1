"""UI flows of the MLP panel, headless with AppTest: short real trainings in the worker pool."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest
from support import mlp_page

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def test_short_training_of_two_optimizers_shows_results_and_boundaries():
    at = mlp_page()
    at.sidebar.number_input(key="mlp_epochs").set_value(8).run()
    at.sidebar.button(key="act_m0_remove").click().run()  # keep RMSProp and Adam
    at.sidebar.button(key="act_m1_remove").click().run()
    at.button(key="act_mlp_train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    df = at.dataframe[0].value
    assert df["optimizer"].str.split(" ").str[0].tolist() == ["RMSProp", "Adam"]
    assert (df["epochs run"] == 8).all()
    assert df["train accuracy"].between(0.5, 1.0).all()  # two moons: far better than chance after 8 epochs
    shown = json.loads(at.dataframe[0].proto.columns)  # how the browser formats each column
    assert {shown[c]["type_config"]["format"] for c in ("train accuracy", "test accuracy")} == {"%.3f"}
    assert shown["final train loss"]["type_config"]["format"] == "%.3g"
    images = [e for e in at.main if type(e).__name__ == "Image"]
    # the data, the boundary pictures under their scrubber, the loss landscape, the final boundaries side by side
    assert len(images) == 4
    (scrubber,) = at.select_slider
    assert scrubber.label == "Boundaries at epoch" and scrubber.value == 8


def test_bad_hidden_sizes_are_explained_and_training_is_disabled():
    at = mlp_page()
    at.sidebar.text_input(key="mlp_hidden").set_value("64, lots").run()
    assert not at.exception
    assert at.error and "lots" in at.error[0].value
    assert at.button(key="act_mlp_train").disabled


def test_bad_csv_upload_gets_a_message(tmp_path):
    at = mlp_page()
    at.sidebar.selectbox(key="mlp_dataset").set_value("csv").run()
    assert not at.exception
    assert at.error and "upload" in at.error[0].value.lower()
    assert at.button(key="act_mlp_train").disabled


def test_a_visit_to_the_other_page_keeps_both_pages_settings():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.sidebar.selectbox(key="surface").set_value("himmelblau").run()
    at.sidebar.number_input(key="steps").set_value(321).run()
    at.sidebar.number_input(key="r0_lr").set_value(0.002).run()
    at.switch_page("views/mlp.py").run()
    at.sidebar.number_input(key="mlp_epochs").set_value(7).run()
    at.sidebar.number_input(key="m0_lr").set_value(0.05).run()
    at.switch_page("views/surfaces.py").run()
    assert not at.exception and not at.error and not at.warning
    assert (at.session_state["surface"], at.session_state["steps"], at.session_state["r0_lr"]) == ("himmelblau", 321, 0.002)
    at.switch_page("views/mlp.py").run()
    assert not at.exception and not at.error and not at.warning
    assert (at.session_state["mlp_epochs"], at.session_state["m0_lr"]) == (7, 0.05)


def test_live_curves_have_a_true_log_axis_and_racer_colours_in_racer_order():
    """The live chart (mlp_views.curves_data_and_spec): loss above accuracy on one epoch axis, racers in order."""
    from app.mlp_views import curves_data_and_spec

    nan = float("nan")
    records = {
        0: [{"epoch": 1, "train_loss": 0.5, "test_loss": 0.6, "train_acc": 0.5, "test_acc": 0.25},
            {"epoch": 2, "train_loss": 0.05, "test_loss": 0.08, "train_acc": 0.75, "test_acc": 0.5},
            {"epoch": 3, "train_loss": 0.0, "test_loss": 0.01, "train_acc": 1.0, "test_acc": 0.75}],
        1: [{"epoch": 1, "train_loss": 0.7, "test_loss": None, "train_acc": 0.5, "test_acc": None},
            {"epoch": 2, "train_loss": nan, "test_loss": None, "train_acc": nan, "test_acc": None}],
        2: [{"epoch": 1, "train_loss": 0.9, "test_loss": None, "train_acc": 0.25, "test_acc": None}],
    }
    labels, colors = ["SGD (lr=0.01)", "Adam (lr=0.01)", "SGD (lr=0.01)"], ["#0072b2", "#cc79a7", "#e69f00"]
    rows, spec = curves_data_and_spec(records, labels, colors, log=True, epochs=10)
    loss, acc = spec["vconcat"]
    assert loss["encoding"]["y"]["scale"]["type"] == "log" and "log" in loss["encoding"]["y"]["title"]
    assert acc["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert spec["resolve"]["scale"]["x"] == "shared"
    assert loss["encoding"]["x"]["scale"]["domain"] == [0, 10]  # the whole planned training from the start
    # racers keep their order and colours; a repeated label is told apart
    for panel in (loss, acc):
        assert panel["encoding"]["color"]["scale"]["domain"] == ["SGD (lr=0.01)", "Adam (lr=0.01)", "SGD (lr=0.01) #2"]
        assert panel["encoding"]["color"]["scale"]["range"] == colors
    # the zero loss cannot sit on a log axis, NaN and None are no points at all
    got = sorted((r.optimizer, r.epoch, r.set, r.value) for r in rows.itertuples() if r.metric == "loss")
    assert got == [("Adam (lr=0.01)", 1, "train", 0.7), ("SGD (lr=0.01)", 1, "test", 0.6),
                   ("SGD (lr=0.01)", 1, "train", 0.5), ("SGD (lr=0.01)", 2, "test", 0.08),
                   ("SGD (lr=0.01)", 2, "train", 0.05), ("SGD (lr=0.01)", 3, "test", 0.01),
                   ("SGD (lr=0.01) #2", 1, "train", 0.9)]
    assert len(rows[rows.metric == "accuracy"]) == 8  # 6 + 1 + 1: accuracies of 0 are kept on the linear axis
    rows_lin, spec_lin = curves_data_and_spec(records, labels, colors, log=False)
    assert spec_lin["vconcat"][0]["encoding"]["y"]["scale"].get("type", "linear") == "linear"
    assert len(rows_lin[rows_lin.metric == "loss"]) == 8  # the zero loss is drawn on a linear axis
    assert curves_data_and_spec({0: []}, labels[:1], colors[:1], log=True) is None


def test_every_data_set_control_has_a_readable_label():
    from surfaces.network import datasets

    at = mlp_page()
    for name in datasets.DATASETS:
        at.sidebar.selectbox(key="mlp_dataset").set_value(name).run()
        assert not at.exception, (name, at.exception)
        inputs = [w for w in at.sidebar.number_input if str(w.key).startswith(f"ds_{name}_")]
        assert len(inputs) == len(datasets.DATASETS[name].parameters), name
        for w in inputs:
            # a word or two for the user ("Test fraction"), not the keyword the code takes ("test_fraction")
            assert "_" not in w.label and w.label[:1].isupper(), (name, w.label)


def test_results_table_says_how_fast_each_run_got_there():
    """Hand-made histories: the epoch-1 accuracy, the first epoch at >= 99 %, or 'not reached'."""
    from app.mlp_results import FAST_COLUMN, FIRST_COLUMN, results_table
    from surfaces.network.experiment import TrainedRun, Training
    from surfaces.network.mlp import History

    def run(label, acc):
        h = History()
        for epoch, a in enumerate(acc, start=1):
            h.append({"epoch": epoch, "batch_loss_mean": 0.1, "batch_loss_last": 0.1, "train_loss": 0.1,
                      "train_acc": a})
        return TrainedRun(label, "", h)  # as the training driver hands it to the page

    df = results_table(Training("hand-made", 4, 0, False, [run("fast", [0.6, 0.98, 0.99, 1.0]),
                                                           run("slow", [0.4, 0.7, 0.9, 0.985])]))
    assert df[FIRST_COLUMN].tolist() == [0.6, 0.4]
    assert df[FAST_COLUMN].tolist() == ["3", "not reached"]  # 0.99 counts as reached; 0.985 does not
    assert df["train accuracy"].tolist() == [1.0, 0.985]
    assert df["test accuracy"].isna().all()  # no test split


def test_training_csv_has_one_row_per_epoch_and_optimizer():
    import csv
    import io

    from app.mlp_results import curves_csv
    from surfaces.network.experiment import TrainedRun, Training
    from surfaces.network.mlp import History

    h = History(epoch=[1, 2], batch_loss_mean=[0.5, 0.4], batch_loss_last=[0.6, 0.3], train_loss=[0.5, 0.4],
                train_acc=[0.7, 0.8])
    rows = list(csv.DictReader(io.StringIO(curves_csv(Training("d", 2, 0, False, [TrainedRun("Adam", "", h)])))))
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[1]["train_acc"] == "0.8" and rows[0]["test_acc"] == ""


def test_an_uploaded_csv_is_parsed_once_and_utf16_is_read(monkeypatch):
    """A UTF-16 file (Excel's "Unicode text") loads; control changes afterwards parse nothing again."""
    from surfaces.network import datasets

    calls = []
    read_table = datasets._read_table
    monkeypatch.setattr(datasets, "_read_table", lambda data: calls.append(1) or read_table(data))
    # a file no other test uploads, so no cache of an earlier test answers for it
    text = "länge,breite,label\n" + "".join(f"{i * 0.37},{(i * 7) % 5},{i % 2}\n" for i in range(40))
    at = mlp_page()
    at.sidebar.selectbox(key="mlp_dataset").set_value("csv").run()
    at.sidebar.file_uploader(key="act_mlp_upload").upload("table.csv", text.encode("utf-16"), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.sidebar.selectbox(key="mlp_csv_label").value == "label"
    assert not at.button(key="act_mlp_train").disabled
    parsed = len(calls)
    assert parsed >= 1
    for epochs in (11, 12, 13):
        at.sidebar.number_input(key="mlp_epochs").set_value(epochs).run()
    assert not at.exception and not at.error
    assert len(calls) == parsed  # reruns reuse the parsed file


def test_a_training_over_the_budget_is_refused_with_the_settings_to_change():
    at = mlp_page()
    at.sidebar.number_input(key="ds_two_moons_n_samples").set_value(5000).run()
    at.sidebar.text_input(key="mlp_hidden").set_value("256, 256, 256, 256").run()
    at.sidebar.number_input(key="mlp_batch").set_value(1).run()
    at.sidebar.number_input(key="mlp_epochs").set_value(2000).run()
    assert not at.exception
    assert at.error and "fewer epochs (now 2000)" in at.error[0].value and "batch size (now 1)" in at.error[0].value
    assert at.button(key="act_mlp_train").disabled


def test_following_a_job_touches_streamlit_on_every_look_even_without_new_epochs(monkeypatch):
    """The old loop made no Streamlit call while no epoch arrived, so a Stop click waited for the next epoch."""
    from app import page_mlp

    class Job:
        state, stopping = "running", False
        looks = 0

        @property
        def done(self):
            self.looks += 1
            return self.looks > 6

        n_racers, epochs = 1, 100

        def reported(self):
            return 1  # one epoch reported, then nothing new

        def curves(self, key="batch_loss_mean"):
            return {0: ([1], [0.5])}

        def epochs_done(self):
            return 1

        def records_so_far(self):
            return {0: [{"epoch": 1, "train_loss": 0.5}]}

    class Bar:
        calls = 0

        def progress(self, value, text=""):
            self.calls += 1

    drawn = []
    monkeypatch.setattr(page_mlp, "_draw_curves", lambda *a: drawn.append(a))
    monkeypatch.setattr(page_mlp, "POLL", 0.0)
    bar = Bar()
    page_mlp._follow(Job(), bar, None, ["Adam"], ["#000000"], True)
    assert bar.calls == 6  # one Streamlit call per look: where a Stop click interrupts the loop
    assert len(drawn) == 1  # the chart is redrawn only when epochs arrive


def test_a_new_upload_drops_the_sessions_previous_file_from_streamlits_store(monkeypatch):
    """Streamlit keeps every file a session uploaded until the session ends; the page keeps only the current one."""
    from types import SimpleNamespace

    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from app import page_mlp

    store = MemoryUploadedFileManager("/upload")
    monkeypatch.setattr(page_mlp, "get_script_run_ctx", lambda: SimpleNamespace(session_id="s", uploaded_file_mgr=store))
    state: dict = {}
    monkeypatch.setattr(page_mlp.st, "session_state", state)
    for k in range(3):
        data = ("a,b,label\n" + "".join(f"{i + k},{i % 3},{i % 2}\n" for i in range(20))).encode()
        store.add_file("s", UploadedFileRec(file_id=f"f{k}", name=f"t{k}.csv", type="text/csv", data=data))
        state["act_mlp_upload"] = SimpleNamespace(file_id=f"f{k}", getvalue=lambda data=data: data)
        page_mlp._on_upload()
        assert state["mlp_csv_bytes"] == data and state["mlp_csv_columns"] == ["a", "b", "label"]
    assert [f.file_id for f in store.get_files("s", ["f0", "f1", "f2"])] == ["f2"]
    state["act_mlp_upload"] = None  # the student removes the file
    page_mlp._on_upload()
    assert store.get_files("s", ["f2"]) == [] and "mlp_csv_bytes" not in state


def test_an_uploaded_files_cells_are_shown_as_text_not_markdown():
    """A cell quoted in a message cannot become an image the browser fetches, nor a link."""
    cell = "![t](http://127.0.0.1:9/t.png)"
    text = "a,b,label\n" + "".join(f"{i},{cell if i == 3 else i},{i % 2}\n" for i in range(20))
    at = mlp_page()
    at.sidebar.selectbox(key="mlp_dataset").set_value("csv").run()
    at.sidebar.file_uploader(key="act_mlp_upload").upload("t.csv", text.encode(), "text/csv").run()
    assert not at.exception and at.error
    shown = at.error[0].value
    assert "not a number" in shown and "http://" not in shown  # no bare address for Markdown to link
    assert not re.search(r"(?<!\\)[\[\]!]", shown)  # every bracket and "!" escaped: no image, no link
    assert shown.replace("\\", "").count(cell) == 1  # the cell is all there, as text


def test_path_loss_chart_ends_at_the_last_epoch_drawn():
    """The real-versus-projected loss chart's axis spans the kept epochs exactly, not Vega's next round number."""
    import numpy as np

    from app.mlp_views import path_loss_chart
    from surfaces.network.landscape import PathOnSlice, Slice

    epochs = [0, 100, 200, 302]
    path = PathOnSlice("SGD", "#0072b2", epochs, np.zeros((4, 2)), 0.9, np.array([0.7, 0.4, 0.2, 0.1]),
                       np.array([0.7, 0.5, 0.3, 0.2]))
    sl = Slice("pca", np.linspace(-1, 1, 3), np.linspace(-1, 1, 3), np.ones((3, 3)), 0.9, [path])
    spec = path_loss_chart(sl, ["SGD"]).to_dict()
    scale = spec["encoding"]["x"]["scale"]
    assert scale["domain"] == [0, 302] and scale["nice"] is False
    values = next(iter(spec["datasets"].values()))
    assert len(values) == 8 and {v["where"] for v in values} == {"real weights", "projected onto the plane"}
