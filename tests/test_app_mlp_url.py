"""The MLP page's Experiment in the address bar, headless with AppTest: written as controls change, followed on
Back and Forward, and kept apart from the surfaces page's scene.

Expected URLs are ``to_query`` of experiments built here from ``Experiment``'s own fields (and the presets'
TOML), never read back from the page; expected scenes are those of a page opened with no link at all.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from support import mlp_page

from app.experiment import PRESETS_FILE, Experiment, normalized, to_query
from app.racer import PALETTE, Racer
from app.scene import Scene
from app.state import EXPERIMENT_KEYS, SCENE_KEYS, experiment_query, scene_query

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
MLP, SURFACES = "views/mlp.py", "views/surfaces.py"


def url(at: AppTest) -> dict:
    """Return the page's query parameters as ``to_query`` writes them: the racers' list, one value for the rest."""
    def one(k, v):
        if k == "r":
            return [v] if isinstance(v, str) else list(v)
        return v if isinstance(v, str) else v[-1]
    return {k: one(k, v) for k, v in at.query_params.items()}


def expected_url(exp: Experiment) -> dict:
    """Return the URL of ``exp`` as the controls hold it: every default written out."""
    return to_query(normalized(exp))


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(element) -> str:
    """Return the text a Markdown element shows (its source without the backslash escapes)."""
    return re.sub(r"\\(.)", r"\1", element.value)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]


# -- which page owns which key ----------------------------------------------------------------

def test_the_key_tables_are_the_codecs_keys():
    """Each page's table lists every key its codec writes (a rich scene, an experiment with every part set)."""
    scene = Scene(surface="custom", formula="x^2+y^2", window=((-2, 2), (-1, 1)), start=(1, 1),
                  more_starts=((0.5, 0.5),), random_starts=2, steps=300, noise=0.1, seed=3, n_seeds=2,
                  insides=True, equal=False)
    assert set(scene.to_query()) | {"preset", "present"} <= SCENE_KEYS
    exp = Experiment(dataset="spiral", dataset_params=(("noise", 0.1),), sharpness_every=5)
    assert set(to_query(exp)) == EXPERIMENT_KEYS


@pytest.mark.parametrize("query, scene, experiment", [
    # an MLP link: its racers, batch size and seed are no scene's
    ({"d": ["two_moons"], "r": ["sgd(lr=30)"], "b": ["32"], "seed": ["1"]}, {},
     {"d": ["two_moons"], "r": ["sgd(lr=30)"], "b": ["32"], "seed": ["1"]}),
    # a scene link: none of it is an experiment's; a key the table does not list (ov) still reaches the scene
    ({"s": ["himmelblau"], "r": ["adam(lr=0.02)"], "seed": ["1"], "ov": ["1"]},
     {"s": ["himmelblau"], "r": ["adam(lr=0.02)"], "seed": ["1"], "ov": ["1"]}, {}),
    # only shared keys: each page reads them as its own; the MLP page reads no key of neither page
    ({"r": ["adam(lr=0.02)"], "utm_source": ["mail"]}, {"r": ["adam(lr=0.02)"], "utm_source": ["mail"]},
     {"r": ["adam(lr=0.02)"]}),
    # both pages' keys: each page takes its own
    ({"s": ["himmelblau"], "d": ["spiral"], "seed": ["4"]}, {"s": ["himmelblau"], "seed": ["4"]},
     {"d": ["spiral"], "seed": ["4"]}),
])
def test_each_page_reads_its_own_keys(query, scene, experiment):
    assert scene_query(query) == scene
    assert experiment_query(query) == experiment


# -- the address bar follows the controls ----------------------------------------------------

def test_changing_controls_writes_the_experiment_into_the_url():
    at = mlp_page()
    assert set(at.query_params) == EXPERIMENT_KEYS  # the scene's keys are gone
    assert url(at) == expected_url(Experiment())
    at.sidebar.number_input(key="mlp_epochs").set_value(7).run()
    at.sidebar.text_input(key="mlp_hidden").set_value("8, 4").run()
    at.sidebar.number_input(key="m0_lr").set_value(0.05).run()
    assert_clean(at)
    sgd = Experiment().racers[0]
    expected = replace(Experiment(), epochs=7, hidden=(8, 4),
                       racers=(replace(sgd, hp=(("lr", 0.05),)), *Experiment().racers[1:]))
    assert url(at) == expected_url(expected)


def test_controls_that_make_no_experiment_leave_the_last_good_url():
    at = mlp_page()
    at.sidebar.number_input(key="mlp_epochs").set_value(9).run()
    at.sidebar.text_input(key="mlp_hidden").set_value("64, lots").run()
    assert at.error and "lots" in at.error[0].value
    assert url(at) == expected_url(replace(Experiment(), epochs=9))


@pytest.mark.parametrize("name", ["dropout", "edge_of_stability"])
def test_a_preset_writes_its_experiment_and_its_link_shows_its_lesson(name):
    spec = tomllib.loads(PRESETS_FILE.read_text())[name]
    at = mlp_page()
    at.sidebar.selectbox(key="mlp_preset").set_value(name).run()
    assert_clean(at)
    written = url(at)
    # every key the preset's TOML gives, as written there (racers: optimizer, its given lr, colour)
    for key in ("d", "h", "ep", "b", "seed"):
        assert written[key] == spec[key], key
    def racers(texts):
        return [(r.optimizer, r.values()["lr"], r.color) for r in map(Racer.from_text, texts)]

    assert racers(written["r"]) == racers(spec["r"])
    # the copied link, opened in a new session, selects the preset again and shows its lesson
    fresh = mlp_page(written)
    assert_clean(fresh)
    assert fresh.session_state["mlp_preset"] == name
    assert any(spec["lesson"] in shown(i) for i in fresh.info)
    assert url(fresh) == written


def test_back_and_forward_restore_the_controls():
    at = mlp_page()
    at.sidebar.number_input(key="mlp_epochs").set_value(7).run()
    first = url(at)
    at.sidebar.text_input(key="mlp_hidden").set_value("8").run()
    at.sidebar.selectbox(key="mlp_dataset").set_value("spiral").run()
    second = url(at)
    assert first != second
    at.query_params.clear()
    at.query_params.update(first)  # Back: Streamlit reruns the page with the previous entry's URL
    at.run()
    assert_clean(at)
    ss = at.session_state
    assert (ss["mlp_dataset"], ss["mlp_hidden"], ss["mlp_epochs"]) == ("two_moons", "16, 16", 7)
    assert url(at) == first
    at.query_params.clear()
    at.query_params.update(second)  # Forward
    at.run()
    assert_clean(at)
    assert (ss["mlp_dataset"], ss["mlp_hidden"], ss["mlp_epochs"]) == ("spiral", "8", 7)


def test_a_control_changed_while_the_url_is_stale_wins():
    at = mlp_page()
    first = url(at)
    at.sidebar.number_input(key="mlp_epochs").set_value(7).run()
    at.query_params.clear()
    at.query_params.update(first)  # the click raced the page's new URL
    at.sidebar.number_input(key="mlp_epochs").set_value(8).run()
    assert_clean(at)
    assert at.session_state["mlp_epochs"] == 8 and at.query_params["ep"] == "8"


# -- hostile links ------------------------------------------------------------------------

def test_a_hostile_link_falls_back_part_by_part_and_the_url_is_written_clean():
    at = mlp_page({"d": "spiral", "h": "16,<script>", "ep": "1e9", "kp": "nan", "seed": "5",
                   "r": ["adam(lr=-1)", "rmsprop(lr=0.003)"], "utm_source": "mail"})
    assert not at.exception and not at.error
    notes = [w.value for w in at.warning]
    assert len(notes) == 4, notes
    for part in ("hidden layers", "epochs", "keep prob", "optimizer 1"):
        assert any(n.startswith("From the link:") and part in n for n in notes), (part, notes)
    # the good parts kept, each bad one at its default; the second optimizer keeps its place's colour
    expected = replace(Experiment(), dataset="spiral", seed=5,
                       racers=(Racer("rmsprop", (("lr", 0.003),), color=PALETTE[1]),))
    assert url(at) == expected_url(expected)


# -- each page reads only its own keys ---------------------------------------------------------

def test_an_mlp_link_on_the_surfaces_page_leaves_the_scene_at_its_defaults():
    default = url(app())  # the surfaces page opened with no link
    link = expected_url(replace(Experiment(), seed=3, batch_size=4,
                                racers=(Racer("sgd", (("lr", 30.0),), color="#D55E00"),)))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(link)
    at.run()
    assert_clean(at)
    assert url(at) == default  # written clean: the scene's keys only
    # no error about the link, and a way to open it where it belongs
    assert any("MLP" in i.value for i in at.info)
    (offer,) = at.get("page_link")
    assert "MLP" in offer.proto.label


def test_a_scene_link_on_the_mlp_page_leaves_the_experiment_at_its_defaults():
    at = mlp_page({"s": "himmelblau", "r": ["adam(lr=0.02)#009E73"], "seed": "5", "b": "4"})
    assert_clean(at)
    assert url(at) == expected_url(Experiment())


def test_switching_pages_carries_no_foreign_keys_and_keeps_each_pages_values():
    at = app()
    at.sidebar.number_input(key="steps").set_value(321).run()
    scene_url = url(at)
    at.switch_page(MLP).run()  # AppTest keeps the query across the switch: the harder case
    at.sidebar.number_input(key="mlp_seed").set_value(5).run()
    mlp_url = url(at)
    assert set(mlp_url) <= EXPERIMENT_KEYS and mlp_url == expected_url(replace(Experiment(), seed=5))
    at.switch_page(SURFACES).run()
    assert_clean(at)
    assert url(at) == scene_url and at.session_state["steps"] == 321
    at.switch_page(MLP).run()
    assert_clean(at)
    assert url(at) == mlp_url and at.session_state["mlp_seed"] == 5
