"""Trajectories of an optimizer on a surface, driven only through the optimizer's public interface.

One start runs on Python floats: the gradient is a ``math``-module function
of two floats and ``optimizer.update`` is called per coordinate, which costs a
few microseconds a step. A batch of starts runs as NumPy arrays, one
``optimizer.update`` per step on the whole (N, 2) array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import engine
from .batches import minibatches
from .formula import SurfaceError
from .internals import Internals, Recorder
from .surface import Surface

MAX_STEPS = 20_000
MAX_STARTS = 40_000
#: steps x starts, which bounds the memory of the recorded paths (16 bytes per point and step)
MAX_POINTS = 10_000_000
#: a coordinate whose magnitude exceeds this has left any window worth drawing
DIVERGENCE_LIMIT = 1e6


class TraceError(SurfaceError):
    """A trajectory request that cannot be run (bad steps, start, noise or batch size)."""


@dataclass(frozen=True, eq=False)
class Trace:
    """One optimizer's run: ``path`` (steps+1, 2) start first, ``loss`` (steps+1,), ``lr`` (steps,).

    For a batch of N starts ``path`` is (steps+1, N, 2), ``loss`` (steps+1, N)
    and ``diverged_at`` a list of N entries. ``diverged_at`` is the first
    index t of ``path`` whose point has a coordinate that is not finite or
    whose magnitude exceeds ``DIVERGENCE_LIMIT`` (1e6), or whose loss is not
    finite; ``path[t:]`` and ``loss[t:]`` are then NaN. It is None for a run
    that stayed sane. ``lr[t-1]`` is the learning rate the optimizer used at
    step t. ``loss`` is always the full loss, even when steps used
    mini-batches. Arrays are read-only.
    """

    path: np.ndarray
    loss: np.ndarray
    diverged_at: int | None | list[int | None]
    lr: np.ndarray
    #: the optimizer's state per step, for one start traced with ``record=True`` (else None)
    internals: Internals | None = None


def _check_count(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TraceError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise TraceError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def _check_start(start) -> np.ndarray:
    try:
        p = np.array(start, dtype=float)
    except (TypeError, ValueError):
        raise TraceError(f"the start must be a point (x, y) or a list of points, got {start!r}") from None
    if p.shape == (2,) or (p.ndim == 2 and p.shape[1] == 2 and p.shape[0] >= 1):
        if not np.isfinite(p).all():
            raise TraceError("start points must have finite coordinates")
        return p
    raise TraceError(f"the start must be a point (x, y) or an array of points of shape (N, 2), got shape {p.shape}")


def check_batch_size(surface: Surface, batch_size) -> int:
    """Return ``batch_size`` as an int if ``surface`` can draw mini-batches of it; raise TraceError if not."""
    if not getattr(surface, "stochastic", False):
        raise TraceError(
            f"the {surface.title} surface is a fixed formula, not a mean over examples, so it has no "
            "mini-batches; use gradient noise instead, or pick a data surface"
        )
    return _check_count(batch_size, "the batch size", 1, surface.n_examples)


def _batch_stream(m: int, batch_size: int, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Return the example indices of each of ``steps`` steps, epoch after epoch of the article's sampler."""
    out: list[np.ndarray] = []
    while len(out) < steps:
        out.extend(minibatches(m, batch_size, rng))
    return out[:steps]


def trace(surface: Surface, optimizer, start, steps: int, noise: float = 0.0, seed: int = 0,
          batch_size: int | None = None, record: bool = False, compiled: bool | None = None) -> Trace:
    """Return the Trace of ``optimizer`` run for ``steps`` steps on ``surface`` from ``start``.

    ``optimizer`` is any object with ``reset``, ``init``, ``update`` and
    ``lr_at`` (an ``optim.Optimizer``); it is reset first and never stepped
    through anything else. ``start`` is a point (2,) or a batch (N, 2) run as
    one vectorised computation.

    ``noise`` is the standard deviation of Gaussian noise added to every
    gradient coordinate, drawn from ``np.random.default_rng(seed)`` in order
    step by step (for a batch, an (N, 2) draw per step). ``batch_size`` is for
    surfaces that are means over data (``surface.stochastic``): each step then
    uses the mean gradient of one mini-batch from ``surfaces.batches.minibatches``
    (a fresh permutation per epoch, drawn from ``np.random.default_rng([seed, 1])``).

    ``record=True`` (one start only) also keeps the optimizer's state at every
    step, in the same loop, as ``Trace.internals`` (``surfaces.internals.Internals``).

    A batch runs through ``surfaces.engine`` (numba compiling the optimizer's
    own ``update`` and the surface's gradient) when it can, else as NumPy
    arrays; both give the same numbers. ``compiled=False`` forces NumPy,
    ``compiled=True`` raises TraceError where no compiled engine can be built.
    """
    steps, p0, noise = _check_request(start, steps, noise, seed)
    if record and p0.ndim != 1:
        raise TraceError(f"recording the optimizer's state needs one start point, got {len(p0)}")
    batches = None
    if batch_size is not None:
        batch_size = check_batch_size(surface, batch_size)
        batches = _batch_stream(surface.n_examples, batch_size, steps, np.random.default_rng([seed, 1]))

    optimizer.reset()
    lr = np.array([optimizer.lr_at(t) for t in range(1, steps + 1)], dtype=float)
    rng = np.random.default_rng(seed)
    g = surface.float_grad
    rec = None
    ran = None
    if p0.ndim == 1 and g is not None and batches is None:
        if record:
            rec = Recorder(optimizer.state_names, optimizer.init(float(p0[0])), optimizer.init(float(p0[1])))
        path, diverged = _run_floats(g, optimizer, p0, lr.tolist(), rng.normal(0.0, noise, (steps, 2)) if noise else None,
                                     rec)
        path = path[:, None, :]
        diverged = [diverged]
    else:
        if record:
            rec = Recorder(optimizer.state_names, *_state_rows(optimizer.init(p0.reshape(1, 2))))
            ran = None  # the optimizer's state is recorded in the NumPy loop
        else:
            ran = _run_compiled(surface, optimizer, p0.reshape(-1, 2), lr, noise, rng, batches, compiled)
        if ran is None:
            path, diverged = _run_arrays(surface, optimizer, p0.reshape(-1, 2), lr.tolist(), noise, rng, batches, rec)
        else:
            path, diverged, loss = ran

    if ran is None:
        loss = _full_loss(surface, path)
        _cut_at_divergence(path, loss, diverged)  # the compiled kernel cuts as it goes
    if p0.ndim == 1:
        path, loss, diverged = path[:, 0, :], loss[:, 0], diverged[0]
    for a in (path, loss, lr):
        a.flags.writeable = False
    internals = rec.finish(optimizer, path, lr, diverged) if rec is not None else None
    return Trace(path=path, loss=loss, diverged_at=diverged, lr=lr, internals=internals)


def _state_rows(state: tuple) -> tuple[tuple, tuple]:
    """Return the x and y values of a one-start (1, 2) state as two tuples of floats (copies, not views)."""
    return tuple(float(s[0, 0]) for s in state), tuple(float(s[0, 1]) for s in state)


def _check_request(start, steps, noise, seed) -> tuple[int, np.ndarray, float]:
    """Return (steps, start array, noise) checked; raise TraceError naming the first value out of range."""
    steps = _check_count(steps, "the number of steps", 0, MAX_STEPS)
    p0 = _check_start(start)
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise TraceError(f"the gradient noise must be a number, got {noise!r}") from None
    if not (math.isfinite(noise) and noise >= 0):
        raise TraceError(f"the gradient noise must be zero or positive, got {noise}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TraceError(f"the seed must be a whole number >= 0, got {seed!r}")
    n = 1 if p0.ndim == 1 else len(p0)
    _check_count(n, "the number of start points", 1, MAX_STARTS)
    if (steps + 1) * n > MAX_POINTS:
        raise TraceError(
            f"{n} starts x {steps} steps is too much to record; keep starts x steps under {MAX_POINTS:,}"
        )
    return steps, p0, noise


def _cut_at_divergence(path: np.ndarray, loss: np.ndarray, diverged: list[int | None]) -> None:
    """Move each start's divergence back to its first non-finite loss, and blank (NaN) everything from there on."""
    bad = ~np.isfinite(loss)
    for i in np.flatnonzero(bad.any(axis=0)):
        first_bad = int(np.argmax(bad[:, i]))
        if diverged[i] is None or first_bad < diverged[i]:
            diverged[i] = first_bad
    for i, d in enumerate(diverged):
        if d is not None:
            path[d:, i] = np.nan
            loss[d:, i] = np.nan


def _full_loss(surface: Surface, path: np.ndarray) -> np.ndarray:
    """Return ``surface.loss(path)``, computed in slices so a mean over examples never holds more than a few million values."""
    per_row = path.shape[1] * (getattr(surface, "n_examples", None) or 1)
    rows = max(1, 2_000_000 // per_row)
    loss = np.empty(path.shape[:2])
    for a in range(0, len(path), rows):
        loss[a:a + rows] = surface.loss(path[a:a + rows])
    return loss


def _run_floats(g, optimizer, p0: np.ndarray, lrs: list[float], noise,
                rec: Recorder | None = None) -> tuple[np.ndarray, int | None]:
    """Return the (steps+1, 2) path of one start on Python floats and the index where it diverged, or None.

    ``rec``, if given, is handed every step that stayed sane.
    """
    update = optimizer.update
    px, py = float(p0[0]), float(p0[1])
    sx, sy = optimizer.init(px), optimizer.init(py)
    xs, ys = [px], [py]
    steps = len(lrs)
    nx, ny = ([0.0] * steps, [0.0] * steps) if noise is None else (noise[:, 0].tolist(), noise[:, 1].tolist())
    lim = DIVERGENCE_LIMIT
    diverged = None
    t = 0
    try:
        for t in range(1, steps + 1):
            lr = lrs[t - 1]
            gx, gy = g(px, py)
            gx += nx[t - 1]
            gy += ny[t - 1]
            dx, sx = update(gx, sx, px, lr, t)
            dy, sy = update(gy, sy, py, lr, t)
            px = px - dx
            py = py - dy
            if not (-lim <= px <= lim and -lim <= py <= lim):  # NaN fails both comparisons
                diverged = t
                break
            xs.append(px)
            ys.append(py)
            if rec is not None:
                rec.add(gx, gy, dx, dy, sx, sy)
    except (OverflowError, ZeroDivisionError, ValueError):
        # the math module raises where NumPy gives inf or NaN: the path has left the real domain
        diverged = t
    path = np.full((steps + 1, 2), np.nan)
    k = len(xs)
    path[:k, 0] = xs
    path[:k, 1] = ys
    return path, diverged


#: noise values drawn ahead for the compiled path (32 MB); a larger noisy batch runs on NumPy
MAX_NOISE_VALUES = 4_000_000
#: point-steps from which a batch is worth compiling an engine for (NumPy takes ~20 ms for this many);
#: a smaller batch uses an engine only if one was compiled already
COMPILE_FROM = 1_000_000


def _run_compiled(surface: Surface, optimizer, p0: np.ndarray, lr: np.ndarray, noise: float,
                  rng: np.random.Generator, batches, compiled: bool | None):
    """Return (paths, divergence, losses) from the compiled engine, or None where it does not apply.

    The kernel computes each point's loss as it goes (the compiled sympy loss)
    and stops a start at its first non-finite loss, as ``_cut_at_divergence`` would.
    """
    usable = compiled is not False and batches is None and (not noise or lr.size * p0.size <= MAX_NOISE_VALUES)
    build = compiled is True or lr.size * len(p0) >= COMPILE_FROM
    eng = engine.engine_for(surface, optimizer, build=build) if usable else None
    if eng is None:
        if compiled:
            raise TraceError("no compiled engine for this optimizer and surface (numba missing, mini-batches, "
                             "or a rule or formula numba cannot compile)")
        return None
    n, steps = len(p0), len(lr)
    # the kernel writes every entry (the start, each step, NaN after a divergence): no fill pass needed
    path = np.empty((steps + 1, n, 2))
    # the same draws in the same order as the NumPy path's one (N, 2) draw per step
    draws = rng.normal(0.0, noise, (steps, n, 2)) if noise else None
    loss = np.empty((steps + 1, n))
    out = eng.run(optimizer, p0, lr, lrs=np.ones(n), noise=draws, path=path, losses=loss, check_loss=True)
    return path, [None if d < 0 else d for d in out.diverged_at.tolist()], loss


def _run_arrays(surface: Surface, optimizer, p0: np.ndarray, lrs: list[float], noise: float,
                rng: np.random.Generator, batches, rec: Recorder | None = None) -> tuple[np.ndarray, list[int | None]]:
    """Return the (steps+1, N, 2) paths of N starts and, per start, the index where it diverged or None.

    Diverged starts are dropped from the working arrays (and from every
    per-start state array), so their NaNs cannot reach the others. ``rec``
    (one start only) is handed every step that stayed sane.
    """
    n = len(p0)
    steps = len(lrs)
    path = np.full((steps + 1, n, 2), np.nan)
    path[0] = p0
    diverged: list[int | None] = [None] * n
    alive = np.arange(n)
    p = p0.copy()
    state = optimizer.init(p)
    lim = DIVERGENCE_LIMIT
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            grad = surface.grad(p) if batches is None else surface.grad(p, batches[t - 1])
            if noise:
                grad += rng.normal(0.0, noise, (n, 2))[alive]
            delta, state = optimizer.update(grad, state, p, lrs[t - 1], t)
            p = p - delta
            # one reduction per step in the common case; NaN fails the comparison and takes the slow branch
            if not np.abs(p).max() <= lim:
                ok = (np.abs(p) <= lim).all(axis=1)
                for i in alive[~ok]:
                    diverged[i] = t
                alive = alive[ok]
                p = p[ok]
                state = tuple(s[ok] if isinstance(s, np.ndarray) and s.shape[:1] == ok.shape else s
                              for s in state)
                if len(alive) == 0:
                    break
            if len(alive) == n:
                path[t] = p
            else:
                path[t, alive] = p
            if rec is not None:
                # update works in place on the state arrays, so the row is copied out now
                rec.add(*grad[0].tolist(), *delta[0].tolist(), *_state_rows(state))
    return path, diverged


__all__ = ["Trace", "TraceError", "check_batch_size", "trace", "MAX_STEPS", "MAX_STARTS", "MAX_POINTS", "DIVERGENCE_LIMIT"]
