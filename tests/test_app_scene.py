"""The Scene value: validation, the URL round trip, presets, hostile links."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import surfaces
from app import presets
from app.cli import scene_from_link
from app.payload import RacePayloadError, check_payload, payload
from app.plots import tick_label
from app.race import main_start, run_race, starts_of
from app.racer import PALETTE, Racer
from app.scene import LIMITS, Scene, SceneError, load_surface
from surfaces.formula import MAX_LENGTH

ROOT = Path(__file__).resolve().parents[1]


def roundtrip(scene: Scene) -> tuple[Scene, list[str]]:
    """Encode a scene as a real URL query string and decode it again."""
    query = urlencode(scene.to_query(), doseq=True)
    return Scene.from_query(parse_qs(query, keep_blank_values=True))


def test_default_scene_survives_the_url():
    back, notes = roundtrip(Scene())
    assert notes == [] and back == Scene()


def test_rich_scene_survives_the_url_unchanged():
    scene = Scene(
        surface="custom", formula="(1-x)^2 + 100(y-x^2)^2", window=((-2.5, 2.25), (-1.0, 3.125)),
        racers=(Racer("momentum", (("lr", 0.0015), ("beta", 0.95), ("nesterov", True)), color="#D55E00"),
                Racer("adam", (("lr", 0.05), ("beta1", 0.8), ("beta2", 0.999), ("eps", 1e-08)), "cosine",
                      (("total_steps", 300), ("lr_min_ratio", 0.1)), "#0072B2")),
        start=(-1.2, 1.0), more_starts=((0.5, 0.25), (-1.75, 2.0)), random_starts=3, steps=321, noise=0.35,
        seed=42, n_seeds=2,
    )
    back, notes = roundtrip(scene.check())
    assert notes == []
    assert back == scene


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-5, 10, allow_nan=False), beta=st.floats(0, 0.999), steps=st.integers(1, 5000),
    x=st.floats(-5, 5), y=st.floats(-5, 5), noise=st.floats(0, 100), seed=st.integers(0, 2**31 - 1),
    name=st.sampled_from(["rosenbrock", "himmelblau", "ravine", "saddle"]),
)
def test_any_valid_scene_round_trips(lr, beta, steps, x, y, noise, seed, name):
    scene = Scene(surface=name, racers=(Racer("momentum", (("lr", lr), ("beta", beta)), color=PALETTE[1]),),
                  start=(x, y), steps=steps, noise=noise, seed=seed)
    back, notes = roundtrip(scene)
    assert notes == [] and back == scene


@pytest.mark.parametrize("query, fragment", [
    ("s=custom&f=__import__('os').system('ls')", "formula"),
    ("s=custom&f=x.__class__", "formula"),
    ("s=custom&f=9**9**9", "formula"),
    ("s=custom&f=" + "(" * 500 + "x" + ")" * 500, "formula"),
    ("s=nowhere", "no such surface"),
    ("n=999999", "steps"),
    ("n=abc", "steps"),
    ("noise=nan", "noise"),
    ("x0=1", "x0"),
    ("w=1,0,0,1", "window"),
    ("r=adam(lr=-1)", "lr"),
    ("r=evil(lr=1)", "unknown optimizer"),
    ("r=adam(lr=__import__)", "lr"),
    ("r=adam(lr=0.1);DROP", "cannot read"),
])
def test_bad_or_hostile_links_fall_back_with_a_message(query, fragment):
    scene, notes = Scene.from_query(parse_qs(query, keep_blank_values=True))
    assert notes, query
    assert any(fragment in n for n in notes), notes
    scene.check()  # whatever came back can be drawn


def test_one_bad_part_keeps_the_rest_of_the_link():
    scene, notes = Scene.from_query(parse_qs("s=himmelblau&n=abc&seed=7", keep_blank_values=True))
    assert scene.surface == "himmelblau" and scene.seed == 7 and scene.steps == Scene().steps
    assert len(notes) == 1


def test_check_names_the_problem():
    with pytest.raises(SceneError, match="steps must be between 1 and 5000"):
        Scene(steps=0).check()
    with pytest.raises(SceneError, match="paths at once"):
        Scene(random_starts=LIMITS["random_starts"][1], n_seeds=8).check()
    with pytest.raises(SceneError, match="learning rate|lr"):
        Scene(racers=(Racer("sgd", (("lr", 1e6),)),)).check()
    with pytest.raises(SceneError, match="x min < x max"):
        Scene(window=((1.0, 0.0), (0.0, 1.0))).check()


def test_racer_text_form():
    r = Racer.from_text("adam(lr=0.01,beta1=0.8)@step(step_size=10,gamma=0.5)#0072b2")
    assert r == Racer("adam", (("lr", 0.01), ("beta1", 0.8)), "step", (("step_size", 10), ("gamma", 0.5)), "#0072B2")
    assert Racer.from_text(r.to_text()) == r
    assert r.make().lr_at(11) == pytest.approx(0.005)


def test_every_preset_is_a_valid_scene_with_a_lesson():
    ps = presets.presets()
    assert len(ps) >= 7
    for name in ("ravine", "rosenbrock_race", "saddle_escape", "rastrigin_traps", "himmelblau_basins",
                 "lr_too_large", "noise_floor"):
        scene = ps[name]
        assert scene.title and scene.lesson
        scene.check()
        back, notes = roundtrip(scene)
        assert notes == [] and back == scene


def test_link_parsing_accepts_a_full_address():
    scene, notes = scene_from_link("http://localhost:8501/surfaces?s=himmelblau&n=40&r=sgd(lr%3D0.01)")
    assert notes == [] and scene.surface == "himmelblau" and scene.steps == 40
    assert scene.racers == (Racer("sgd", (("lr", 0.01),)),)


def test_point_budget_bounds_what_travels_to_the_browser():
    four = tuple(Racer("adam", (("lr", 0.01),)) for _ in range(4))
    Scene(racers=four, steps=4999).check()  # 4 x 5000 points: at the budget
    with pytest.raises(SceneError, match="points, more than"):
        Scene(racers=four, steps=5000).check()
    with pytest.raises(SceneError, match="use fewer steps"):
        Scene(racers=four, random_starts=8, steps=1000).check()


def test_a_link_with_a_window_but_no_start_starts_inside_that_window():
    formula = "2^x + 3y^2 - x*y/(1 + x^2)"
    surf = load_surface("custom", formula)
    assert surf.start == (2.1, -2.1)  # chosen near a corner of the surface's own window, (-3, 3) x (-3, 3)
    scene, notes = scene_from_link("?" + urlencode({"s": "custom", "f": formula, "w": "-2,2,-2,2"}))
    assert scene.start is None and not notes
    # moved 15 % inside the edges it was beyond: x to 2 - 0.6, y to -2 + 0.6
    assert main_start(scene, surf) == (1.4, -1.4)
    assert tuple(starts_of(scene, surf)[0]) == (1.4, -1.4)
    # a start inside the window, or a scene without a window, is left alone
    wide, _ = scene_from_link("?" + urlencode({"s": "custom", "f": formula, "w": "-4,4,-4,4"}))
    assert main_start(wide, surf) == (2.1, -2.1)
    assert main_start(scene_from_link("?" + urlencode({"s": "custom", "f": formula}))[0], surf) == (2.1, -2.1)


@pytest.mark.parametrize(("value", "text"), [
    (0.26, "0.26"), (1.7, "1.7"), (74.0, "74"), (480.0, "480"), (2500.0, "2500"), (12345.0, "12000"),
    (0.001, "0.001"), (4.8e5, "4.8e5"), (1.23e-5, "1.2e-5"), (1e-5, "1e-5"), (0.0, "0"), (-1234.0, "-1200"),
])
def test_colour_bar_ticks_are_written_out_in_the_everyday_range(value, text):
    assert tick_label(value) == text


def test_every_racer_reaches_the_browser_with_a_colour():
    """A link may name optimizers without colours: the palette, in Python only, gives each one in list order."""
    scene, notes = scene_from_link("?s=bowl&n=5&r=sgd(lr%3D0.1)&r=adam(lr%3D0.1)%230072B2&r=momentum(lr%3D0.1)")
    assert not notes
    race = run_race(scene)
    assert [r.color for r in race.runs] == [PALETTE[0], "#0072B2", PALETTE[2]]
    view = payload(race, "")
    check_payload(view)
    assert [r["color"] for r in view["racers"]] == [PALETTE[0], "#0072B2", PALETTE[2]]
    view["racers"][1]["color"] = ""
    with pytest.raises(RacePayloadError, match="colour"):
        check_payload(view)


def test_check_refuses_mini_batches_the_surface_cannot_draw():
    with pytest.raises(SceneError, match="no mini-batches"):
        Scene(batch_size=5).check()
    with pytest.raises(SceneError, match="between 1 and 40"):
        Scene(surface="line_fit", batch_size=41).check()
    Scene(surface="line_fit", batch_size=40, steps=10).check()


def test_limits_stay_inside_what_the_surfaces_can_record():
    assert LIMITS["steps"][1] <= surfaces.MAX_STEPS
    assert LIMITS["paths"][1] <= surfaces.MAX_STARTS and LIMITS["points"][1] <= surfaces.MAX_POINTS
    assert LIMITS["formula_chars"][1] <= MAX_LENGTH
    assert LIMITS["batch_size"][1] == max(e.n_examples for e in surfaces.DATA_ENTRIES)


def test_importing_the_surfaces_page_starts_no_thread():
    code = "import threading, app.page_surfaces, app.images; print(threading.active_count())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


# -- legend labels and the momentum note ----------------------------------------------------

def test_labels_name_every_setting_that_differs_from_its_default():
    plain = Racer("momentum", (("lr", 0.01), ("beta", 0.9), ("nesterov", False)))
    nesterov = Racer("momentum", (("lr", 0.01), ("beta", 0.9), ("nesterov", True)))
    assert plain.label() == "Momentum (lr=0.01)"  # beta 0.9 and no Nesterov are the declared defaults
    assert nesterov.label() == "Momentum (lr=0.01, nesterov)"
    slow = Racer("sgd", (("lr", 0.1),), "inverse_time", (("decay", 0.5),))
    default = Racer("sgd", (("lr", 0.1),), "inverse_time", (("decay", 0.01),))
    assert slow.label() == "SGD (lr=0.1, 1/t decay: decay=0.5)" and default.label() == "SGD (lr=0.1, 1/t decay)"
    assert Racer("lion", (("lr", 0.001), ("beta2", 0.999))).label() == "Lion (lr=0.001, beta2=0.999)"


def test_heavy_ball_survives_the_url():
    scene = Scene(racers=(Racer("heavy_ball", (("lr", 0.001), ("beta", 0.95), ("nesterov", True)), color="#E69F00"),))
    back, notes = roundtrip(scene.check())
    assert notes == [] and back == scene


def test_the_overlap_note_needs_sgd_and_moving_average_momentum_at_one_lr():
    from app.controls import overlap_note
    from optim import OVERLAP_NOTE

    sgd, mom = Racer("sgd", (("lr", 0.01),)), Racer("momentum", (("lr", 0.01), ("beta", 0.5)))
    assert overlap_note([sgd, mom]) == OVERLAP_NOTE
    assert overlap_note([sgd, Racer("momentum", (("lr", 0.02),))]) == ""
    assert overlap_note([sgd, Racer("heavy_ball", (("lr", 0.01),))]) == ""  # its steps are 1/(1-beta) larger
    assert overlap_note([Racer("sgd"), Racer("momentum")]) == OVERLAP_NOTE  # both at the declared default lr


def test_outcome_overlay_travels_in_the_link_counting_optimizers_from_one():
    scene = Scene(surface="himmelblau", overlay=2).check()
    query = scene.to_query()
    assert query["ov"] == "3"  # the third optimizer, as a student counts
    back, notes = roundtrip(scene)
    assert notes == [] and back.overlay == 2 and back == scene
    assert "ov" not in Scene(surface="himmelblau").to_query()  # none: the surface's colours, left out


@pytest.mark.parametrize("raw, fragment", [("0", "from 1"), ("-2", "from 1"), ("x", "number"), ("1.5", "number"),
                                           ("99", "between")])
def test_a_bad_overlay_in_a_link_falls_back_to_the_surface_with_a_note(raw, fragment):
    scene, notes = Scene.from_query(parse_qs(f"s=himmelblau&seed=5&ov={raw}", keep_blank_values=True))
    assert scene.overlay is None and scene.seed == 5 and scene.surface == "himmelblau"
    assert len(notes) == 1 and "ov=" in notes[0] and fragment in notes[0], notes


def test_an_overlay_past_the_links_own_optimizers_is_dropped_and_the_rest_kept():
    # a valid number, but the link lists two optimizers: the check (not the field) refuses the fifth
    scene, notes = Scene.from_query(parse_qs("s=himmelblau&r=sgd(lr=0.01)&r=adam(lr=0.1)&ov=5&n=300",
                                             keep_blank_values=True))
    assert scene.overlay is None and len(scene.racers) == 2 and scene.steps == 300
    assert len(notes) == 1 and "outcome map under the race" in notes[0] and "has 2" in notes[0], notes
    kept, notes = Scene.from_query(parse_qs("s=himmelblau&r=sgd(lr=0.01)&r=adam(lr=0.1)&ov=2", keep_blank_values=True))
    assert kept.overlay == 1 and notes == []


def test_check_refuses_an_overlay_of_a_racer_the_scene_does_not_have():
    with pytest.raises(SceneError, match="optimizer 5, but the scene has 4"):
        Scene(overlay=4).check()
    with pytest.raises(SceneError, match="whole number"):
        Scene(overlay=1.5).check()
    with pytest.raises(SceneError, match="between"):
        Scene(overlay=-1).check()
