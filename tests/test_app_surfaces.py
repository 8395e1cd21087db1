"""UI flows of the surfaces panel, headless with Streamlit's AppTest."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import surfaces
from app import images, presets
from optim import OPTIMIZERS

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def results(at: AppTest):
    """Return the results table as a DataFrame."""
    return at.dataframe[0].value


def shown(element) -> str:
    """Return the text a Markdown element shows (its source with the backslash escapes of user text removed)."""
    return re.sub(r"\\(.)", r"\1", element.value)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_default_page_runs_and_shows_four_racers():
    at = fresh()
    assert_clean(at)
    df = results(at)
    assert list(df["optimizer"].str.split(" ").str[0]) == ["SGD", "Momentum", "RMSProp", "Adam"]
    assert at.title[0].value.startswith("Descent")


@pytest.mark.parametrize("name", list(surfaces.CATALOGUE))
def test_every_catalogue_surface_renders(name):
    at = fresh()
    at.sidebar.selectbox(key="surface").set_value(name).run()
    assert_clean(at)
    surf = surfaces.get(name)
    assert at.markdown[0].value == f"### {surf.title}"
    # the start moved to the surface's own suggestion
    assert (at.session_state["start_x"], at.session_state["start_y"]) == pytest.approx(tuple(surf.start))


def test_bad_formula_shows_an_error_and_keeps_the_last_scene():
    at = fresh()
    at.sidebar.selectbox(key="surface").set_value("custom").run()
    at.sidebar.text_input(key="formula_text").set_value("x**2 + 3*y**2").run()
    assert_clean(at)
    good = results(at).copy()
    at.sidebar.text_input(key="formula_text").set_value("__import__('os').system('ls')").run()
    assert not at.exception
    assert at.error and "formula" in at.error[0].value.lower()
    assert results(at).equals(good)  # the last good scene is still shown
    # and the app stays usable: a good formula works again
    at.sidebar.text_input(key="formula_text").set_value("(1-x)^2 + 100(y-x^2)^2").run()
    assert_clean(at)
    assert not results(at).equals(good)


def test_bad_hyperparameter_is_explained_and_changes_nothing_else():
    at = fresh()
    good = results(at).copy()
    at.sidebar.number_input(key="r0_lr").set_value(-0.5).run()
    assert not at.exception
    assert at.error and "lr" in shown(at.error[0]) and "-0.5" in shown(at.error[0])
    assert results(at).equals(good)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizers_controls_appear_and_change_the_scene(name):
    at = fresh()
    at.sidebar.selectbox(key="r0_opt").set_value(name).run()
    assert_clean(at)
    keys = {w.key for w in at.sidebar.number_input} | {w.key for w in at.sidebar.checkbox}
    for h in OPTIMIZERS[name].hyperparameters:
        assert f"r0_{h.name}" in keys, (name, h.name)
    before = results(at)["final loss"].iloc[0]
    at.sidebar.number_input(key="r0_lr").set_value(at.session_state["r0_lr"] * 0.5).run()
    assert_clean(at)
    assert results(at)["final loss"].iloc[0] != before
    assert OPTIMIZERS[name].title in results(at)["optimizer"].iloc[0]


def test_adding_and_removing_an_optimizer():
    at = fresh()
    at.sidebar.button(key="act_r_add").click().run()
    assert_clean(at)
    assert len(results(at)) == 5
    at.sidebar.button(key="act_r0_remove").click().run()
    assert_clean(at)
    assert len(results(at)) == 4 and not results(at)["optimizer"].iloc[0].startswith("SGD")


def test_steps_and_noise_change_the_scene():
    at = fresh()
    at.sidebar.number_input(key="steps").set_value(50).run()
    assert_clean(at)
    a = results(at)["final loss"].tolist()
    at.sidebar.number_input(key="noise").set_value(1.0).run()
    assert_clean(at)
    assert results(at)["final loss"].tolist() != a


@pytest.mark.parametrize("name", list(presets.presets()))
def test_every_preset_renders(name):
    at = fresh()
    at.sidebar.selectbox(key="preset").set_value(name).run()
    assert_clean(at)
    scene = presets.get(name)
    assert at.markdown[0].value == f"### {scene.title}"
    assert scene.lesson in at.caption[0].value
    assert len(results(at)) == len(scene.racers)


def test_hostile_formula_in_the_url_is_rejected():
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["s"] = "custom"
    at.query_params["f"] = "__import__('os').system('touch /tmp/pwned')"
    at.run()
    assert not at.exception
    assert any("formula" in w.value for w in at.warning)
    assert at.session_state["surface"] == "rosenbrock"


def test_a_link_opens_its_scene():
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update({"s": "himmelblau", "n": "77", "r": ["adam(lr=0.02)#009E73"], "x0": "1,1"})
    at.run()
    assert_clean(at)
    assert at.session_state["surface"] == "himmelblau" and at.session_state["steps"] == 77
    assert results(at)["optimizer"].tolist() == ["Adam (lr=0.02)"]


def test_presenter_mode_hides_the_tabs():
    at = fresh()
    at.sidebar.toggle(key="presenter").set_value(True).run()
    assert_clean(at)
    assert len(at.tabs) == 0
    at.button(key="act_leave_presenter").click().run()
    assert_clean(at)
    assert len(at.tabs) == 4  # results, rules, share, compare fairly (page_compare): the 3-D view is in the animator


def test_rules_and_share_tabs_render_when_opened():
    at = fresh()
    at.session_state["tab"] = "Update rules"
    at.run()
    assert_clean(at)
    assert len(at.latex) >= 4  # one rule per racer, and the values
    assert any(r"\eta" in x.value for x in at.latex)
    # Adam's eps of 1e-8 reads as a power of ten, not as "1e - 08"
    assert any(r"\epsilon\ =\ 10^{-8}" in x.value for x in at.latex), [x.value for x in at.latex]
    at.session_state["tab"] = "Share & export"
    at.run()
    assert_clean(at)
    link = at.code[0].value
    assert "s=rosenbrock" in link and "r=sgd" in link


def test_catalogue_warming_waits_while_a_page_is_drawn(monkeypatch):
    """The warming thread has idle priority: it draws nothing while a surfaces page is running."""
    subset = {k: surfaces.CATALOGUE[k] for k in ("bowl", "himmelblau")}
    monkeypatch.setattr(surfaces, "CATALOGUE", subset)
    images._surface_images.cache_clear()
    warm = threading.Thread(target=images.warm_catalogue, daemon=True)
    with images.page_drawing():
        warm.start()
        time.sleep(0.5)
        assert warm.is_alive() and images._surface_images.cache_info().currsize == 0
    warm.join(timeout=60)
    assert not warm.is_alive() and images._surface_images.cache_info().currsize == 2
