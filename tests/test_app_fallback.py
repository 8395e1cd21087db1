"""A scene that cannot be drawn falls back part by part; user text is shown as text (issue 15, items 4, 7 and 9).

The part-by-part fallback is checked with ``works`` functions written here
that refuse chosen parts, so which parts must go is known independently of the
code; the Markdown escaping is checked by rendering with markdown-it-py
(CommonMark with autolinks), the renderer the frontend's remark-gfm follows.
"""

from __future__ import annotations

import html
import logging
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from PIL import Image

import surfaces
from app.fallback import UNEXPECTED, drawable, student_message
from app.payload import _decimals
from app.racer import Racer
from app.scene import PARTS, Scene, SceneError, fall_back
from app.text import as_text

ROOT = Path(__file__).resolve().parents[1]
DATA = next(e.name for e in surfaces.DATA_ENTRIES)

# a scene whose every part differs from the default
RICH = Scene(
    surface=DATA, window=((-2.0, 2.0), (-1.0, 3.0)), racers=(Racer("adam", (("lr", 0.1),)),),
    start=(0.5, 0.5), more_starts=((1.0, 1.0),), random_starts=2, steps=200, noise=0.5, seed=3, n_seeds=2,
    batch_size=5, overlay=0,
)


def link(query: str) -> tuple[Scene, list[str]]:
    return Scene.from_query(parse_qs(query, keep_blank_values=True))


def refusing(**bad):
    """Return a ``works`` that raises SceneError while any field named in ``bad`` has the value given there."""
    def works(scene: Scene) -> None:
        for name, value in bad.items():
            if getattr(scene, name) == value:
                raise SceneError(f"{name} refused")
    return works


def test_every_scene_field_belongs_to_one_part():
    fields = {f for _, names in PARTS for f in names}
    assert fields == {"surface", "formula", "window", "racers", "start", "more_starts", "random_starts", "steps",
                      "noise", "seed", "n_seeds", "batch_size", "overlay"}
    assert sum(len(names) for _, names in PARTS) == len(fields)


def test_a_scene_that_works_is_kept_whole():
    assert fall_back(RICH, refusing()) == (RICH, [])


@pytest.mark.parametrize(("field", "label", "default"), [
    ("batch_size", "batch size", 0),
    ("window", "window", None),
    ("start", "start point", None),
    ("steps", "number of steps", 1000),
    ("racers", "optimizers", Scene().racers),
])
def test_only_the_part_that_fails_goes_back_to_its_default(field, label, default):
    scene, notes = fall_back(RICH, refusing(**{field: getattr(RICH, field)}))
    assert scene == RICH.__class__(**{**RICH.__dict__, field: default})
    assert notes == [f"the link's {label} cannot be drawn ({field} refused); using the default {label} instead"]


def test_a_part_tried_on_the_way_is_kept_when_the_scene_works_with_it():
    # the noise fails, but the window, extra starts and start come before it in the order of PARTS:
    # each goes back to its default on the way, and each comes back once the noise is gone
    scene, notes = fall_back(RICH, refusing(noise=0.5))
    assert scene == Scene(**{**RICH.__dict__, "noise": 0.0, "seed": 0, "n_seeds": 1})
    assert len(notes) == 1 and "gradient noise and seeds" in notes[0] and "noise refused" in notes[0]


def test_two_independent_failures_drop_two_parts_and_keep_the_rest():
    scene, notes = fall_back(RICH, refusing(window=RICH.window, racers=RICH.racers))
    assert scene == Scene(**{**RICH.__dict__, "window": None, "racers": Scene().racers})
    assert [n.split(" cannot")[0] for n in notes] == ["the link's window", "the link's optimizers"]


def test_two_parts_that_fail_only_together_lose_the_earlier_one():
    # refused only while both the window and the steps are the link's: dropping the window is enough
    def works(scene):
        if scene.window == RICH.window and scene.steps == RICH.steps:
            raise SceneError("window and steps together refused")
    scene, notes = fall_back(RICH, works)
    assert scene == Scene(**{**RICH.__dict__, "window": None})
    assert len(notes) == 1 and notes[0].startswith("the link's window")


def test_the_last_resort_is_the_default_scene():
    scene, notes = fall_back(RICH, lambda s: None if s == Scene() else s.no_such_attribute)
    assert scene == Scene()
    # every part the rich scene sets is named once, in the order of PARTS
    assert [n.split(" cannot")[0].removeprefix("the link's ") for n in notes] == [label for label, _ in PARTS]


def test_an_unexpected_error_is_logged_and_the_student_reads_what_to_change(caplog):
    def draw(scene):
        if scene.steps == 200:
            return 1 / 0
    with caplog.at_level(logging.ERROR, logger="app.fallback"):
        scene, notes = drawable(RICH, draw)
    assert scene.steps == 1000 and scene.window == RICH.window
    assert len(notes) == 1 and UNEXPECTED in notes[0] and "division" not in notes[0]
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_project_errors_keep_their_own_message():
    for err in (SceneError("steps must be between 1 and 5000"), surfaces.SurfaceError("pick a window"),
                surfaces.TraceError("the batch size must be between 1 and 40, got 50")):
        assert student_message(err) == str(err)


# -- the links, read by the Scene (the page's test through the server is test_hostile_links.py) ------

def test_steps_of_400_nines_go_back_to_the_default_with_a_short_note():
    scene, notes = link("s=himmelblau&n=" + "9" * 400)
    assert scene.surface == "himmelblau" and scene.steps == Scene().steps
    assert len(notes) == 1 and "between 1 and 5000" in notes[0] and len(notes[0]) < 200


@pytest.mark.parametrize("value", ["nan", "inf", "1e309", "-" + "9" * 40])
def test_numbers_no_float_can_compare_are_refused_by_name(value):
    scene, notes = link(f"s=bowl&noise={value}&seed=4")
    assert scene.surface == "bowl" and scene.noise == 0.0 and scene.seed == 4
    assert len(notes) == 1 and "noise" in notes[0]


def test_a_batch_size_on_a_formula_surface_is_dropped_and_the_surface_kept():
    scene, notes = link("s=rosenbrock&b=5&n=300")
    assert (scene.surface, scene.batch_size, scene.steps) == ("rosenbrock", 0, 300)
    assert len(notes) == 1 and "no mini-batches" in notes[0]


def test_a_batch_size_on_a_data_surface_is_kept_within_its_examples():
    n = surfaces.CATALOGUE[DATA].n_examples
    assert link(f"s={DATA}&b=5")[0].batch_size == 5
    scene, notes = link(f"s={DATA}&b={n + 1}")
    assert scene.surface == DATA and scene.batch_size == 0
    assert len(notes) == 1 and f"between 1 and {n}" in notes[0]


def test_a_window_where_the_formula_has_no_value_is_dropped_and_the_formula_kept():
    scene, notes = link("s=custom&f=sqrt(x)%2By%5E2&w=-10,-5,-1,1")
    assert (scene.surface, scene.formula, scene.window) == ("custom", "sqrt(x)+y^2", None)
    assert len(notes) == 1 and "window" in notes[0] and "no real, finite value" in notes[0]
    # the same formula over a window where it is defined keeps that window
    assert link("s=custom&f=sqrt(x)%2By%5E2&w=1,5,-1,1")[0].window == ((1.0, 5.0), (-1.0, 1.0))


def test_a_window_narrower_than_a_float_is_dropped_and_the_surface_kept():
    scene, notes = link("s=himmelblau&n=120&w=0,5e-324,0,5e-324")
    assert (scene.surface, scene.steps, scene.window) == ("himmelblau", 120, None)
    assert len(notes) == 1 and "too narrow" in notes[0]


def test_coordinate_decimals_follow_the_span_and_stay_in_float_range():
    # 1/5000 of the span: span 1 -> 2e-4 needs 4 decimals; span 100 -> 0.02 needs 2; span 1e5 -> 20 needs 0
    assert (_decimals(1.0), _decimals(100.0), _decimals(1e5)) == (4, 2, 0)
    assert _decimals(5e-324) == 15 and _decimals(0.0) == 15 and _decimals(-1.0) == 15


def test_the_command_line_renders_a_link_whose_optimizer_has_no_colour(tmp_path):
    out = tmp_path / "x.png"
    res = subprocess.run([sys.executable, "-m", "app", "render", "--link",
                          "http://localhost:8501/?s=bowl&n=20&r=sgd(lr%3D0.01)", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert Image.open(out).format == "PNG"


# -- user text shown as text ---------------------------------------------------------------------------

MD = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["linkify", "strikethrough", "table"])
# as remark-gfm: a bare host is a link only after www. or a scheme ("example.com" stays text)
MD.linkify.set({"fuzzy_link": False})


def shown(markdown: str) -> tuple[str, str]:
    """Return (HTML, visible text) of Markdown as the frontend renders it."""
    out = MD.render(markdown)
    return out, html.unescape(re.sub(r"<[^>]+>", "", out))


@pytest.mark.parametrize("text", [
    "![t](http://127.0.0.1:9/t.png)",
    "[Session expired: log in](http://evil.example/)",
    "<img src=http://127.0.0.1:9/h.png>",
    "<script>alert(1)</script>",
    "see http://evil.example/x or www.evil.com or mail@evil.com",
    "**bold** _it_ `code` $x$ ~~gone~~ :red[red] :material/home:",
    "x*y*x + y^2",
    "# heading",
    "1. item",
    "2) item",
    "- item",
    "+ item",
    "> quote",
    "a | b",
    "&amp; &lt;",
    "\\*not emphasis\\*",
])
def test_as_text_renders_as_typed_with_no_markup(text):
    out, visible = shown(as_text(text))
    assert visible.strip() == text
    assert re.fullmatch(r"<p>.*</p>\n", out, re.S), out  # one plain paragraph: no link, image, code, list, heading


def test_as_text_keeps_line_breaks_and_makes_no_code_block_or_list_of_a_later_line():
    out, visible = shown(as_text("first line\n    indented\n- dash\n==="))
    assert visible.strip().splitlines() == ["first line", "indented", "- dash", "==="]
    assert out.count("<p>") == 1 and "<pre>" not in out and "<li>" not in out and "<h" not in out


@given(st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_categories=("Cs",)), max_size=80))
def test_any_line_of_text_reads_as_typed(text):
    out, visible = shown(as_text(text))
    assert visible.strip() == text.strip()
    assert not re.search(r"<(?:a|img|em|strong|code|del|h\d|li|pre|blockquote|table|script)\b", out), out
