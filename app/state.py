"""Between the surfaces panel's widgets and the Scene: read a Scene from the widget values, and write one into them.

The racers' own widgets are mapped in ``app/controls.py``, shared with the MLP panel.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import surfaces

from .controls import read_racer, write_racers
from .race import main_start
from .scene import Scene

#: widget keys starting with these are actions or views (buttons, downloads, uploads, the
#: animator): Streamlit refuses values set for them, so they are never re-saved
TRANSIENT_PREFIXES = ("act_", "view_")


# -- the URL: which page owns which query key ---------------------------------------------

#: the keys of the surfaces page's links: ``Scene.to_query``'s and the page's preset and presenter keys
SCENE_KEYS = frozenset({"s", "f", "w", "r", "x0", "xs", "rs", "n", "noise", "seed", "ns", "b", "ins", "eq",
                        "preset", "present"})
#: the keys of the MLP page's links (``app.experiment.to_query``). Listed here, not there, so that the
#: surfaces page knows them without importing the network's modules (scikit-learn: a second at start-up).
EXPERIMENT_KEYS = frozenset({"d", "dp", "h", "ep", "b", "seed", "kp", "sh", "dt", "r"})


def _is_link_of(query: Mapping[str, Any], theirs_only: frozenset[str], mine_only: frozenset[str]) -> bool:
    """Return True when ``query`` holds a key only the other page writes and none only this page writes."""
    return bool(query.keys() & theirs_only) and not query.keys() & mine_only


def scene_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """Return the part of a URL's query the surfaces page reads: {} for an MLP experiment's link.

    The pages share three key names (r, b, seed): in an MLP link they are the
    experiment's, not a scene's. Otherwise every key but the MLP page's own is
    passed on: ``Scene.from_query`` reads the keys it knows (a scene key added
    there needs no entry here to be read) and ignores the rest.
    """
    mlp_only = EXPERIMENT_KEYS - SCENE_KEYS
    if _is_link_of(query, mlp_only, SCENE_KEYS - EXPERIMENT_KEYS):
        return {}
    return {k: v for k, v in query.items() if k not in mlp_only}


def experiment_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """Return the part of a URL's query the MLP page reads, its own keys only: {} for a scene's link."""
    if _is_link_of(query, SCENE_KEYS - EXPERIMENT_KEYS, EXPERIMENT_KEYS - SCENE_KEYS):
        return {}
    return {k: v for k, v in query.items() if k in EXPERIMENT_KEYS}


def keep_widget_values(state: MutableMapping[str, Any]) -> None:
    """Re-save every widget value so it survives a visit to the other page.

    Streamlit forgets a widget's value after a run that does not draw it, so
    without this a trip to the MLP panel would reset the surfaces panel (and
    back). Called at the top of every run, before any widget exists.
    """
    for key in list(state.keys()):
        if isinstance(key, str) and not key.startswith(TRANSIENT_PREFIXES):
            state[key] = state[key]


def write_scene(scene: Scene, state: MutableMapping[str, Any], surf) -> None:
    """Set every widget value so that the page shows ``scene`` (used for links and presets)."""
    state["surface"] = scene.surface
    state["formula"] = scene.formula if scene.surface == "custom" else state.get("formula", "")
    state["formula_text"] = state["formula"]
    win = scene.window
    state["win_custom"] = win is not None
    (x0, x1), (y0, y1) = win if win is not None else surf.window
    state.update(win_x0=float(x0), win_x1=float(x1), win_y0=float(y0), win_y1=float(y1))
    start = main_start(scene, surf)
    state["start_x"], state["start_y"] = float(start[0]), float(start[1])
    state["more_starts"] = ";".join(f"{x:g},{y:g}" for x, y in scene.more_starts)
    for name in ("steps", "random_starts", "seed", "n_seeds", "batch_size"):
        state[name] = int(getattr(scene, name))
    state["noise"] = float(scene.noise)
    state["insides"] = bool(scene.insides)
    state["equal"] = bool(scene.equal)
    state["overlay"] = scene.overlay
    write_racers(scene.racers, state, "r")


def parse_points(text: str) -> tuple[tuple[float, float], ...]:
    """Return the points written as ``x,y; x,y``; raise ValueError naming the bad part."""
    pts = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        xs = part.split(",")
        try:
            if len(xs) != 2:
                raise ValueError
            pts.append((float(xs[0]), float(xs[1])))
        except ValueError:
            raise ValueError(f"cannot read the start point {part[:30]!r}; write points as x,y; x,y") from None
    return tuple(pts)


def read_scene(state: MutableMapping[str, Any]) -> Scene:
    """Return the Scene the widgets show (not yet checked)."""
    win = None
    if state.get("win_custom"):
        win = ((state["win_x0"], state["win_x1"]), (state["win_y0"], state["win_y1"]))
    racers = tuple(read_racer(i, state) for i in state["r_ids"])
    overlay = state.get("overlay")
    return Scene(
        surface=state["surface"],
        formula=state.get("formula", "") if state["surface"] == "custom" else "",
        window=win,
        racers=racers,
        start=(float(state["start_x"]), float(state["start_y"])),
        more_starts=parse_points(state.get("more_starts", "")),
        random_starts=int(state.get("random_starts", 0)),
        steps=int(state["steps"]),
        noise=float(state.get("noise", 0.0)),
        seed=int(state.get("seed", 0)),
        n_seeds=int(state.get("n_seeds", 1)),
        # the hidden batch-size control keeps a data surface's value after a switch to a formula surface
        batch_size=int(state.get("batch_size", 0)) if getattr(
            surfaces.CATALOGUE.get(state["surface"]), "stochastic", False) else 0,
        insides=bool(state.get("insides", False)),
        equal=bool(state.get("equal", True)),
        # a removed optimizer takes its outcome map with it
        overlay=int(overlay) if isinstance(overlay, int) and 0 <= overlay < len(racers) else None,
    )
