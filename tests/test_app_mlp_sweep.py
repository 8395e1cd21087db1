"""The MLP panel's learning-rate sweep, headless with AppTest: a small real sweep in the local worker pool."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest
from support import mlp_page


@pytest.fixture(autouse=True)
def local_pool(monkeypatch):
    monkeypatch.delenv("DESCENT_DASK_SCHEDULER", raising=False)  # these flows test the page, on the local pool


def _progress_texts(at: AppTest) -> list[str]:
    return [e.proto.text for e in at.get("progress")]


def _texts(at: AppTest) -> str:
    """Return every caption, error and progress text on the page, joined."""
    parts = [c.value for c in at.caption] + [e.value for e in at.error]
    parts += _progress_texts(at)
    return "\n".join(parts)


def test_a_small_sweep_shows_progress_curves_table_and_best_rates():
    at = mlp_page()
    at.sidebar.number_input(key="mlp_epochs").set_value(6).run()
    at.sidebar.button(key="act_m0_remove").click().run()  # keep RMSProp and Adam
    at.sidebar.button(key="act_m1_remove").click().run()
    at.number_input(key="mlp_sweep_rates").set_value(2).run()
    at.number_input(key="mlp_sweep_seeds").set_value(2).run()
    assert "8 trainings (2 optimizers x 2 rates x 2 seeds, 6 epochs each)" in _texts(at)
    at.button(key="act_mlp_sweep_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    deadline = time.monotonic() + 120
    while not at.dataframe and time.monotonic() < deadline:  # the table appears once the sweep has ended
        time.sleep(0.5)
        at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "8 of 8 trainings done" in _texts(at)
    df = at.dataframe[-1].value
    assert df["optimizer"].str.split(" ").str[0].tolist() == ["RMSProp", "Adam"]
    lrs = [at.session_state["m2_lr"], at.session_state["m3_lr"]]
    for best, lr in zip(df["best lr"], lrs):  # 2 rates over 4 decades around the racer's lr: lr/100 or lr*100
        assert best == pytest.approx(lr / 100) or best == pytest.approx(lr * 100)
    assert df["train accuracy"].between(0.0, 1.0).all()
    charts = [e.proto for e in at.main if type(e).__name__ == "UnknownElement" and "VegaLite" in type(e.proto).__name__]
    assert len(charts) == 4  # final train and test loss and accuracy against the rate
    titles = ["final training loss", "final test loss", "final training accuracy", "final test accuracy"]
    assert sorted(t for t in titles for c in charts if f'"title": "{t}"' in c.spec) == sorted(titles)
    assert all('"diamond"' in c.spec and '"type": "log"' in c.spec for c in charts)  # best rates, log rate axis
    # Train each at its best rate: the lr widgets take the best rates and the page trains
    at.button(key="act_mlp_sweep_best").click().run()
    assert at.session_state["m2_lr"] == pytest.approx(df["best lr"][0], rel=1e-3)
    assert at.session_state["m3_lr"] == pytest.approx(df["best lr"][1], rel=1e-3)


def test_a_too_big_sweep_is_refused_with_the_settings_to_change():
    at = mlp_page()
    at.sidebar.number_input(key="mlp_epochs").set_value(1000).run()
    at.number_input(key="mlp_sweep_rates").set_value(15).run()
    at.number_input(key="mlp_sweep_seeds").set_value(10).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("fewer learning rates (now 15)" in e and "fewer seeds (now 10)" in e for e in errors), errors
    assert at.button(key="act_mlp_sweep_run").disabled


def test_stop_ends_a_running_sweep_with_what_finished():
    at = mlp_page()
    at.sidebar.number_input(key="mlp_epochs").set_value(200).run()
    at.button(key="act_mlp_sweep_run").click().run()  # 4 optimizers x 7 rates x 3 seeds
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="act_mlp_sweep_stop").click().run()
    deadline = time.monotonic() + 60
    while "stopped:" not in _texts(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert "stopped:" in _texts(at) and "of 84 trainings done" in _texts(at)
