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


def maps_view(png: bytes, axes: list[dict], *, key: str = "outcome_maps") -> tuple[int, float, float] | None:
    """Return (map index, x, y) of a click on one of the maps since the last rerun, else None.

    Shows ``png`` with the caption "Click a map to race from that start."
    ``axes`` holds one ``{"box", "extent", "n"}`` per map (see ``map_boxes``);
    (x, y) is the centre of the clicked start's pixel, as the browser found it.
    """
    image = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    result = _MAPS(key=key, data={"image": image, "axes": axes}, height="content", on_click_change=lambda: None)
    click = result.get("click") if result is not None else None
    if not click or len(click) != 3:
        return None
    return int(click[0]), float(click[1]), float(click[2])
