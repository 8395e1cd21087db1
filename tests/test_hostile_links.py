"""Shared links that try to break the surfaces page, through the real server with Streamlit's own protocol (issue 15).

Each link is opened as a fresh tab by `tests/streamlit_client.py` (no browser):
the page must show no exception element, must draw the race (the animator's
component with a contour image), must not show an internal message such as
"math domain error", and must recover on the next control change. Text from a
link or a formula must never become Markdown: no link, image or HTML is
rendered from it, and the student reads it as typed. What the frontend renders
as Markdown is rendered here with markdown-it-py (CommonMark with GFM's
autolinks, as the frontend's remark-gfm does).

    pytest tests/test_hostile_links.py
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.proto.Alert_pb2 import Alert

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streamlit_client import Element, StreamlitClient  # noqa: E402
from support import serve  # noqa: E402

pytestmark = pytest.mark.slow

RACE_COMPONENT = "descent_race"
# messages of Python, NumPy or matplotlib that say nothing to a student about what to change
INTERNAL = re.compile(
    r"zero-size array|math domain error|too large to convert|has no attribute|unsupported operand|"
    r"is not a valid value for|must be real number|not subscriptable|object is not|Traceback|"
    r"invalid literal for|could not convert string|index \d+ is out of bounds|unhashable type"
)
# hosts that only hostile text names: a rendered link or image pointing there came from user text
HOSTILE_HOSTS = ("127.0.0.1:9", "evil.example")


def _markdown(allow_html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": allow_html, "linkify": True})
    return md.enable(["linkify", "strikethrough", "table"])


MD = {False: _markdown(False), True: _markdown(True)}


def markdown_sources(c: StreamlitClient) -> list[tuple[Element, str, bool]]:
    """Return (element, Markdown source, raw HTML allowed) for everything on the page the frontend renders as Markdown."""
    out = []
    for e in sorted(c.elements.values(), key=lambda e: e.path):
        p = e.proto
        if e.type == "markdown":
            out.append((e, p.body, bool(p.allow_html)))
        elif e.type in ("alert", "heading", "toast"):
            out.append((e, p.body, False))
        elif e.type == "exception" and p.message_is_markdown:
            out.append((e, p.message, False))
        for name in ("label", "help", "placeholder"):
            v = getattr(p, name, None) if e.type not in ("markdown", "alert", "heading") else None
            if isinstance(v, str) and v:
                out.append((e, v, False))
    return out


def rendered(source: str, allow_html: bool) -> tuple[str, str]:
    """Return (HTML, visible text) of Markdown as the frontend would render it."""
    out = MD[allow_html].render(source)
    text = html.unescape(re.sub(r"<[^>]+>", "", out))
    return out, text


def visible_text(c: StreamlitClient) -> str:
    """Return all the text a student reads on the page, Markdown rendered, joined by newlines.

    Code blocks (the formula's echo with its caret) are read as they are: the
    frontend shows their text verbatim, never as Markdown.
    """
    texts = [rendered(src, allow)[1] for _, src, allow in markdown_sources(c)]
    texts += [e.proto.code_text for e in sorted(c.elements_of("code"), key=lambda e: e.path)]
    return "\n".join(texts)


def markup_from_user_text(c: StreamlitClient) -> list[str]:
    """Return the links, images and HTML tags on the page that hostile text produced."""
    bad = []
    for e, src, allow in markdown_sources(c):
        out, _ = rendered(src, allow)
        for tag in re.findall(r"<(?:a|img)\b[^>]*>", out):
            if any(h in tag for h in HOSTILE_HOSTS):
                bad.append(f"{e.type} at {e.path} renders {tag} from {src[:120]!r}")
        if allow and re.search(r"<(?:script|iframe|img|a)\b", src) and any(h in src for h in HOSTILE_HOSTS):
            bad.append(f"{e.type} at {e.path} passes raw HTML from {src[:120]!r}")
    return bad


def race_payload(c: StreamlitClient) -> dict | None:
    """Return the payload the animator got, or None when it is not on the page."""
    for e in c.elements_of("bidi_component"):
        if e.proto.component_name == RACE_COMPONENT and e.proto.bytes:  # JSON bytes (app/race_component.py)
            return json.loads(e.proto.bytes).get("payload")
    return None


def problems(c: StreamlitClient, run, when: str) -> list[str]:
    """Return what is wrong with the page after a run: exceptions, no race, internal messages."""
    out = []
    if run.exceptions or c.exception_count():
        out.append(f"{when}: exception element(s): {run.exception_texts or c.exception_count()}")
    payload = race_payload(c)
    if payload is None:
        out.append(f"{when}: no race on the page (element types: {sorted({e.type for e in c.elements.values()})})")
    elif not str(payload.get("image", "")).startswith("data:image/") or not payload.get("racers"):
        out.append(f"{when}: the race has no contour image or no racers")
    internal = [t for t in (rendered(src, a)[1] for e, src, a in markdown_sources(c) if e.type == "alert")
                if INTERNAL.search(t)]
    if internal:
        out.append(f"{when}: internal message shown to the student: {internal}")
    return out


async def visit(base: str, query: str, *, change: tuple[str, object] = ("Steps", 300)) -> tuple[list[str], dict]:
    """Open ``base?query`` in a fresh tab, then change one control; return the problems found and what was seen."""
    seen: dict = {}
    async with StreamlitClient(base, timeout=120, fetch_static=False) as c:
        run = await c.open("", query_string=query)
        found = problems(c, run, "on opening the link")
        seen.update(text=visible_text(c), markup=markup_from_user_text(c), title=_title(c),
                    surface=_value(c, "Surface"), formula=_value(c, "Formula in x and y"))
        label, value = change
        try:
            w = c.find(label)
        except LookupError:
            found.append(f"after the link: no control {label!r} to change")
            return found, seen
        run = await c.set_value(w, value if w.value != value else 200)
        found += problems(c, run, f"after changing {label!r}")
        seen["markup"] += markup_from_user_text(c)
    return found, seen


def _title(c: StreamlitClient) -> str | None:
    """Return the rendered title of the surface on show (the page's "###" heading), or None."""
    for e, src, allow in markdown_sources(c):
        if e.type == "markdown" and src.startswith("### "):
            return rendered(src, allow)[1].strip()
    return None


def _value(c: StreamlitClient, label: str):
    try:
        return c.find(label).value
    except LookupError:
        return None


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    with serve(log=tmp_path_factory.mktemp("hostile_links") / "streamlit.log") as url:
        yield url


def run(coro):
    return asyncio.run(coro)


# -- the four links of the issue -----------------------------------------------------------

FOUR = {
    "steps_of_400_nines": "n=" + "9" * 400,
    "batch_size_on_a_formula_surface": "s=rosenbrock&b=5",
    "window_where_the_formula_has_no_value": "s=custom&f=sqrt(x)%2By%5E2&w=-10,-5,-1,1",
    "window_narrower_than_a_float": "w=0,5e-324,0,5e-324",
}


@pytest.mark.parametrize("query", list(FOUR.values()), ids=list(FOUR))
def test_the_reported_links_draw_and_recover(base, query):
    found, _ = run(visit(base, query))
    assert not found, found


@pytest.mark.parametrize(("query", "kept"), [
    ("s=rosenbrock&b=5", "Rosenbrock's banana"),  # the batch size goes, the surface stays
    ("s=custom&f=sqrt(x)%2By%5E2&w=-10,-5,-1,1", "sqrt(x)+y^2"),  # the window goes, the formula stays
    ("s=himmelblau&n=120&w=0,5e-324,0,5e-324", "Himmelblau"),  # the window goes, the surface stays
], ids=["batch_size", "formula_window", "narrow_window"])
def test_a_link_keeps_its_good_parts_when_one_part_cannot_be_drawn(base, query, kept):
    found, seen = run(visit(base, query))
    assert not found, found
    assert kept in (seen["surface"], seen["formula"]), seen
    # ...and the race drawn is that surface's: its title heads the plot
    assert seen["title"] == kept, seen["title"]


def test_a_batch_size_chosen_on_a_data_surface_does_not_follow_to_a_formula_surface(base):
    # the same cause as ?s=rosenbrock&b=5 reached by clicking: the batch-size control is hidden on a
    # formula surface, but its value stayed in the session and made every later scene fail
    import surfaces

    data = next(n for n, e in surfaces.CATALOGUE.items() if e.stochastic)

    async def go():
        async with StreamlitClient(base, timeout=120, fetch_static=False) as c:
            await c.open("")
            await c.set_value("Surface", surfaces.CATALOGUE[data].title)
            await c.set_value("Batch size", 5)
            r = await c.set_value("Surface", surfaces.CATALOGUE["rosenbrock"].title)
            found = problems(c, r, "after switching to Rosenbrock")
            # st.error and st.warning only: an st.info note (momentum's overlap with SGD) is no refusal
            errors = [e.text for e in c.elements_of("alert") if e.proto.format in (Alert.ERROR, Alert.WARNING)]
            return found, errors, _title(c)

    found, errors, title = run(go())
    assert not found, found
    assert not errors, errors
    assert title == "Rosenbrock's banana", title


# -- no Markdown from link text or formula text -----------------------------------------------

MARKUP = {
    "image_as_surface_name": ("s=" + quote("![t](http://127.0.0.1:9/t.png)"), "![t](http://127.0.0.1:9/t.png)"),
    "link_as_formula": ("s=custom&f=" + quote("[Session expired: log in](http://evil.example/)"),
                        "[Session expired: log in](http://evil.example/)"),
    "link_as_optimizer": ("r=" + quote("[Log in](http://evil.example/)"), "[Log in](http://evil.example/)"),
    "bare_url_as_window": ("w=" + quote("http://evil.example/x"), "http://evil.example/x"),
    "html_as_surface_name": ("s=" + quote("<img src=http://127.0.0.1:9/h.png>"), "<img src=http://127.0.0.1:9/h.png>"),
}


@pytest.mark.parametrize(("query", "text"), list(MARKUP.values()), ids=list(MARKUP))
def test_link_text_is_shown_as_text_never_as_markdown(base, query, text):
    found, seen = run(visit(base, query))
    assert not found, found
    assert not seen["markup"], seen["markup"]
    # the warning quotes what the link said, as the link said it
    assert text in seen["text"], f"{text!r} is not shown literally; the page reads:\n{seen['text']}"


def test_an_accepted_formula_is_shown_as_typed_not_as_markdown(base):
    # x*y*x is a product; in Markdown *y* is emphasis, and the heading would read "xyx"
    found, seen = run(visit(base, "s=custom&f=" + quote("x*y*x + y^2")))
    assert not found, found
    assert "x*y*x + y^2" in seen["text"], seen["text"]


def test_a_typed_formula_that_looks_like_a_link_is_shown_as_text(base):
    hostile = "[Session expired: log in](http://evil.example/)"

    async def go():
        async with StreamlitClient(base, timeout=120, fetch_static=False) as c:
            await c.open("")
            await c.set_value("Surface", "Custom formula...")
            r = await c.set_value("Formula in x and y", hostile)
            return problems(c, r, "after typing the formula"), markup_from_user_text(c), visible_text(c)

    found, markup, text = run(go())
    assert not found, found
    assert not markup, markup
    assert hostile in text, text


# -- a sweep of hostile query strings ---------------------------------------------------------

KEYS = ["s", "f", "w", "r", "x0", "xs", "rs", "n", "noise", "seed", "ns", "b", "present", "zz"]
HOSTILE_VALUES = [
    "9" * 400, "-" + "9" * 30, "1e309", "-1e309", "nan", "NaN", "inf", "-inf", "5e-324", "0", "-1", "1e15",
    "0,5e-324,0,5e-324", "nan,nan,nan,nan", "1e300,1e301,0,1", "-1e4,1e4,-1e4,1e4", "3,2,1,0", "1,2", "1,2;3",
    "nan,1", "1e308,1e308", ";;;", ",", "", " ", "true", "custom", "rosenbrock", "ackley", "two_moons_logistic",
    "sqrt(x)+y^2", "log(x)", "asin(x)*1e300", "x^(1/3)", "(" * 50 + "x" + ")" * 50, "x" * 400,
    "![t](http://127.0.0.1:9/t.png)", "[Session expired](http://evil.example/)", "<script>alert(1)</script>",
    "<img src=http://127.0.0.1:9/h.png>", "**bold** _it_ `code` $x$ :red[red]", "\u202eevil\u202c", "√x+ÿ²", "\x00",
    "sgd(lr=1e309)", "adam(lr=nan)", "sgd(lr=-1)", "sgd(lr=0.01)", "sgd(lr=0.01)@cosine(total_steps=0)",
    "lion(lr=0.1)#GGGGGG", "momentum(beta=1)", "sgd(" + "lr=0.1," * 60 + ")", "%", "%%25", "1" * 5000,
]
_value_strategy = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=60))
_query_strategy = st.lists(st.tuples(st.sampled_from(KEYS), _value_strategy), min_size=1, max_size=6)


# Each example is a page load on the live server (0.2 to 3 s), so no shrinking: a failure
# reports the query string as drawn, which reproduces it as it is.
@settings(max_examples=40, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pairs=_query_strategy)
def test_hostile_query_strings_draw_and_recover(base, pairs):
    query = urlencode(pairs)
    found, seen = run(visit(base, query))
    assert not found, (query[:300], found)
    assert not seen["markup"], (query[:300], seen["markup"])
