"""Hyperparameter declarations: one place for default, range, scale and meaning.

Validation in ``optim``, the controls in ``app`` and the URL codec all read
these declarations, so a hyperparameter is described exactly once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class HyperparameterError(ValueError):
    """A hyperparameter value a user chose is not valid; the message says why."""


@dataclass(frozen=True)
class Hyperparameter:
    """One declared hyperparameter of an optimizer or a schedule.

    ``low``/``high`` bound the value; ``low_open``/``high_open`` say whether the
    bound itself is excluded (a learning rate must be > 0, a beta < 1).
    ``kind`` is ``float``, ``int`` or ``bool``. ``log`` says that a log-scale
    control suits the value (it spans decades, like a learning rate).
    ``label`` is what a form shows; without one it shows ``name``, the
    keyword the code takes (``lr``, ``beta1``: the names a student meets in papers).
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    log: bool = False
    doc: str = ""
    symbol: str = ""
    kind: type = float
    label: str = ""

    def validate(self, value: Any, owner: str = "") -> Any:
        """Return ``value`` converted to this hyperparameter's kind, or raise HyperparameterError."""
        where = f"{owner}: " if owner else ""
        # What the user sees on the form, then what the code calls it: "Points (n_samples)" or "lr (learning rate)".
        doc = self.doc.split(",")[0].split("(")[0].strip() or self.name
        what = f"{self.label} ({self.name})" if self.label else f"{self.name} ({doc})"
        if self.kind is bool:
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise HyperparameterError(f"{where}{self.label or self.name} must be true or false, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value) if self.kind is float else int(str(value))
            except (TypeError, ValueError):
                raise HyperparameterError(
                    f"{where}{what} must be a number, got {value!r}"
                ) from None
        if self.kind is int:
            if isinstance(value, float):
                if not math.isfinite(value) or value != int(value):
                    raise HyperparameterError(
                        f"{where}{what} must be a whole number, got {value!r}"
                    )
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise HyperparameterError(
                    f"{where}{what} must be a finite number, got {value!r}"
                )
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            op = ">" if self.low_open else "at least"
            raise HyperparameterError(
                f"{where}{what} must be {op} {self.low:g}, got {value!r}"
            )
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            op = "<" if self.high_open else "at most"
            raise HyperparameterError(
                f"{where}{what} must be {op} {self.high:g}, got {value!r}"
            )
        return value

    def range_text(self) -> str:
        """Return the valid range in interval notation, e.g. ``(0, 10]``."""
        if self.kind is bool:
            return "true / false"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open or self.low is None else '['}{lo}, {hi}{')' if self.high_open or self.high is None else ']'}"


def validate_all(decls: tuple[Hyperparameter, ...], values: dict, owner: str) -> dict:
    """Return every declared hyperparameter's validated value, defaults filled in."""
    known = {h.name: h for h in decls}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise HyperparameterError(
            f"{owner} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(known) or 'none'}"
        )
    return {h.name: h.validate(values.get(h.name, h.default), owner) for h in decls}
