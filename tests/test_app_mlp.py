"""UI flows of the MLP panel, headless with AppTest: short real trainings in the worker pool."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def mlp_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("views/mlp.py").run()
    assert not at.exception, at.exception
    return at


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
    images = [e for e in at.main if type(e).__name__ == "Image"]
    assert len(images) == 1  # the decision boundaries, side by side


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
