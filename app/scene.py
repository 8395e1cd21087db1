"""The Scene: one frozen value that decides a picture of the surfaces panel.

The same value is the cache key of the computation, what the page's URL
encodes, the format of a preset and what the command line renders. It is pure
Python (no Streamlit), so it is easy to test. Everything is checked by
``Scene.check()`` before any math runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import optim
from optim import OPTIMIZERS, SCHEDULES, HyperparameterError

# Okabe-Ito: distinguishable for the common kinds of colour blindness, and on a projector.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

LIMITS = {
    "steps": (1, 5000),
    "racers": (1, 8),
    "random_starts": (0, 24),
    "n_seeds": (1, 8),
    "paths": (1, 48),  # racers x starts x seeds drawn at once
    "points": (1, 20_000),  # paths x (steps + 1): what one scene sends to the browser to animate
    "noise": (0.0, 1000.0),
    "seed": (0, 2**31 - 1),
    "batch_size": (0, 10_000),
    "formula_chars": (1, 300),
    "coordinate": (-1e4, 1e4),
}


class SceneError(ValueError):
    """The scene cannot be drawn; the message says what to change."""


def _num(value: float) -> str:
    """Return the shortest text that reads back as the same float."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True)
class Racer:
    """One optimizer in the race: its name, hyperparameters, schedule and colour."""

    optimizer: str
    hp: tuple[tuple[str, Any], ...] = ()
    schedule: str = "constant"
    schedule_hp: tuple[tuple[str, Any], ...] = ()
    color: str = ""

    def make(self) -> optim.Optimizer:
        """Return a fresh optimizer for this racer (raises HyperparameterError on bad values)."""
        return optim.make(self.optimizer, schedule=self.schedule, schedule_params=dict(self.schedule_hp), **dict(self.hp))

    def values(self) -> dict:
        """Return every hyperparameter's value, defaults filled in."""
        cls = OPTIMIZERS[self.optimizer]
        given = dict(self.hp)
        return {h.name: given.get(h.name, h.default) for h in cls.hyperparameters}

    def normalized(self) -> Racer:
        """Return the same racer with every hyperparameter written out, defaults included."""
        sched = SCHEDULES.get(self.schedule)
        given = dict(self.schedule_hp)
        shp = tuple((h.name, given.get(h.name, h.default)) for h in sched.hyperparameters) if sched else self.schedule_hp
        return replace(self, hp=tuple(self.values().items()), schedule_hp=shp)

    def label(self) -> str:
        """Return a short legend label such as ``Adam (lr=0.01)``."""
        cls = OPTIMIZERS.get(self.optimizer)
        title = cls.title if cls else self.optimizer
        changed = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.hp
                   if k == "lr" or (cls and v != next(h.default for h in cls.hyperparameters if h.name == k))]
        sched = "" if self.schedule == "constant" else f", {SCHEDULES[self.schedule].title.lower()}" if self.schedule in SCHEDULES else ""
        return f"{title} ({', '.join(changed)}{sched})" if changed or sched else title

    # -- text form, used in URLs and presets: adam(lr=0.01,beta1=0.9)@cosine(total_steps=100)#0072B2
    def to_text(self) -> str:
        """Return the racer as compact text that ``Racer.from_text`` reads back."""
        out = f"{self.optimizer}({','.join(f'{k}={_fmt(v)}' for k, v in self.hp)})"
        if self.schedule != "constant":
            out += f"@{self.schedule}({','.join(f'{k}={_fmt(v)}' for k, v in self.schedule_hp)})"
        if self.color:
            out += self.color
        return out

    @classmethod
    def from_text(cls, text: str) -> Racer:
        """Return the racer written by ``to_text``; raise SceneError on anything else."""
        m = _RACER_RE.fullmatch(text.strip())
        if not m:
            raise SceneError(f"cannot read optimizer {text[:60]!r}; expected e.g. adam(lr=0.01)")
        name, args, sched, sargs, color = m.group(1, 2, 3, 4, 5)
        if name not in OPTIMIZERS:
            raise SceneError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
        if sched and sched not in SCHEDULES:
            raise SceneError(f"unknown learning-rate schedule {sched!r}; choose one of {', '.join(SCHEDULES)}")
        return cls(name, _kv(args), sched or "constant", _kv(sargs), (color or "").upper())


_RACER_RE = re.compile(
    r"([a-z_]{1,20})\(([^()]{0,300})\)(?:@([a-z_]{1,20})\(([^()]{0,200})\))?(#[0-9A-Fa-f]{6})?"
)


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return _num(v) if isinstance(v, (int, float)) else str(v)


def _kv(text: str | None) -> tuple[tuple[str, Any], ...]:
    """Return ``k=v`` pairs with numbers and booleans decoded; no eval, only float()/int()."""
    out = []
    for part in filter(None, (text or "").split(",")):
        k, sep, v = part.partition("=")
        k, v = k.strip(), v.strip()
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", k):
            raise SceneError(f"cannot read setting {part[:40]!r}; expected name=value")
        if v in ("true", "false"):
            out.append((k, v == "true"))
            continue
        try:
            out.append((k, int(v) if re.fullmatch(r"-?\d{1,12}", v) else float(v)))
        except ValueError:
            raise SceneError(f"{k} must be a number, got {v[:30]!r}") from None
    return tuple(out)


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
    title: str = field(default="", compare=False)
    lesson: str = field(default="", compare=False)

    def check(self) -> Scene:
        """Return self if every field is valid, else raise SceneError saying what to change."""
        self._check_fields()
        for r in self.racers:
            try:
                r.make()
            except HyperparameterError as e:
                raise SceneError(str(e)) from None
            except KeyError:
                raise SceneError(f"unknown optimizer {r.optimizer!r}") from None
        self._check_totals()
        return self

    def _check_fields(self) -> None:
        """Raise SceneError for the first field that is out of its own range."""
        import surfaces

        if self.surface == "custom":
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

    def with_(self, **changes) -> Scene:
        """Return a copy with some fields changed."""
        return replace(self, **changes)

    # -- the URL ---------------------------------------------------------------
    def to_query(self) -> dict[str, str | list[str]]:
        """Return the scene as URL query parameters; defaults are left out to keep links short."""
        d = Scene()
        q: dict[str, str | list[str]] = {"s": self.surface}
        if self.surface == "custom":
            q["f"] = self.formula
        if self.window is not None:
            q["w"] = ",".join(_num(v) for v in (*self.window[0], *self.window[1]))
        q["r"] = [r.to_text() for r in self.racers]
        if self.start is not None:
            q["x0"] = f"{_num(self.start[0])},{_num(self.start[1])}"
        if self.more_starts:
            q["xs"] = ";".join(f"{_num(x)},{_num(y)}" for x, y in self.more_starts)
        for key, name in (("rs", "random_starts"), ("n", "steps"), ("noise", "noise"), ("seed", "seed"),
                          ("ns", "n_seeds"), ("b", "batch_size")):
            v = getattr(self, name)
            if v != getattr(d, name):
                q[key] = _num(v)
        return q

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple[Scene, list[str]]:
        """Return the scene a URL describes and messages for every part that fell back to a default.

        Each bad or stale parameter is replaced by its default on its own, so one
        broken value does not lose the rest of a shared scene.
        """
        notes: list[str] = []
        d = cls()
        changes: dict[str, Any] = {}

        def get(key):
            v = params.get(key)
            if isinstance(v, (list, tuple)):
                return v[-1] if v else None
            return v

        def take(key, name, conv):
            raw = get(key)
            if raw is None:
                return
            try:
                val = conv(raw)
            except SceneError as e:
                notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {e}")
                return
            except (ValueError, TypeError):
                what = name.replace("_", " ")
                notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {what} must be a number")
                return
            try:
                replace(d, **{name: val})._check_fields()
                changes[name] = val
            except SceneError as e:
                notes.append(f"ignored {key}={str(raw)[:40]!r} from the link: {e}")

        surface = get("s")
        if surface == "custom":
            formula = str(get("f") or "")
            try:
                from .compute import load_surface

                load_surface("custom", formula)  # the same safe parser as typed text
                changes.update(surface="custom", formula=formula)
            except SceneError as e:
                notes.append(f"ignored the formula from the link: {e}")
        elif surface is not None:
            import surfaces

            if surface in surfaces.CATALOGUE:
                changes["surface"] = surface
            else:
                notes.append(f"ignored s={str(surface)[:40]!r} from the link: no such surface")
        take("w", "window", _window)
        take("x0", "start", _point)
        take("xs", "more_starts", lambda t: tuple(_point(p) for p in t.split(";") if p)[:24])
        take("rs", "random_starts", int)
        take("n", "steps", int)
        take("noise", "noise", float)
        take("seed", "seed", int)
        take("ns", "n_seeds", int)
        take("b", "batch_size", int)
        raw_racers = params.get("r")
        if raw_racers is not None:
            if isinstance(raw_racers, str):
                raw_racers = [raw_racers]
            racers = []
            for text in list(raw_racers)[: LIMITS["racers"][1]]:
                try:
                    r = Racer.from_text(str(text))
                    r.make()
                    racers.append(r)
                except (SceneError, HyperparameterError) as e:
                    notes.append(f"ignored optimizer {str(text)[:40]!r} from the link: {e}")
            if racers:
                changes["racers"] = tuple(racers)
        scene = replace(d, **changes)
        try:
            scene.check()
        except SceneError as e:
            notes.append(f"the link's scene cannot be drawn ({e}); showing the default scene")
            scene = d
        return scene, notes


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


def _point(text: str) -> tuple[float, float]:
    x, y = _floats(text, 2)
    return (x, y)


def _window(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    x0, x1, y0, y1 = _floats(text, 4)
    return ((x0, x1), (y0, y1))
