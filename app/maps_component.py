"""The outcome maps side by side as a picture that can be clicked: a click on a map is a new start.

The picture is the matplotlib figure of ``page_compare.outcome_figure`` (a PNG,
as wide as its container); with it go the place of each map's axes in the
figure and the data they show (``page_compare.map_boxes``), so the browser
turns a click into the start whose pixel it fell in, and sends that back.
Clicks outside the maps' axes (titles, ticks, the key) send nothing.
"""

from __future__ import annotations

import base64
from pathlib import Path

import streamlit as st

_ASSETS = Path(__file__).parent / "component"

# Registered once, at import.
_MAPS = st.components.v2.component(
    "descent_outcome_maps",
    html=(_ASSETS / "maps.html").read_text(encoding="utf-8"),
    css=(_ASSETS / "maps.css").read_text(encoding="utf-8"),
    js=(_ASSETS / "maps.js").read_text(encoding="utf-8"),
)


def maps_view(png: bytes, axes: list[dict], *, key: str = "outcome_maps", on_click=None) -> None:
    """Show ``png`` with the caption "Click a map to race from that start."; ``on_click`` hears each click.

    ``axes`` holds one ``{"box", "extent", "n"}`` per map (see ``map_boxes``).
    ``on_click`` is a widget callback: it runs before the next script run and
    reads the click with ``clicked(key)``. A callback, not a value the page acts
    on and then reruns for: a page that called ``st.rerun()`` on this element's
    click saw the same click again in every run after (a rerun loop, seen in
    the server's log), where a callback's run ends and the click with it.
    """
    image = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    _MAPS(key=key, data={"image": image, "axes": axes}, height="content", on_click_change=on_click or (lambda: None))


def clicked(key: str) -> tuple[int, float, float] | None:
    """Return (map index, x, y) of the click the element ``key`` just sent (inside its callback), else None.

    (x, y) is the centre of the clicked start's pixel, as the browser found it.
    """
    value = st.session_state.get(key)
    click = value.get("click") if hasattr(value, "get") else getattr(value, "click", None)
    if not isinstance(click, (list, tuple)) or len(click) != 3:
        return None
    try:
        return int(click[0]), float(click[1]), float(click[2])
    except (TypeError, ValueError):
        return None
