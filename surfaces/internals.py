"""An optimizer's own state at every step of a run, kept by ``surfaces.trace`` while it runs (``record=True``).

``trace``'s single-start loops hand each step to a ``Recorder`` (the gradient
used, noise included, the step returned by ``optimizer.update`` and the state
it handed back); ``Recorder.finish`` turns the rows into ``Internals``. So the
path is the trace's path by construction and no rule runs a second time. The
only values computed here are what a rule's own LaTeX defines from state and
``t``: the bias-corrected moments and the effective learning rate of adaptive
methods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .curvature import effective_lr


@dataclass(frozen=True, eq=False)
class Internals:
    """One start's run with the optimizer's insides.

    ``path`` (steps+1, 2) start first, exactly ``trace(...).path``; ``lr``
    (steps,) with ``lr[t-1]`` used at step t; ``grad`` (steps, 2), the
    gradient (noise included) used at step t is ``grad[t-1]``, taken at
    ``path[t-1]``; ``step`` (steps, 2), the ``delta`` of step t, so
    ``path[t] = path[t-1] - step[t-1]``; ``states`` maps each of the
    optimizer's ``state_names`` to (steps+1, 2), row t being the state after t
    steps (row 0 the initial state); ``derived`` maps ``"m_hat"``,
    ``"s_hat"`` and ``"effective_lr"`` (where the optimizer has them) to
    (steps+1, 2) arrays aligned with ``states``, row 0 NaN. ``diverged_at`` as
    in ``Trace``: from that row on every array is NaN (and the step into it).
    Arrays are read-only.
    """

    path: np.ndarray
    lr: np.ndarray
    grad: np.ndarray
    step: np.ndarray
    states: dict[str, np.ndarray]
    derived: dict[str, np.ndarray]
    diverged_at: int | None


class Recorder:
    """Collects one start's steps as ``trace`` runs them; ``finish`` returns the Internals."""

    def __init__(self, state_names, sx: tuple, sy: tuple):
        self.names = tuple(state_names)
        # rows collect as tuples in lists (cheap appends) and become arrays once, at the end
        self.rows: list[tuple] = []
        self.xstates: list[tuple] = [tuple(sx)]
        self.ystates: list[tuple] = [tuple(sy)]

    def add(self, gx: float, gy: float, dx: float, dy: float, sx: tuple, sy: tuple) -> None:
        """Keep one successful step: gradient used, step returned, state after it (per coordinate)."""
        self.rows.append((gx, gy, dx, dy))
        self.xstates.append(sx)
        self.ystates.append(sy)

    def finish(self, optimizer, path: np.ndarray, lr: np.ndarray, diverged: int | None) -> Internals:
        """Return the Internals of the recorded run, whose (steps+1, 2) path and divergence ``trace`` settled."""
        steps = len(lr)
        grad = np.full((steps, 2), np.nan)
        step = np.full((steps, 2), np.nan)
        k = len(self.rows)
        if k:
            rows = np.array(self.rows, dtype=float)
            grad[:k], step[:k] = rows[:, :2], rows[:, 2:]
        states = {}
        for i, name in enumerate(self.names):
            a = np.full((steps + 1, 2), np.nan)
            a[:k + 1, 0] = [s[i] for s in self.xstates]
            a[:k + 1, 1] = [s[i] for s in self.ystates]
            states[name] = a
        derived = _derived(optimizer, states, lr)
        if diverged is not None:
            # trace may end a run earlier than the loop did (a loss that is not finite)
            grad[diverged:] = np.nan
            step[max(diverged - 1, 0):] = np.nan
            for a in (*states.values(), *derived.values()):
                a[diverged:] = np.nan
        for a in (grad, step, *states.values(), *derived.values()):
            a.flags.writeable = False
        return Internals(path=path, lr=lr, grad=grad, step=step, states=states, derived=derived,
                         diverged_at=diverged)


def _derived(optimizer, states: dict[str, np.ndarray], lr: np.ndarray) -> dict[str, np.ndarray]:
    """Return the bias-corrected moments and the effective learning rate the rule defines from state and t."""
    out: dict[str, np.ndarray] = {}
    if "s" not in states:
        return out
    t = np.arange(len(lr) + 1, dtype=float)[:, None]
    beta2 = getattr(optimizer, "beta2", None)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Adam-like rules divide s by 1 - beta2^t; RMSProp and Adagrad use s as it is
        s_hat = states["s"] / (1.0 - beta2**t) if beta2 is not None else states["s"].copy()
        s_hat[0] = np.nan
        out["s_hat"] = s_hat
        if "m" in states and hasattr(optimizer, "beta1"):
            m_hat = states["m"] / (1.0 - optimizer.beta1**t)
            m_hat[0] = np.nan
            out["m_hat"] = m_hat
        eps = getattr(optimizer, "eps", None)
        if eps is not None:
            eff = np.full_like(s_hat, np.nan)
            eff[1:] = effective_lr(lr[:, None], s_hat[1:], eps)
            out["effective_lr"] = eff
    return out


__all__ = ["Internals", "Recorder"]
