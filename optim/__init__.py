"""Descent's optimizers: pure NumPy update rules that know nothing of surfaces, networks or UI.

``OPTIMIZERS`` maps a name to its class; ``make(name, **hyperparameters)``
builds one; ``opt.step(params, grads)`` updates a list of arrays in place.
Adding an optimizer is one new module and one line here.
"""

from __future__ import annotations

from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .base import Optimizer
from .heavy_ball import HeavyBall
from .hyper import Hyperparameter, HyperparameterError
from .lion import Lion
from .momentum import OVERLAP_NOTE, Momentum
from .rmsprop import RMSProp
from .schedules import SCHEDULES, Schedule, make_schedule
from .sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, HeavyBall, RMSProp, Adam, Adagrad, AdamW, Lion)
}


def make(name: str, **hyperparameters) -> Optimizer:
    """Return a new optimizer by name, e.g. ``make("adam", lr=0.01, schedule="cosine")``."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise HyperparameterError(
            f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}"
        ) from None
    return cls(**hyperparameters)


__all__ = [
    "OPTIMIZERS", "SCHEDULES", "Hyperparameter", "HyperparameterError", "Optimizer",
    "OVERLAP_NOTE", "Schedule", "make", "make_schedule",
    "SGD", "Momentum", "HeavyBall", "RMSProp", "Adam", "Adagrad", "AdamW", "Lion",
]
