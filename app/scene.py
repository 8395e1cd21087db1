"""The Scene: one frozen value that decides a picture of the surfaces panel, and its URL codec.

The same value is the cache key of the computation, what the page's URL
encodes, the format of a preset and what the command line renders. It is pure
Python (no Streamlit), so it is easy to test. ``Scene.check()`` validates it
where it enters (widgets, links, presets); everything downstream trusts a
checked Scene.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
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


#: points per side of the grid the contour picture samples (``app/plots.py``); a window must hold a finite loss on it
GRID = 260


class SceneError(InputError):
    """The scene cannot be drawn; the message says what to change."""


@functools.lru_cache(maxsize=256)
def _window_error(surface: str, formula: str, window: tuple) -> str:
    """Return why a formula surface cannot be drawn over ``window`` (no finite value on the picture's grid), or ""."""
    try:  # sqrt(x) left of 0, log(x) below it: a contour picture of nothing
        load_surface(surface, formula).grid(GRID, window)
    except surfaces.SurfaceError as e:
        return str(e)
    return ""


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
    insides: bool = False  # record and send each single-start racer's state and curvature per step
    equal: bool = True  # one unit as long on both axes, where the window's shape allows (plots.equal_scale)
    overlay: int | None = None  # index of the racer whose outcome map is drawn under the race; None: the surface
    title: str = field(default="", compare=False)
    lesson: str = field(default="", compare=False)

    def check(self) -> Scene:
        """Return self if every field is valid and the scene can be drawn, else raise SceneError saying what to change."""
        self._check_fields()
        check_racers(self.racers, SceneError)
        self._check_totals()
        if self.overlay is not None and self.overlay >= len(self.racers):
            raise SceneError(f"the outcome map under the race is for optimizer {self.overlay + 1}, "
                             f"but the scene has {len(self.racers)}")
        surf = load_surface(self.surface, self.formula)
        if self.batch_size:
            try:
                surfaces.check_batch_size(surf, self.batch_size)
            except surfaces.TraceError as e:
                raise SceneError(str(e)) from None
        if self.window is not None and not getattr(surf, "stochastic", False):
            why = _window_error(self.surface, self.formula, self.window)
            if why:
                raise SceneError(why)
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
            try:
                surfaces.surface.check_window(self.window)  # e.g. narrower than a float can divide
            except surfaces.SurfaceError as e:
                raise SceneError(str(e)) from None
        _in_range("steps", self.steps, LIMITS["steps"], integer=True)
        _in_range("number of optimizers", len(self.racers), LIMITS["racers"], integer=True)
        _in_range("random starts", self.random_starts, LIMITS["random_starts"], integer=True)
        _in_range("noise seeds", self.n_seeds, LIMITS["n_seeds"], integer=True)
        _in_range("gradient noise", self.noise, LIMITS["noise"])
        _in_range("seed", self.seed, LIMITS["seed"], integer=True)
        _in_range("batch size", self.batch_size, LIMITS["batch_size"], integer=True)
        if self.batch_size:
            self._check_batch_size()
        for p in ((self.start,) if self.start else ()) + self.more_starts:
            for v in p:
                _in_range("start coordinate", v, LIMITS["coordinate"])
        if self.overlay is not None:
            # an index here; the link and the messages count optimizers from 1
            _in_range("optimizer of the outcome map", self.overlay, (0, LIMITS["racers"][1] - 1), integer=True)

    def _check_batch_size(self) -> None:
        """Raise SceneError unless the surface is a data surface with at least ``batch_size`` examples."""
        entry = surfaces.CATALOGUE.get(self.surface)
        if not getattr(entry, "stochastic", False):
            raise SceneError("this surface is a fixed formula, not a mean over examples, so it has no mini-batches: "
                             "set the batch size to 0 and use gradient noise, or pick a data surface")
        n = entry.n_examples
        if self.batch_size > n:
            raise SceneError(f"the batch size must be between 1 and {n} (the examples of this surface) "
                             f"or 0 for all of them, got {self.batch_size}")

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
        if self.overlay is not None:
            q["ov"] = str(self.overlay + 1)
        return q

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple[Scene, list[str]]:
        """Return the scene a URL describes and messages for every part that fell back to a default.

        Each bad or stale parameter is replaced by its default on its own, so one
        broken value does not lose the rest of a shared scene.
        """
        notes: list[str] = []
        surface = _surface_from_query(params, notes)
        changes = {**surface, **_fields_from_query(params, replace(cls(), **surface), notes),
                   **_racers_from_query(params, notes)}
        scene, more = fall_back(replace(cls(), **changes), Scene.check)
        return scene, notes + more


#: the parts of a scene, each (what a student calls it, its fields), in the order ``fall_back`` puts
#: them back to their defaults: the least of the picture first, the surface last
PARTS = (
    ("outcome map under the race", ("overlay",)),
    ("batch size", ("batch_size",)),
    ("window", ("window",)),
    ("extra starts", ("more_starts", "random_starts")),
    ("start point", ("start",)),
    ("gradient noise and seeds", ("noise", "seed", "n_seeds")),
    ("number of steps", ("steps",)),
    ("optimizers", ("racers",)),
    ("surface", ("surface", "formula")),
)


def fall_back(scene: Scene, works: Callable[[Scene], Any],
              reason: Callable[[Exception], str] = str) -> tuple[Scene, list[str]]:
    """Return (a scene ``works`` accepts, one note per part of ``scene`` put back to its default to get there).

    ``scene`` itself if it works. Else its parts (``PARTS``) go back to their
    defaults one at a time until ``works`` raises nothing; then each part
    dropped on the way is tried again, and kept if the scene still works, so
    one part that cannot be drawn does not lose the rest of a shared scene.
    ``reason`` turns what ``works`` raised into the words of the note. The last
    resort is ``Scene()``.
    """
    why = _failure(scene, works, reason)
    if why is None:
        return scene, []
    default, current, dropped = Scene(), scene, []
    for label, names in PARTS:
        if all(getattr(current, n) == getattr(default, n) for n in names):
            continue
        current = replace(current, **{n: getattr(default, n) for n in names})
        dropped.append((label, names, why))
        why = _failure(current, works, reason)
        if why is None:
            break
    else:
        return default, [_dropped(label, why) for label, _, why in dropped]
    notes = []
    for label, names, _ in dropped[:-1]:  # parts dropped before the one whose default made it work
        trial = replace(current, **{n: getattr(scene, n) for n in names})
        why = _failure(trial, works, reason)
        if why is None:
            current = trial
        else:
            notes.append(_dropped(label, why))
    label, _, why = dropped[-1]
    return current, [*notes, _dropped(label, why)]


def _failure(scene: Scene, works: Callable[[Scene], Any], reason: Callable[[Exception], str]) -> str | None:
    """Return None if ``works(scene)`` raises nothing, else ``reason`` of what it raised."""
    try:
        works(scene)
    except Exception as e:  # noqa: BLE001 - a failure of any kind only sends a part back to its default
        return reason(e)
    return None


def _dropped(label: str, why: str) -> str:
    return f"the link's {label} cannot be drawn ({why}); using the default {label} instead"


# -- reading a link, one part at a time --------------------------------------------

def _more_starts(text: str) -> tuple[tuple[float, float], ...]:
    return tuple(_point(p) for p in text.split(";") if p)[: LIMITS["more_starts"][1]]


def _flag(text: str) -> bool:
    if str(text) not in ("0", "1"):
        raise SceneError("a switch is written 1 (on) or 0 (off)")
    return str(text) == "1"


def _overlay(text: str) -> int:
    """Return the racer index a link's ``ov`` names (it counts optimizers from 1)."""
    n = int(str(text))
    if n < 1:
        raise SceneError("ov counts the optimizers from 1")
    return n - 1


#: (query key, Scene field, text -> value) for the fields a link writes as numbers (a switch as 0 or 1)
_NUMBER_KEYS = (("rs", "random_starts", int), ("n", "steps", int), ("noise", "noise", float),
                ("seed", "seed", int), ("ns", "n_seeds", int), ("b", "batch_size", int), ("ins", "insides", _flag))


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


def _field_from_query(params: Mapping[str, Any], key: str, name: str, conv, base: Scene,
                      notes: list[str]) -> dict[str, Any]:
    """Return ``{name: value}`` for one field a link sets, if valid on the link's surface (``base``); else note why not."""
    raw = _last(params, key)
    if raw is None:
        return {}
    try:
        val = conv(raw)
        replace(base, **{name: val})._check_fields()
    except InputError as e:
        notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {e}")
        return {}
    except (ValueError, TypeError):
        what = name.replace("_", " ")
        notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {what} must be a number")
        return {}
    return {name: val}


def _fields_from_query(params: Mapping[str, Any], base: Scene, notes: list[str]) -> dict[str, Any]:
    """Return every window, start and number field a link sets validly on the surface of ``base``; note the rest."""
    changes: dict[str, Any] = {}
    for key, name, conv in (("w", "window", _window), ("x0", "start", _point), ("xs", "more_starts", _more_starts),
                            *_NUMBER_KEYS, ("eq", "equal", _flag),
                            ("ov", "overlay", _overlay)):
        changes.update(_field_from_query(params, key, name, conv, base, notes))
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


def _shown(value: Any) -> str:
    """Return a value as at most 24 characters of text (a link may hold a number with 400 digits)."""
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


def _in_range(what: str, value: Any, bounds: tuple, integer: bool = False) -> None:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneError(f"{what} must be {'a whole number' if integer else 'a number'}, got {_shown(value)}")
    # compared before any float conversion: exact for integers of any size (float() of 400 nines
    # overflows), and False for NaN
    if not (lo <= value <= hi):
        raise SceneError(f"{what} must be between {lo:g} and {hi:g}, got {_shown(value)}")
    if integer and isinstance(value, float) and not value.is_integer():
        raise SceneError(f"{what} must be a whole number, got {_shown(value)}")


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
