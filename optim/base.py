"""The optimizer interface every update rule shares.

An optimizer is a pure rule, ``init`` and ``update`` in the style of optax,
wrapped by ``step`` which keeps the state per parameter array and updates the
arrays in place, in the style of ``torch.optim``. ``update`` uses only
arithmetic operators (``** 0.5`` for a square root), so it runs unchanged on
Python floats (fast for one 2-D point) and on NumPy arrays of any shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .hyper import Hyperparameter, HyperparameterError, validate_all
from .schedules import Schedule, make_schedule

LR = Hyperparameter(
    "lr", 0.01, 0.0, 100.0, low_open=True, log=True,
    doc="learning rate, the size of each step", symbol=r"\eta",
)
EPS = Hyperparameter(
    "eps", 1e-8, 0.0, 1.0, log=True,
    doc="small constant added to the denominator to avoid dividing by zero", symbol=r"\epsilon",
)


#: elements per slice when a large array is stepped in slices (256 KB of float32)
CHUNK = 1 << 16


def _beta(name: str, default: float, doc: str, symbol: str) -> Hyperparameter:
    return Hyperparameter(name, default, 0.0, 1.0, high_open=True, doc=doc, symbol=symbol)


class Optimizer:
    """Base class. Subclasses declare ``hyperparameters``, ``rule_latex``, ``init`` and ``update``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = ()
    #: the update rule as LaTeX (aligned lines), shown verbatim by the app
    rule_latex: ClassVar[str] = ""
    #: names of the per-parameter state arrays, in the order ``init`` returns them
    state_names: ClassVar[tuple[str, ...]] = ()
    #: how the same algorithm is configured in torch.optim, or "" where it has none
    torch_equivalent: ClassVar[str] = ""
    #: a sentence the app may show beside this optimizer's curves ("" when there is nothing to add)
    note: ClassVar[str] = ""

    def __init__(self, schedule: str | Schedule | None = None, schedule_params: dict | None = None, **hp: Any):
        self.hp = validate_all(self.hyperparameters, hp, f"{self.title or self.name}")
        for k, v in self.hp.items():
            setattr(self, k, v)
        self.schedule = make_schedule(schedule, **(schedule_params or {}))
        self.t = 0
        self.state: list[tuple] = []

    # -- the pure rule -----------------------------------------------------
    def init(self, p: Any) -> tuple:
        """Return the zero state for one parameter (floats for a float, separate arrays for an array)."""
        if isinstance(p, float):
            return tuple(0.0 for _ in self.state_names)
        return tuple(np.zeros_like(p) for _ in self.state_names)

    def update(self, g: Any, state: tuple, p: Any, lr: float, t: int) -> tuple[Any, tuple]:
        """Return ``(delta, new_state)``: the new parameter is ``p - delta``.

        Rules are written with augmented assignments (``m *= beta1``): on
        floats these rebind, on arrays they update the state in place, so one
        text of the rule is fast on a single 2-D point and allocates few
        temporaries on a network's weight matrices. ``g`` and ``p`` are never
        modified; the returned ``delta`` never aliases the state.
        """
        raise NotImplementedError

    # -- the stateful wrapper ------------------------------------------------
    def lr_at(self, t: int) -> float:
        """Return the learning rate the rule uses at step t (t counts from 1)."""
        return self.lr * self.schedule.factor(t)

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Apply one update to every array in ``params`` in place, from the matching ``grads``."""
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameter arrays but {len(grads)} gradients")
        if not self.state:
            self.state = [self.init(np.asarray(p)) for p in params]
        elif len(self.state) != len(params):
            raise ValueError(
                f"this optimizer holds state for {len(self.state)} arrays; got {len(params)}. "
                "Use a new optimizer for a new set of parameters."
            )
        self.t += 1
        lr = self.lr_at(self.t)
        for i, (p, g) in enumerate(zip(params, grads)):
            if np.shape(p) != np.shape(g):
                raise ValueError(f"parameter {i} has shape {np.shape(p)} but its gradient {np.shape(g)}")
            if np.size(p) >= 2 * CHUNK and all(isinstance(a, np.ndarray) and a.flags.c_contiguous
                                               for a in (p, g, *self.state[i])):
                self._step_in_chunks(p, g, self.state[i], lr)
            else:
                delta, self.state[i] = self.update(g, self.state[i], p, lr, self.t)
                p -= delta

    def _step_in_chunks(self, p: np.ndarray, g: np.ndarray, state: tuple, lr: float) -> None:
        """Apply the rule to a large array one cache-sized slice at a time.

        The rule is elementwise, so slices give the same numbers; each slice's
        temporaries stay in cache and are reused instead of page-faulting fresh
        megabytes, which makes a weight matrix's step about 1.7x faster.
        """
        pf, gf = p.reshape(-1), g.reshape(-1)
        flat = [a.reshape(-1) for a in state]
        for start in range(0, pf.size, CHUNK):
            sl = slice(start, start + CHUNK)
            views = tuple(a[sl] for a in flat)
            delta, new = self.update(gf[sl], views, pf[sl], lr, self.t)
            for view, value in zip(views, new):
                if value is not view:  # a rule that rebinds instead of updating in place
                    view[...] = value
            pf[sl] -= delta

    def reset(self) -> None:
        """Forget the step count and all state, as if newly made."""
        self.t = 0
        self.state = []

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hp.items())
        return f"{type(self).__name__}({args}, schedule={self.schedule!r})"


__all__ = ["Optimizer", "LR", "EPS", "HyperparameterError", "_beta"]
