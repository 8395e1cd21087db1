"""The Scene: one frozen value that decides a picture of the surfaces panel, and its URL codec.

The same value is the cache key of the computation, what the page's URL
encodes, the format of a preset and what the command line renders. It is pure
Python (no Streamlit), so it is easy to test. ``Scene.check()`` validates it
where it enters (widgets, links, presets); everything downstream trusts a
checked Scene.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import surfaces
from optim import HyperparameterError
from surfaces.formula import MAX_LENGTH
from surfaces.trace import MAX_POINTS, MAX_STARTS, MAX_STEPS

from .racer import PALETTE, InputError, Racer, check_racers, num_text

# Where ``surfaces`` bounds the same quantity, its bound is the outer one; the app narrows
# some to what one animation in a browser shows smoothly (thousands of steps, dozens of paths).
LIMITS = {
    "steps": (1, min(5000, MAX_STEPS)),
    "racers": (1, len(PALETTE)),  # one palette colour each
    "random_starts": (0, 24),
    "more_starts": (0, 24),
    "n_seeds": (1, 8),
    "paths": (1, min(48, MAX_STARTS)),  # racers x starts x seeds drawn at once
    "points": (1, min(20_000, MAX_POINTS)),  # paths x (steps + 1): what one scene sends to the browser
    "noise": (0.0, 1000.0),
    "seed": (0, 2**31 - 1),
    # 0 means the full batch; each data surface then bounds it by its own number of examples
    "batch_size": (0, max(e.n_examples for e in surfaces.DATA_ENTRIES)),
    "formula_chars": (1, min(300, MAX_LENGTH)),
    "coordinate": (-1e4, 1e4),
}


class SceneError(InputError):
    """The scene cannot be drawn; the message says what to change."""


def load_surface(name: str, formula: str = "") -> surfaces.Surface:
    """Return the Surface a scene names (a catalogue entry or a checked formula); raise SceneError if none."""
    try:
        return surfaces.load(name, formula)
    except surfaces.FormulaError as e:
        raise SceneError(f"formula: {e}") from None
    except surfaces.SurfaceError as e:
        raise SceneError(str(e)) from None


DEFAULT_RACERS = (
    Racer("sgd", (("lr", 0.001),), color=PALETTE[0]),
    Racer("momentum", (("lr", 0.001), ("beta", 0.9)), color=PALETTE[1]),
    Racer("rmsprop", (("lr", 0.01),), color=PALETTE[2]),
    Racer("adam", (("lr", 0.05),), color=PALETTE[3]),
)


@dataclass(frozen=True)
class Scene:
    """Everything that decides a picture of the surfaces panel."""

    surface: str = "rosenbrock"  # a catalogue name, or "custom" for ``formula``
    formula: str = ""
    window: tuple[tuple[float, float], tuple[float, float]] | None = None  # None: the surface's own
    racers: tuple[Racer, ...] = DEFAULT_RACERS
    start: tuple[float, float] | None = None  # None: the surface's suggested start
    more_starts: tuple[tuple[float, float], ...] = ()
    random_starts: int = 0
    steps: int = 1000
    noise: float = 0.0
    seed: int = 0
    n_seeds: int = 1
    batch_size: int = 0  # data-defined surfaces: 0 means the full batch
    equal: bool = True  # one unit as long on both axes, where the window's shape allows (plots.equal_scale)
    title: str = field(default="", compare=False)
    lesson: str = field(default="", compare=False)

    def check(self) -> Scene:
        """Return self if every field is valid and the scene can be drawn, else raise SceneError saying what to change."""
        self._check_fields()
        check_racers(self.racers, SceneError)
        self._check_totals()
        surf = load_surface(self.surface, self.formula)
        if self.batch_size:
            try:
                surfaces.check_batch_size(surf, self.batch_size)
            except surfaces.TraceError as e:
                raise SceneError(str(e)) from None
        return self

    def _check_fields(self) -> None:
        """Raise SceneError for the first field that is out of its own range."""
        if self.surface == surfaces.CUSTOM:
            lo, hi = LIMITS["formula_chars"]
            if not (lo <= len(self.formula.strip()) <= hi):
                raise SceneError(f"the formula must have 1 to {hi} characters, got {len(self.formula.strip())}")
        elif self.surface not in surfaces.CATALOGUE:
            raise SceneError(f"unknown surface {self.surface!r}; choose one of {', '.join(surfaces.CATALOGUE)}")
        if self.window is not None:
            (x0, x1), (y0, y1) = self.window
            for v in (x0, x1, y0, y1):
                _in_range("window edge", v, LIMITS["coordinate"])
            if not (x0 < x1 and y0 < y1):
                raise SceneError("the window needs x min < x max and y min < y max")
        _in_range("steps", self.steps, LIMITS["steps"], integer=True)
        _in_range("number of optimizers", len(self.racers), LIMITS["racers"], integer=True)
        _in_range("random starts", self.random_starts, LIMITS["random_starts"], integer=True)
        _in_range("noise seeds", self.n_seeds, LIMITS["n_seeds"], integer=True)
        _in_range("gradient noise", self.noise, LIMITS["noise"])
        _in_range("seed", self.seed, LIMITS["seed"], integer=True)
        _in_range("batch size", self.batch_size, LIMITS["batch_size"], integer=True)
        for p in ((self.start,) if self.start else ()) + self.more_starts:
            for v in p:
                _in_range("start coordinate", v, LIMITS["coordinate"])

    def _check_totals(self) -> None:
        """Raise SceneError when the fields together ask for more than one view can draw."""
        paths = len(self.racers) * (1 + len(self.more_starts) + self.random_starts) * self.n_seeds
        if paths > LIMITS["paths"][1]:
            raise SceneError(
                f"{paths} paths at once is more than the {LIMITS['paths'][1]} this view draws: "
                "use fewer optimizers, starts or noise seeds"
            )
        points = paths * (self.steps + 1)
        if points > LIMITS["points"][1]:
            raise SceneError(
                f"{paths} paths x {self.steps} steps is {points:,} points, more than the "
                f"{LIMITS['points'][1]:,} one animation holds: use fewer steps, starts or optimizers"
            )

    def same_picture(self, other: Scene) -> bool:
        """Return True when both scenes draw the same race (defaults written out or not)."""
        def norm(sc):
            return replace(sc, racers=tuple(r.normalized() for r in sc.racers))
        return norm(self) == norm(other)

    # -- the URL ---------------------------------------------------------------
    def to_query(self) -> dict[str, str | list[str]]:
        """Return the scene as URL query parameters; defaults are left out to keep links short."""
        d = Scene()
        q: dict[str, str | list[str]] = {"s": self.surface}
        if self.surface == surfaces.CUSTOM:
            q["f"] = self.formula
        if self.window is not None:
            q["w"] = ",".join(num_text(v) for v in (*self.window[0], *self.window[1]))
        q["r"] = [r.to_text() for r in self.racers]
        if self.start is not None:
            q["x0"] = f"{num_text(self.start[0])},{num_text(self.start[1])}"
        if self.more_starts:
            q["xs"] = ";".join(f"{num_text(x)},{num_text(y)}" for x, y in self.more_starts)
        for key, name, _ in _NUMBER_KEYS:
            v = getattr(self, name)
            if v != getattr(d, name):
                q[key] = num_text(v)
        if not self.equal:
            q["eq"] = "0"
        return q

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple[Scene, list[str]]:
        """Return the scene a URL describes and messages for every part that fell back to a default.

        Each bad or stale parameter is replaced by its default on its own, so one
        broken value does not lose the rest of a shared scene.
        """
        notes: list[str] = []
        changes = {**_surface_from_query(params, notes), **_fields_from_query(params, notes),
                   **_racers_from_query(params, notes)}
        scene = replace(cls(), **changes)
        try:
            scene.check()
        except SceneError as e:
            notes.append(f"the link's scene cannot be drawn ({e}); showing the default scene")
            scene = cls()
        return scene, notes


# -- reading a link, one part at a time --------------------------------------------

def _more_starts(text: str) -> tuple[tuple[float, float], ...]:
    return tuple(_point(p) for p in text.split(";") if p)[: LIMITS["more_starts"][1]]


#: (query key, Scene field, text -> value) for the fields a link writes as numbers
_NUMBER_KEYS = (("rs", "random_starts", int), ("n", "steps", int), ("noise", "noise", float),
                ("seed", "seed", int), ("ns", "n_seeds", int), ("b", "batch_size", int))


def _last(params: Mapping[str, Any], key: str):
    """Return the last value a link gives for ``key`` (a repeated key keeps its last), or None."""
    v = params.get(key)
    if isinstance(v, (list, tuple)):
        return v[-1] if v else None
    return v


def _surface_from_query(params: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """Return the surface (and formula) fields a link sets; note a part that cannot be used."""
    surface = _last(params, "s")
    if surface == surfaces.CUSTOM:
        formula = str(_last(params, "f") or "")
        try:
            load_surface(surfaces.CUSTOM, formula)  # the same safe parser as typed text
        except SceneError as e:
            notes.append(f"ignored the formula from the link: {e}")
            return {}
        return {"surface": surfaces.CUSTOM, "formula": formula}
    if surface is None:
        return {}
    if surface not in surfaces.CATALOGUE:
        notes.append(f"ignored s={str(surface)[:40]!r} from the link: no such surface")
        return {}
    return {"surface": surface}


def _field_from_query(params: Mapping[str, Any], key: str, name: str, conv, notes: list[str]) -> dict[str, Any]:
    """Return ``{name: value}`` for one field a link sets, if the value is valid on its own; else note why not."""
    raw = _last(params, key)
    if raw is None:
        return {}
    try:
        val = conv(raw)
        replace(Scene(), **{name: val})._check_fields()
    except InputError as e:
        notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {e}")
        return {}
    except (ValueError, TypeError):
        what = name.replace("_", " ")
        notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {what} must be a number")
        return {}
    return {name: val}


def _fields_from_query(params: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """Return every window, start and number field a link sets validly; note the rest."""
    changes: dict[str, Any] = {}
    for key, name, conv in (("w", "window", _window), ("x0", "start", _point), ("xs", "more_starts", _more_starts),
                            *_NUMBER_KEYS, ("eq", "equal", _flag)):
        changes.update(_field_from_query(params, key, name, conv, notes))
    return changes


def _racers_from_query(params: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """Return the racers a link lists (those that read and build); note each one that does not."""
    raw = params.get("r")
    if raw is None:
        return {}
    racers = []
    for text in ([raw] if isinstance(raw, str) else list(raw))[: LIMITS["racers"][1]]:
        try:
            r = Racer.from_text(str(text))
            r.make()
            racers.append(r)
        except (InputError, HyperparameterError) as e:
            notes.append(f"ignored optimizer {str(text)[:40]!r} from the link: {e}")
    return {"racers": tuple(racers)} if racers else {}


def _in_range(what: str, value: Any, bounds: tuple, integer: bool = False) -> None:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
        integer and not float(value).is_integer()
    ):
        raise SceneError(f"{what} must be {'a whole number' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value) or not (lo <= value <= hi):
        raise SceneError(f"{what} must be between {lo:g} and {hi:g}, got {value!r}")


def _floats(text: str, n: int) -> tuple[float, ...]:
    parts = str(text).split(",")
    if len(parts) != n:
        raise SceneError(f"expected {n} numbers separated by commas")
    vals = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) for v in vals):
        raise SceneError("numbers must be finite")
    return vals


def _flag(text: str) -> bool:
    if str(text) not in ("0", "1"):
        raise SceneError("write 1 (on) or 0 (off)")
    return str(text) == "1"


def _point(text: str) -> tuple[float, float]:
    x, y = _floats(text, 2)
    return (x, y)


def _window(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    x0, x1, y0, y1 = _floats(text, 4)
    return ((x0, x1), (y0, y1))
