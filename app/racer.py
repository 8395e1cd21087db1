"""A Racer: one optimizer in a race or a training, with its colour and its text form.

Both pages use it: the surfaces panel races Racers on a surface, the MLP
panel trains one network per Racer. Pure Python (no Streamlit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import optim
from optim import OPTIMIZERS, SCHEDULES, HyperparameterError

# Okabe-Ito: distinguishable for the common kinds of colour blindness, and on a projector.
# The only palette: the browser draws the colour each racer carries.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


class InputError(ValueError):
    """A value a user typed (or a link carried) cannot be used; the message says what to change."""


def color_of(racer: Racer, index: int) -> str:
    """Return the racer's own colour, or the palette's colour for its place in the list when it has none."""
    return racer.color or PALETTE[index % len(PALETTE)]


def check_racers(racers, error: type[InputError] = InputError) -> None:
    """Return None if every racer's optimizer builds from its values; raise ``error`` with optim's message if not.

    The values are checked by the optimizers' own declarations (``optim.hyper``),
    so a range is never written here.
    """
    for r in racers:
        try:
            r.make()
        except HyperparameterError as e:
            raise error(str(e)) from None


def num_text(value: float) -> str:
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
        """Return a short legend label: the title, lr, and every setting that differs from its default.

        ``Adam (lr=0.01)``, ``Momentum (lr=0.001, nesterov)``,
        ``SGD (lr=0.1, 1/t decay: decay=0.2)``: two racers whose settings differ read differently.
        """
        cls = OPTIMIZERS.get(self.optimizer)
        title = cls.title if cls else self.optimizer
        changed = _changed(self.hp, cls.hyperparameters if cls else (), always=("lr",))
        sched_cls = SCHEDULES.get(self.schedule)
        if self.schedule != "constant" and sched_cls is not None:
            sched_changed = _changed(self.schedule_hp, sched_cls.hyperparameters)
            changed.append(sched_cls.title.lower() + (f": {', '.join(sched_changed)}" if sched_changed else ""))
        return f"{title} ({', '.join(changed)})" if changed else title

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
        """Return the racer written by ``to_text``; raise InputError on anything else."""
        m = _RACER_RE.fullmatch(text.strip())
        if not m:
            raise InputError(f"cannot read optimizer {text[:60]!r}; expected e.g. adam(lr=0.01)")
        name, args, sched, sargs, color = m.group(1, 2, 3, 4, 5)
        if name not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
        if sched and sched not in SCHEDULES:
            raise InputError(f"unknown learning-rate schedule {sched!r}; choose one of {', '.join(SCHEDULES)}")
        return cls(name, _kv(args), sched or "constant", _kv(sargs), (color or "").upper())


_RACER_RE = re.compile(
    r"([a-z_]{1,20})\(([^()]{0,300})\)(?:@([a-z_]{1,20})\(([^()]{0,200})\))?(#[0-9A-Fa-f]{6})?"
)


def _changed(values, declared, always=()) -> list[str]:
    """Return ``name=value`` for each value that differs from its declared default (or is named in ``always``).

    A switched-on boolean reads as its name alone (``nesterov``), a switched-off one as ``no nesterov``.
    """
    defaults = {h.name: h.default for h in declared}
    out = []
    for k, v in values:
        if k not in always and k in defaults and v == defaults[k]:
            continue
        if isinstance(v, bool):
            out.append(k if v else f"no {k}")
        else:
            out.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return num_text(v) if isinstance(v, (int, float)) else str(v)


def _kv(text: str | None) -> tuple[tuple[str, Any], ...]:
    """Return ``k=v`` pairs with numbers and booleans decoded; no eval, only float()/int()."""
    out = []
    for part in filter(None, (text or "").split(",")):
        k, sep, v = part.partition("=")
        k, v = k.strip(), v.strip()
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", k):
            raise InputError(f"cannot read setting {part[:40]!r}; expected name=value")
        if v in ("true", "false"):
            out.append((k, v == "true"))
            continue
        try:
            out.append((k, int(v) if re.fullmatch(r"-?\d{1,12}", v) else float(v)))
        except ValueError:
            raise InputError(f"{k} must be a number, got {v[:30]!r}") from None
    return tuple(out)
