"""An optimizer's own state at every step of a run, read through its public interface only.

``record_states`` drives the optimizer exactly as ``surfaces.trace`` drives a
single start (``reset``, ``lr_at``, ``init``, ``update``, on Python floats when
the surface has a float gradient, else on a (1, 2) array), so its path is the
trace's path, and it keeps what ``update`` hands back: the state arrays named
by ``state_names``, the gradient and the step. Nothing of a rule is computed a
second time except what a rule's own LaTeX defines from state and ``t``: the
bias-corrected moments and the effective learning rate of adaptive methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .curvature import effective_lr
from .surface import Surface
from .trace import DIVERGENCE_LIMIT, MAX_STEPS, TraceError


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
    in ``Trace``: from that row on every array is NaN. Arrays are read-only.
    """

    path: np.ndarray
    lr: np.ndarray
    grad: np.ndarray
    step: np.ndarray
    states: dict[str, np.ndarray]
    derived: dict[str, np.ndarray]
    diverged_at: int | None


def _check(start, steps) -> tuple[np.ndarray, int]:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 0 <= steps <= MAX_STEPS:
        raise TraceError(f"the number of steps must be a whole number between 0 and {MAX_STEPS}, got {steps!r}")
    try:
        p0 = np.array(start, dtype=float)
    except (TypeError, ValueError):
        raise TraceError(f"the start must be a point (x, y), got {start!r}") from None
    if p0.shape != (2,) or not np.isfinite(p0).all():
        raise TraceError(f"the start must be one point (x, y) with finite coordinates, got {start!r}")
    return p0, int(steps)


def record_states(surface: Surface, optimizer, start, steps: int, noise: float = 0.0, seed: int = 0) -> Internals:
    """Return the Internals of ``optimizer`` run for ``steps`` steps on ``surface`` from one ``start``.

    ``noise`` and ``seed`` mean what they mean for ``surfaces.trace`` (the
    same draws in the same order), so the path equals the trace's path.
    """
    p0, steps = _check(start, steps)
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise TraceError(f"the gradient noise must be a number, got {noise!r}") from None
    if not (math.isfinite(noise) and noise >= 0):
        raise TraceError(f"the gradient noise must be zero or positive, got {noise}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TraceError(f"the seed must be a whole number >= 0, got {seed!r}")
    optimizer.reset()
    lrs = [optimizer.lr_at(t) for t in range(1, steps + 1)]
    rng = np.random.default_rng(seed)
    names = tuple(optimizer.state_names)
    path = np.full((steps + 1, 2), np.nan)
    grad = np.full((steps, 2), np.nan)
    step = np.full((steps, 2), np.nan)
    states = {name: np.full((steps + 1, 2), np.nan) for name in names}
    g = surface.float_grad
    if g is not None:
        diverged = _run_floats(g, optimizer, p0, lrs, rng.normal(0.0, noise, (steps, 2)) if noise else None,
                               path, grad, step, states)
    else:
        diverged = _run_array(surface, optimizer, p0, lrs, noise, rng, path, grad, step, states)
    # as trace does: a point whose loss is not a finite number ends the run there
    bad = ~np.isfinite(surface.loss(path[: steps + 1 if diverged is None else diverged]))
    if bad.any():
        diverged = int(np.argmax(bad))
    derived = _derived(optimizer, states, np.array(lrs, dtype=float))
    if diverged is not None:
        path[diverged:] = np.nan
        grad[diverged:] = np.nan
        step[diverged - 1 if diverged > 0 else 0:] = np.nan
        for a in (*states.values(), *derived.values()):
            a[diverged:] = np.nan
    lr = np.array(lrs, dtype=float)
    for a in (path, lr, grad, step, *states.values(), *derived.values()):
        a.flags.writeable = False
    return Internals(path=path, lr=lr, grad=grad, step=step, states=states, derived=derived, diverged_at=diverged)


def _run_floats(g, optimizer, p0, lrs, noise, path, grad, step, states) -> int | None:
    """Fill the arrays from a run on Python floats, as trace's single-start loop; return where it diverged."""
    update = optimizer.update
    names = tuple(states)
    px, py = float(p0[0]), float(p0[1])
    sx, sy = optimizer.init(px), optimizer.init(py)
    # rows collect in lists (cheap appends) and land in the arrays once, so recording costs little per step
    points, grads, deltas, xstates, ystates = [(px, py)], [], [], [sx], [sy]
    steps = len(lrs)
    nx, ny = ([0.0] * steps, [0.0] * steps) if noise is None else (noise[:, 0].tolist(), noise[:, 1].tolist())
    lim = DIVERGENCE_LIMIT
    diverged = None
    t = 0
    gx = gy = 0.0
    try:
        for t in range(1, steps + 1):
            lr = lrs[t - 1]
            gx, gy = g(px, py)
            gx, gy = gx + nx[t - 1], gy + ny[t - 1]
            dx, sx = update(gx, sx, px, lr, t)
            dy, sy = update(gy, sy, py, lr, t)
            px = px - dx
            py = py - dy
            if not (-lim <= px <= lim and -lim <= py <= lim):  # NaN fails both comparisons
                diverged = t
                break
            points.append((px, py))
            grads.append((gx, gy))
            deltas.append((dx, dy))
            xstates.append(sx)
            ystates.append(sy)
    except (OverflowError, ZeroDivisionError, ValueError):
        diverged = t
    except TypeError:
        # a fractional power of a negative number is complex, which cannot be compared with the limit
        if not any(isinstance(v, complex) for v in (px, py, gx, gy)):
            raise
        diverged = t
    k = len(points)
    path[:k] = points
    if k > 1:
        grad[:k - 1] = grads
        step[:k - 1] = deltas
    for i, name in enumerate(names):
        states[name][:k, 0] = [s[i] for s in xstates]
        states[name][:k, 1] = [s[i] for s in ystates]
    return diverged


def _run_array(surface, optimizer, p0, lrs, noise, rng, path, grad, step, states) -> int | None:
    """Fill the arrays from a run on a (1, 2) array, as trace's array loop; return where it diverged."""
    names = tuple(states)
    p = p0.reshape(1, 2).copy()
    state = optimizer.init(p)
    path[0] = p[0]
    for name, s in zip(names, state):
        states[name][0] = s[0]
    with np.errstate(all="ignore"):
        for t in range(1, len(lrs) + 1):
            gr = surface.grad(p)
            if noise:
                gr += rng.normal(0.0, noise, (1, 2))
            delta, state = optimizer.update(gr, state, p, lrs[t - 1], t)
            p = p - delta
            if not np.abs(p).max() <= DIVERGENCE_LIMIT:
                return t
            # update works in place on the state arrays, so each row is copied out now
            grad[t - 1] = gr[0]
            step[t - 1] = delta[0]
            path[t] = p[0]
            for name, s in zip(names, state):
                states[name][t] = s[0]
    return None


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


__all__ = ["Internals", "record_states"]
