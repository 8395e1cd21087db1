"""What travels to the browser: the compact payload of a race, and its one check.

The animator (``app/component``) trusts this payload: the check here is the
only one, and every racer carries its colour (the palette is Python's only).

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
                  "diverged_at": [None | int, ...],        # per start
                  "predicted": [l0, l1, ...] | None}],     # quadratic surfaces: the loss the rule predicts
      "insides": None | {       # scenes with insides on (app/insides.py): per racer a float32 table
                  "every": int, "labels": {kind: str}, "scales": {kind: float},
                  "tables": [None | {"cols": [str], "rows": int, "data": base64, "vectors": [kind],
                                     "stab_label"...: str | "stab_note": str}]},
      "insides_note": None | str,   # insides asked for but not recordable (several starts or seeds)
      "probe": None | {         # optional: a Shift+click's point (app/insides.py probe), drawn as a curvature glyph
                  "x": float, "y": float, "eigenvalues": [lo | None, hi | None], "angle": float | None,
                  "condition": float | None, "note": str, "stability": [str, ...]},   # one sentence per racer
      "outcome": None | {       # the Scene's overlay (app/outcome.py): one racer's outcome map, drawn under the race
                  "image": str,     # data:image/png;base64, n x n pixels covering `extent`, top row = ymax
                  "extent": [xmin, xmax, ymin, ymax], "n": int, "racer": int, "label": str, "steps": int,
                  "tol": float, "minima_colors": ["#rrggbb", ...],   # one per minimum, as `minima`
                  "elsewhere": "#rrggbb", "diverged": "#rrggbb", "max_fade": float},
      "minima": [[x, y], ...],
      "axes": [str, str],      # the map's axis names: x and y, or the weights a data surface's formula names
      "loss_log": bool,        # initial state of the loss chart's log-scale switch
      "presenter": bool,       # large type; keyboard shortcuts work anywhere on the page
      "autoplay": bool,
      "surface3d": {...},      # optional: heights for the 3-D view (app/surface3d.py)
    }
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .insides import insides, predicted_losses
from .outcome import overlay
from .race import Race, RacerRun, window_of
from .scene import load_surface
from .surface3d import Surface3DError, check_grid, grid_payload

_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
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
        _check_racer(racer, steps)
    if payload.get("probe") is not None:
        _check_probe(payload["probe"], len(payload["racers"]))
    if payload.get("outcome") is not None:
        _check_outcome(payload["outcome"], len(payload["racers"]), len(payload["minima"]))
    if "surface3d" in payload:
        try:
            check_grid(payload["surface3d"])
        except Surface3DError as e:
            raise RacePayloadError(str(e)) from e


#: the payload's keys a page sets on each run (EncodedPayload.with_run), beside the rest encoded once per scene
PER_RUN = ("title", "presenter", "probe")


class EncodedPayload:
    """A checked payload as JSON text, encoded once per scene, with the keys a page sets on each run kept apart.

    Encoding the racers' paths was a quarter of a warm rerun's server time (py-spy): the
    page sent the payload as a dict, which Streamlit encoded twice per run, once for the
    element and once for its identity. This text is made once per scene (and cached with
    it); each run only splices in ``PER_RUN`` (title, presenter mode, a probe point), and
    the element carries the result as bytes, which Streamlit neither re-encodes nor parses.
    """

    __slots__ = ("text", "run", "n_racers")

    def __init__(self, text: str, run: Mapping[str, Any], n_racers: int) -> None:
        self.text, self.run, self.n_racers = text, dict(run), n_racers

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> EncodedPayload:
        """Return ``payload`` checked (``check_payload``) and encoded; raise RacePayloadError if it cannot be drawn."""
        check_payload(payload)
        rest = {k: v for k, v in payload.items() if k not in PER_RUN}
        return cls(json.dumps(rest, allow_nan=False), {k: payload[k] for k in PER_RUN if k in payload},
                   len(payload["racers"]))

    def with_run(self, **values: Any) -> EncodedPayload:
        """Return this payload with the per-run ``values`` (keys of PER_RUN) set; a probe is checked as check_payload does."""
        unknown = set(values) - set(PER_RUN)
        if unknown:
            raise RacePayloadError(f"only {', '.join(PER_RUN)} are set per run, not {', '.join(sorted(unknown))}")
        if values.get("probe") is not None:
            _check_probe(values["probe"], self.n_racers)
        if "title" in values and not isinstance(values["title"], str):
            raise RacePayloadError("title must be text")
        return EncodedPayload(self.text, {**self.run, **values}, self.n_racers)

    def json(self) -> str:
        """Return the whole payload as JSON text: the scene's part with the per-run keys spliced in.

        Neither part is ever empty: the scene's holds the checked payload's other keys, the run's its title.
        """
        return f"{self.text[:-1]}, {json.dumps(self.run, allow_nan=False)[1:]}"

    def decoded(self) -> dict:
        """Return the whole payload as a dict (what the browser gets)."""
        return json.loads(self.json())

    def __getitem__(self, key: str) -> Any:
        return self.decoded()[key]


def _finite_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


def _check_probe(probe: Mapping[str, Any], n_racers: int) -> None:
    """Raise RacePayloadError unless the probe has a finite point, two curvatures, and one sentence per racer."""
    x, y = probe.get("x"), probe.get("y")
    if x is None or y is None or not (_finite_or_none(x) and _finite_or_none(y)):
        raise RacePayloadError(f"probe needs a finite point x, y, got {x!r}, {y!r}")
    vals = probe.get("eigenvalues")
    if not isinstance(vals, (list, tuple)) or len(vals) != 2 or not all(_finite_or_none(v) for v in vals):
        raise RacePayloadError(f"probe eigenvalues must be two numbers (or None where undefined), got {vals!r}")
    if not (_finite_or_none(probe.get("angle")) and _finite_or_none(probe.get("condition"))):
        raise RacePayloadError("probe angle and condition must be numbers or None")
    if not isinstance(probe.get("note"), str):
        raise RacePayloadError("probe note must be a sentence")
    words = probe.get("stability")
    if not isinstance(words, (list, tuple)) or len(words) != n_racers or not all(isinstance(w, str) for w in words):
        raise RacePayloadError(f"probe stability must hold one sentence per racer ({n_racers})")


def _check_outcome(out: Mapping[str, Any], n_racers: int, n_minima: int) -> None:
    """Raise RacePayloadError unless the outcome overlay has a PNG, a window, a racer and one colour per minimum."""
    if not str(out.get("image", "")).startswith("data:image/png;base64,"):
        raise RacePayloadError("outcome image must be a data:image/png base64 URL")
    extent = out.get("extent")
    if (not isinstance(extent, (list, tuple)) or len(extent) != 4 or not all(_finite_or_none(v) and v is not None
                                                                               for v in extent)
            or not (extent[0] < extent[1] and extent[2] < extent[3])):
        raise RacePayloadError(f"outcome extent must be [xmin, xmax, ymin, ymax], got {extent!r}")
    n, racer = out.get("n"), out.get("racer")
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 256:
        raise RacePayloadError(f"outcome n must be 2 to 256 starts per side, got {n!r}")
    if isinstance(racer, bool) or not isinstance(racer, int) or not 0 <= racer < n_racers:
        raise RacePayloadError(f"outcome racer must be one of the {n_racers} racers, got {racer!r}")
    colors = out.get("minima_colors")
    if not isinstance(colors, (list, tuple)) or len(colors) != n_minima:
        raise RacePayloadError(f"outcome needs one colour per minimum ({n_minima}), got {colors!r}")
    for c in (*colors, out.get("elsewhere"), out.get("diverged")):
        if not _COLOR.fullmatch(str(c)):
            raise RacePayloadError(f"outcome colours are written #rrggbb, got {c!r}")


def _check_racer(racer: Mapping[str, Any], steps: int) -> None:
    """Raise RacePayloadError unless the racer has a colour and one path, loss list and divergence per start."""
    label = racer.get("label", "?")
    if not _COLOR.fullmatch(str(racer.get("color", ""))):
        raise RacePayloadError(f"racer {label!r} needs a colour written #rrggbb, got {racer.get('color')!r}")
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


def _decimals(span: float) -> int:
    """Return how many decimals keep a coordinate to 1/5000 of the window: finer than a screen shows."""
    # a checked window is never narrower than 1e-9 of its size, but a span of 0 or below must not
    # reach log10 ("math domain error"); 15 decimals are all a float64 coordinate holds
    return min(15, max(0, math.ceil(-math.log10(max(span, 1e-300) / 5000.0))))


def _sig(v: float, digits: int = 4) -> float:
    """Return ``v`` rounded to ``digits`` significant digits: a loss the chart shows, in fewer bytes."""
    return float(f"{v:.{digits}g}")


def payload(race: Race, image: str, *, presenter: bool = False, autoplay: bool = True) -> dict:
    """Return the compact JSON-able description of a race that the animator draws."""
    scene = race.scene
    surf = load_surface(scene.surface, scene.formula)
    (x0, x1), (y0, y1) = window_of(scene, surf)
    dx, dy = _decimals(x1 - x0), _decimals(y1 - y0)
    racers = [_racer_payload(run, dx, dy) for run in race.runs]
    for racer, line in zip(racers, predicted_losses(race, surf)):
        racer["predicted"] = line
    flat_loss = np.concatenate([np.asarray(v) for r in racers for v in r["loss"] if len(v)] or [np.ones(1)])
    # switching the insides or the outcome map on keeps the race's place: the same race, more to draw
    query = {k: v for k, v in scene.to_query().items() if k not in ("ins", "ov")}
    scene_id = hashlib.sha1(repr(query).encode()).hexdigest()[:16]
    return {
        "scene_id": scene_id,
        "title": surf.title,
        "image": image,
        "extent": [x0, x1, y0, y1],
        "steps": scene.steps,
        "racers": racers,
        "minima": [[float(a), float(b)] for a, b in surf.minima],
        "outcome": overlay(scene),
        "axes": [str(a) for a in surf.axis_labels],
        "loss_log": bool(np.all(flat_loss > 0) and flat_loss.max() / max(flat_loss.min(), 1e-300) > 100),
        "presenter": presenter,
        "autoplay": autoplay,
        "insides": insides(race),
        # the switch was on but nobody could record: the animator says why instead of waiting
        "insides_note": ("the insides are recorded for one start and one noise seed; this scene has "
                         "several, so there is nothing to draw" if scene.insides and not _recorded(race) else None),
        "surface3d": grid_payload(scene.surface, scene.formula, ((x0, x1), (y0, y1))),
    }


def _recorded(race: Race) -> bool:
    return any(run.internals is not None for run in race.runs)


def _racer_payload(run: RacerRun, dx: int, dy: int) -> dict:
    """Return one racer's part of the payload: per (seed, start), its finite points rounded and its losses."""
    paths, losses, divs = [], [], []
    for s in range(run.path.shape[0]):
        for k in range(run.path.shape[2]):
            p, lo = run.path[s, :, k], run.loss[s, :, k]
            div = run.diverged_at[s][k]
            keep = div if div is not None else len(p)
            flat = np.empty(2 * keep)
            flat[0::2] = np.round(p[:keep, 0], dx)
            flat[1::2] = np.round(p[:keep, 1], dy)
            paths.append(flat.tolist())
            losses.append([_sig(v) for v in lo[:keep].tolist()])
            divs.append(div)
    return {"label": run.label, "color": run.color, "paths": paths, "loss": losses, "diverged_at": divs}
