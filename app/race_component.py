"""The race animator: a Streamlit component that plays an optimizer race in the browser.

The page sends one compact payload per scene; playback, scrubbing, speed and the
loss chart's scale then live in the browser, which never calls the server while
playing. The only thing that comes back is a click on the map: a new start, or
with Shift (or Alt) held a probe point whose curvature the page computes.

What the browser does with the payload (its shape and its one check are in
``app/payload.py``):

- 1x plays 60 steps per second; races shorter than 240 steps are slowed so
  they last 4 s at 1x. Speeds run from 0.25x to 8x.
- The loss chart draws each racer's *first* start (the legend's loss is the
  same one). Its log scale applies only when every loss drawn is above zero;
  otherwise the chart stays linear and says why. On the linear scale the range
  follows the racers that did not diverge, so one blow-up does not flatten the
  rest. On the log scale the axis runs from the highest loss reached (diverged
  runs included, at most 12 decades above the start) down to at most 8 decades
  below the start loss; lower values are drawn along the bottom edge, so a
  blow-up shows as a rising line rather than a stub under a converging run.
- Keys: space plays or pauses, left/right step, Home restarts and plays, End
  jumps to the last step. They work while the component has focus, and
  everywhere on the page (outside text fields and other controls) in
  presenter mode.
- A diverged path ends with a red cross where it left the window (or at its
  last point if that is inside) once playback reaches ``diverged_at``.
- A Map / 3-D / Both switch shows the race on the surface as a WebGL mesh
  (``component/view3d.js``, three.js vendored under ``component/vendor/three``),
  instead of the map or, on a component at least ``BOTH_FROM_PX`` (1400) CSS
  pixels wide, beside it; narrower, "Both" is disabled and a chosen "Both"
  shows the 3-D view alone until there is room again. Turning and zooming stay
  in the browser, a click on the mesh is a new start. The first switch away
  from the map costs one rerun (the page then sends three.js); later switches,
  turns and frames cost none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from .payload import EncodedPayload

_ASSETS = Path(__file__).parent / "component"
_IMPORT = re.compile(r'^import\s[^;]*?from\s+"\./([\w.-]+)";\n', re.M)


def _bundle(entry: str, seen: set[str] | None = None) -> str:
    """Return the animator's ES module ``entry`` joined with the modules it imports, each after its imports.

    Streamlit registers one inline module, which cannot import sibling files,
    so the files are joined here: import lines dropped, named exports made local.
    """
    seen = set() if seen is None else seen
    seen.add(entry)
    text = (_ASSETS / entry).read_text(encoding="utf-8")
    parts = [_bundle(dep, seen) for dep in _IMPORT.findall(text) if dep not in seen]
    parts.append(re.sub(r"^export (?!default)", "", _IMPORT.sub("", text), flags=re.M))
    return "\n".join(parts)


def _race_code() -> str:
    """Return the animator's bundle as a module that publishes its mount function as ``globalThis.DescentRace``."""
    bundle = _bundle("race.js")
    if bundle.count("export default function mountRace(") != 1:
        raise RuntimeError("race.js must have one default export, `export default function mountRace(...)`")
    code = bundle.replace("export default function mountRace(", "function mountRace(")
    return code + "\n" + (_ASSETS / "race_code.js").read_text(encoding="utf-8")


def _three_js() -> str:
    """Return three.js (vendored, minified) as a module that publishes it as ``globalThis.DescentTHREE``."""
    vendor = _ASSETS / "vendor" / "three"
    return (vendor / "three.min.js").read_text(encoding="utf-8") + "\n" + (vendor / "publish.js").read_text(
        encoding="utf-8"
    )


# Registered once, at import: mounting re-registers nothing.
# Each new race is a new message for the race element, with its JS: so that
# element's JS is a small module (race_mount.js) and the animator's code (120 KB)
# travels in its own element, whose message never changes and which Streamlit's
# message cache sends once per browser session: a new race is 158 KB, not 271 KB.
_RACE = st.components.v2.component(
    "descent_race",
    html=(_ASSETS / "race.html").read_text(encoding="utf-8"),
    css="".join((_ASSETS / name).read_text(encoding="utf-8") for name in ("race.css", "view3d.css", "outcome.css")),
    js=(_ASSETS / "race_mount.js").read_text(encoding="utf-8"),
)
_RACE_CODE = st.components.v2.component("descent_race_code", html="", js=_race_code())
# three.js (half a megabyte) travels in its own element, whose message never
# changes: Streamlit's message cache then sends it once per browser session,
# not with every new race. It is mounted only once the student has asked for
# the 3-D view (the animator's state ``three``), so a session that never turns
# the surface never receives it: a first load is 348 KB instead of 887 KB.
_THREE = st.components.v2.component("descent_three", html="", js=_three_js())


class MapClick(tuple):
    """A click on the map: the tuple (x, y) in data coordinates, and ``probe`` True for a Shift/Alt+click."""

    probe: bool

    def __new__(cls, x: float, y: float, probe: bool = False):
        click = super().__new__(cls, (float(x), float(y)))
        click.probe = bool(probe)
        return click


def race_view(payload: EncodedPayload | Mapping, *, key: str = "race", height: int = 620,
              on_insides=None) -> MapClick | None:
    """Return the MapClick since the last rerun (a start, or a probe with Shift/Alt held), else None.

    Mounts the animator showing ``payload`` (see ``app/payload.py``). On a
    wide container the map sits beside the legend and loss chart and the
    component is ``height`` pixels tall, or taller (up to 80% of the window's
    height) where the container is so wide that a bigger map fits, as on a
    projector; on a narrow container they stack and it grows as needed.
    ``on_insides`` is called (as a widget callback, before the rerun) when
    the animator's insides switch asks for insides the payload does not carry.
    ``payload`` is best an ``EncodedPayload`` made once per scene (a dict is
    checked and encoded here, on every run). Raises RacePayloadError for a
    payload it cannot draw.
    """
    encoded = payload if isinstance(payload, EncodedPayload) else EncodedPayload.of(payload)
    result = _RACE(
        key=key,
        # bytes: Streamlit forwards them as they are (the animator parses them) and hashes them for the
        # element's identity, where a dict would be encoded twice on every run
        data=f'{{"height": {int(height)}, "payload": {encoded.json()}}}'.encode(),
        height="content",
        on_click_change=lambda: None,
        on_insides_change=on_insides or (lambda: None),
        # set (once, to True) by the animator when the student first switches to 3-D
        on_three_change=lambda: None,
    )
    # Below the race, so that their empty elements' gaps do not push the race down
    # (presenter mode fits the race below its top); the race waits for its code,
    # the 3-D view for three.js. Once asked for, three.js stays mounted: its
    # message is then a cached reference, as the code's always is.
    _RACE_CODE(key=f"{key}-code", data=None, height="content")
    if result is not None and result.get("three"):
        _THREE(key=f"{key}-three", data=None, height="content")
    click = result.get("click") if result is not None else None
    if not click:
        return None
    # a probe click arrives as [x, y, 1]; a plain click as [x, y]
    return MapClick(click[0], click[1], len(click) > 2 and bool(click[2]))
