"""The race animator: a Streamlit component that plays an optimizer race in the browser.

The page sends one compact payload per scene; playback, scrubbing, speed and the
loss chart's scale then live in the browser, which never calls the server while
playing. The only thing that comes back is a click on the map (a new start).

Payload (JSON-able, built once per scene)::

    {
      "scene_id": str,         # a new id restarts playback; the same id keeps position and play state
      "title": str,
      "image": str,            # data:image/png|jpeg;base64,... covering exactly `extent`, top row = ymax
      "extent": [xmin, xmax, ymin, ymax],
      "steps": int,            # frames are 0..steps
      "racers": [{"label": str, "color": "#rrggbb",
                  "paths": [[x0, y0, x1, y1, ...], ...],   # per start, finite points only
                  "loss": [[l0, l1, ...], ...],            # per start, one per point
                  "diverged_at": [None | int, ...]}],      # per start
      "minima": [[x, y], ...],
      "loss_log": bool,        # initial state of the loss chart's log-scale switch
      "presenter": bool,       # large type; keyboard shortcuts work anywhere on the page
      "autoplay": bool,
    }

What the browser does with it:

- 1x plays 60 steps per second; races shorter than 240 steps are slowed so
  they last 4 s at 1x. Speeds run from 0.25x to 8x.
- The loss chart draws each racer's *first* start (the legend's loss is the
  same one). Its log scale applies only when every loss drawn is above zero;
  otherwise the chart stays linear and says why. On the linear scale the range
  follows the racers that did not diverge, so one blow-up does not flatten the
  rest.
- Keys: space plays or pauses, left/right step, Home restarts and plays, End
  jumps to the last step. They work while the component has focus, and
  everywhere on the page (outside text fields and other controls) in
  presenter mode.
- A diverged path ends with a red cross where it left the window (or at its
  last point if that is inside) once playback reaches ``diverged_at``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

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


# Registered once, at import: mounting re-registers nothing.
_RACE = st.components.v2.component(
    "descent_race",
    html=(_ASSETS / "race.html").read_text(encoding="utf-8"),
    css=(_ASSETS / "race.css").read_text(encoding="utf-8"),
    js=_bundle("race.js"),
)

_REQUIRED = ("scene_id", "title", "image", "extent", "steps", "racers", "minima")


class RacePayloadError(ValueError):
    """The race payload cannot be drawn; the message says which part is wrong."""


def check_payload(payload: Mapping[str, Any]) -> None:
    """Return nothing if ``payload`` has the shape the animator draws; raise RacePayloadError if not."""
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise RacePayloadError(f"race payload is missing {', '.join(missing)}")
    extent = payload["extent"]
    if (
        len(extent) != 4
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in extent)
        or not (extent[0] < extent[1] and extent[2] < extent[3])
    ):
        raise RacePayloadError(
            f"extent must be [xmin, xmax, ymin, ymax] with xmin < xmax and ymin < ymax, got {extent}"
        )
    steps = payload["steps"]
    if not isinstance(steps, int) or steps < 0:
        raise RacePayloadError(f"steps must be a whole number >= 0, got {steps!r}")
    image = payload["image"]
    if image and not str(image).startswith(("data:image/png;base64,", "data:image/jpeg;base64,")):
        raise RacePayloadError("image must be a data:image/png or data:image/jpeg base64 URL")
    for racer in payload["racers"]:
        label = racer.get("label", "?")
        paths, losses, diverged = racer.get("paths"), racer.get("loss"), racer.get("diverged_at")
        if paths is None or losses is None or diverged is None:
            raise RacePayloadError(f"racer {label!r} needs paths, loss and diverged_at")
        if not (len(paths) == len(losses) == len(diverged)):
            raise RacePayloadError(
                f"racer {label!r} has {len(paths)} paths, {len(losses)} loss lists and "
                f"{len(diverged)} diverged_at entries; they must match (one per start)"
            )
        for j, (path, loss) in enumerate(zip(paths, losses)):
            if len(path) % 2 or len(path) // 2 != len(loss):
                raise RacePayloadError(
                    f"racer {label!r}, start {j}: the path holds {len(path) / 2:g} points "
                    f"but the loss has {len(loss)} values"
                )
            if len(loss) > steps + 1:
                raise RacePayloadError(
                    f"racer {label!r}, start {j}: {len(loss)} points is more than steps + 1"
                )


def race_view(payload: dict, *, key: str = "race", height: int = 620) -> tuple[float, float] | None:
    """Return the (x, y) data coordinates of a click on the map since the last rerun, else None.

    Mounts the animator showing ``payload`` (see the module docstring). On a
    wide container the map sits beside the legend and loss chart and the
    component is ``height`` pixels tall, or taller (up to 80% of the window's
    height) where the container is so wide that a bigger map fits, as on a
    projector; on a narrow container they stack and it grows as needed.
    Raises RacePayloadError for a payload it cannot draw.
    """
    check_payload(payload)
    result = _RACE(
        key=key,
        data={"payload": payload, "height": int(height)},
        height="content",
        on_click_change=lambda: None,
    )
    click = result.get("click") if result is not None else None
    if not click:
        return None
    x, y = click
    return float(x), float(y)
