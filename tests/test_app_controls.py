"""UI flows of the controls, headless with AppTest: links and presets, formulas, windows, optimizer types, notes.

Expected values come from the declarations (presets.toml, optim's declared
defaults, the formula text itself), never from the page's own output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import surfaces
from app import presets
from optim import OPTIMIZERS, OVERLAP_NOTE

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(element) -> str:
    """Return the text a Markdown element shows (its source without the backslash escapes)."""
    return re.sub(r"\\(.)", r"\1", element.value)


def heading(at: AppTest) -> str:
    return shown(at.markdown[0]).removeprefix("### ")


def labels(at: AppTest) -> list[str]:
    return at.dataframe[0].value["optimizer"].tolist()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# -- item 5: links and presets keep what they promise ---------------------------------------

def test_a_link_naming_a_preset_shows_its_title_lesson_and_race():
    ravine = presets.get("ravine")
    at = page({"preset": "ravine"})
    assert_clean(at)
    assert heading(at) == ravine.title
    assert ravine.lesson in at.caption[0].value
    assert at.session_state["steps"] == ravine.steps and len(labels(at)) == len(ravine.racers)
    # and the page's own URL names the preset, so a copied address bar keeps it, as does the share tab's link
    assert at.query_params["preset"] == "ravine" and at.query_params["s"] == "ravine"
    at.session_state["tab"] = "Share & export"
    at.run()
    assert "preset=ravine" in at.code[0].value and "s=ravine" in at.code[0].value


def test_the_link_written_for_a_chosen_preset_reopens_it_with_its_title():
    at = page()
    at.sidebar.selectbox(key="preset").set_value("saddle_escape").run()
    link = dict(at.query_params)
    assert link["preset"] == "saddle_escape"
    other = page(link)  # a new session opening the shared link
    assert_clean(other)
    assert heading(other) == presets.get("saddle_escape").title
    assert presets.get("saddle_escape").lesson in other.caption[0].value


def test_a_link_naming_a_preset_beside_another_scene_shows_the_surfaces_own_caption():
    ravine = presets.get("ravine")
    at = page({"preset": "ravine", "s": "ravine", "r": ["sgd(lr=0.01)"], "n": "50"})
    assert_clean(at)
    assert heading(at) == surfaces.get("ravine").title != ravine.title
    assert ravine.lesson not in at.caption[0].value
    assert "preset" not in at.query_params


def test_an_unknown_preset_in_a_link_is_noted_as_text():
    at = page({"preset": "**bold**"})
    assert not at.exception
    assert any("no such preset" in shown(w) and "**bold**" in shown(w) for w in at.warning)
    assert all("**bold**" not in w.value for w in at.warning)  # escaped: it reads as typed, not bold


def test_choosing_an_edited_preset_again_restores_it():
    ravine = presets.get("ravine")
    at = page()
    at.sidebar.selectbox(key="preset").set_value("ravine").run()
    assert heading(at) == ravine.title
    at.sidebar.number_input(key="steps").set_value(77).run()
    assert_clean(at)
    assert heading(at) == surfaces.get("ravine").title  # an edited copy no longer claims the lesson
    assert at.sidebar.selectbox(key="preset").value is None
    at.sidebar.selectbox(key="preset").set_value("ravine").run()
    assert_clean(at)
    assert at.session_state["steps"] == ravine.steps
    assert heading(at) == ravine.title


def test_back_and_forward_step_through_scenes():
    at = page()
    first = dict(at.query_params)
    at.sidebar.number_input(key="steps").set_value(60).run()
    second = dict(at.query_params)
    at.sidebar.selectbox(key="surface").set_value("himmelblau").run()
    assert_clean(at)
    third = dict(at.query_params)
    assert first["s"] == "rosenbrock" and second["n"] == "60" and third["s"] == "himmelblau"
    at.query_params.clear()
    at.query_params.update(second)  # Back: Streamlit reruns the page with the previous entry's URL
    at.run()
    assert_clean(at)
    assert at.session_state["surface"] == "rosenbrock" and at.session_state["steps"] == 60
    at.query_params.clear()
    at.query_params.update(first)
    at.run()
    assert at.session_state["steps"] == 1000 and dict(at.query_params) == first
    at.query_params.clear()
    at.query_params.update(third)  # Forward
    at.run()
    assert_clean(at)
    assert at.session_state["surface"] == "himmelblau" and at.session_state["steps"] == 60


def test_a_control_changed_while_the_url_is_stale_wins():
    at = page()
    first = dict(at.query_params)
    at.sidebar.number_input(key="steps").set_value(60).run()
    at.query_params.clear()
    at.query_params.update(first)  # the click raced the page's new URL
    at.sidebar.number_input(key="steps").set_value(70).run()
    assert_clean(at)
    assert at.session_state["steps"] == 70 and at.query_params["n"] == "70"


def test_back_to_a_preset_shows_its_title_again():
    at = page()
    at.sidebar.selectbox(key="preset").set_value("ravine").run()
    preset_url = dict(at.query_params)
    at.sidebar.number_input(key="steps").set_value(50).run()
    assert heading(at) == surfaces.get("ravine").title
    at.query_params.clear()
    at.query_params.update(preset_url)
    at.run()
    assert heading(at) == presets.get("ravine").title


# -- item 6: formulas and controls behave -----------------------------------------------

def test_choosing_custom_shows_no_error_before_anything_is_typed():
    at = page()
    at.sidebar.selectbox(key="surface").set_value("custom").run()
    assert_clean(at)
    assert any("Type a formula" in i.value for i in at.info)


def test_a_custom_formula_after_rastrigin_gets_a_start_inside_its_window():
    at = page()
    at.sidebar.selectbox(key="surface").set_value("rastrigin").run()
    at.sidebar.number_input(key="start_x").set_value(4.9).run()  # far outside the next formula's map
    at.sidebar.selectbox(key="surface").set_value("custom").run()
    at.sidebar.text_input(key="formula_text").set_value("1/(x^2+y^2)").run()
    assert_clean(at)
    ss = at.session_state
    x, y = ss["start_x"], ss["start_y"]
    assert ss["win_x0"] < x < ss["win_x1"] and ss["win_y0"] < y < ss["win_y1"]
    (x0, x1), (y0, y1) = surfaces.load("custom", "1/(x^2+y^2)").window
    assert (ss["win_x0"], ss["win_x1"], ss["win_y0"], ss["win_y1"]) == (x0, x1, y0, y1)
    assert at.query_params["x0"] == f"{x:g},{y:g}"


def test_a_custom_formula_with_my_own_window_starts_inside_that_window():
    at = page()
    at.sidebar.selectbox(key="surface").set_value("custom").run()
    at.sidebar.number_input(key="win_x0").set_value(10.0).run()
    at.sidebar.number_input(key="win_x1").set_value(20.0).run()
    at.sidebar.text_input(key="formula_text").set_value("(x-15)^2 + y^2").run()
    assert_clean(at)
    assert 10.0 <= at.session_state["start_x"] <= 20.0


FORMULA = "__import__('os')"


def test_a_formula_error_puts_a_caret_under_the_bad_character_in_a_code_block():
    at = page()
    at.sidebar.selectbox(key="surface").set_value("custom").run()
    at.sidebar.text_input(key="formula_text").set_value(FORMULA).run()
    assert not at.exception
    assert at.error and "unexpected character" in shown(at.error[0])
    (block,) = at.code
    assert type(block).__name__ == "Code"
    first_bad = FORMULA.index("'")  # the quote is the first character the formula language lacks
    assert block.value == FORMULA + "\n" + " " * first_bad + "^"
    # no Markdown element carries the formula unescaped (it would render as bold "import('os')")
    assert all("__import__" not in e.value for e in [*at.error, *at.markdown, *at.caption, *at.info])


def test_a_custom_formulas_title_is_text_not_markdown():
    at = page()
    at.sidebar.selectbox(key="surface").set_value("custom").run()
    at.sidebar.text_input(key="formula_text").set_value("x*y*3 + x^2 + y^2").run()
    assert_clean(at)
    assert heading(at) == "x*y*3 + x^2 + y^2"
    assert "x*y*3" not in at.markdown[0].value  # escaped, so it is not read as emphasis


def test_editing_the_view_window_applies_it():
    at = page()
    assert at.session_state["win_custom"] is False
    at.sidebar.number_input(key="win_x0").set_value(-1.5).run()
    assert_clean(at)
    assert at.session_state["win_custom"] is True
    assert at.query_params["w"].split(",")[0] == "-1.5"
    # the switch comes before the edges it governs
    first = at.sidebar.expander[0].children[0]
    assert type(first).__name__ == "Checkbox" and first.key == "win_custom"


def test_changing_an_optimizers_type_restores_the_new_types_defaults_and_keeps_its_panel_open():
    at = page()
    at.sidebar.number_input(key="r3_beta2").set_value(0.95).run()  # Adam's, racer 4
    at.sidebar.selectbox(key="r3_opt").set_value("lion").run()
    assert_clean(at)
    for h in OPTIMIZERS["lion"].hyperparameters:
        assert at.session_state[f"r3_{h.name}"] == h.default, h.name
    assert at.session_state["r3_beta2"] == 0.99  # Lion's declared default, not Adam's 0.999 nor the 0.95 typed
    panel = next(e for e in at.sidebar.expander if e.label.startswith("4."))
    assert panel.label == "4. Lion" and panel.proto.expanded
    assert f"lion(lr={OPTIMIZERS['lion'].hyperparameters[0].default:g}" in at.query_params["r"][3]


def test_heavy_ball_is_a_choice_and_survives_the_url():
    at = page()
    assert "heavy_ball" in at.sidebar.selectbox(key="r0_opt").options or \
        "Heavy-ball momentum" in at.sidebar.selectbox(key="r0_opt").options
    at.sidebar.selectbox(key="r0_opt").set_value("heavy_ball").run()
    at.sidebar.checkbox(key="r0_nesterov").check().run()
    assert_clean(at)
    link = dict(at.query_params)
    assert link["r"][0].startswith("heavy_ball(") and "nesterov=true" in link["r"][0]
    again = page(link)
    assert_clean(again)
    assert again.session_state["r0_opt"] == "heavy_ball" and again.session_state["r0_nesterov"] is True


def test_two_momentum_racers_differing_only_by_nesterov_read_differently():
    at = page({"s": "bowl", "r": ["momentum(lr=0.01,beta=0.9)", "momentum(lr=0.01,beta=0.9,nesterov=true)"]})
    assert_clean(at)
    a, b = labels(at)
    assert a != b and "nesterov" in b and "nesterov" not in a


def test_two_racers_differing_only_by_their_schedules_setting_read_differently():
    at = page({"s": "bowl", "r": ["sgd(lr=0.1)@inverse_time(decay=0.1)", "sgd(lr=0.1)@inverse_time(decay=0.5)"]})
    assert_clean(at)
    a, b = labels(at)
    assert a != b and "decay=0.5" in b


# -- the two momentum forms, said where the rules and the overlapping curves are shown ------

def test_the_rules_show_the_momentum_note_once_under_the_rules():
    at = page({"preset": "rosenbrock_race"})  # both forms race here
    at.session_state["tab"] = "Update rules"
    at.run()
    assert_clean(at)
    notes = [i.value for i in at.info if i.value == OVERLAP_NOTE]
    assert len(notes) == 1


def test_results_explain_sgd_and_momentum_overlapping_at_the_same_lr_only():
    at = page({"s": "rosenbrock", "r": ["sgd(lr=0.001)", "momentum(lr=0.001,beta=0.9)"]})
    assert any(i.value == OVERLAP_NOTE for i in at.info)
    other = page({"s": "rosenbrock", "r": ["sgd(lr=0.001)", "momentum(lr=0.002,beta=0.9)"]})
    assert not any(i.value == OVERLAP_NOTE for i in other.info)


@pytest.mark.slow
def test_the_mlp_page_explains_sgd_and_momentum_overlapping_beside_the_curves():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("views/mlp.py").run()
    at.sidebar.number_input(key="mlp_epochs").set_value(2).run()
    ids = at.session_state["m_ids"]
    for i in ids:
        if at.session_state[f"m{i}_opt"] not in ("sgd", "momentum"):
            at.sidebar.button(key=f"act_m{i}_remove").click().run()
    assert sorted(at.session_state[f"m{i}_opt"] for i in at.session_state["m_ids"]) == ["momentum", "sgd"]
    sgd = next(i for i in at.session_state["m_ids"] if at.session_state[f"m{i}_opt"] == "sgd")
    mom = next(i for i in at.session_state["m_ids"] if at.session_state[f"m{i}_opt"] == "momentum")
    at.sidebar.number_input(key=f"m{mom}_lr").set_value(at.session_state[f"m{sgd}_lr"]).run()
    at.button(key="act_mlp_train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(i.value == OVERLAP_NOTE for i in at.info)


def test_a_links_refused_formula_is_echoed_as_typed_with_its_caret():
    at = page({"s": "custom", "f": FORMULA})
    assert not at.exception
    assert any("formula" in shown(w) for w in at.warning)
    (block,) = at.code
    assert block.value == FORMULA + "\n" + " " * FORMULA.index("'") + "^"
    assert all("__import__" not in w.value for w in at.warning)
