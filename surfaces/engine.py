"""Compiled batched trajectories: numba compiles each optimizer's own ``update`` and the surface's sympy gradient.

Nothing here restates an update rule or a derivative. ``compiled_rule``
takes the optimizer class's ``update`` function (the same text the NumPy and
float paths call) and hands it to numba with a namedtuple of the optimizer's
hyperparameters standing in for ``self``: the rule reads ``self.beta1`` and
numba reads the namedtuple's field. Every plain Python function the rule
calls (Adam's ``adam_direction``) is compiled the same way, from its own text,
through a copy of the function that sees compiled helpers in its globals.
The gradient is the surface's ``math``-module lambdification of its sympy
derivative (``Surface.float_grad``'s source), compiled likewise, and the
loss the same way.

A catalogue surface's gradient and loss are compiled into each optimizer's
kernel (fastest); a typed formula's are handed to the optimizer's one shared
kernel as function values, so a new formula compiles only its own two small
functions (see ``FUSED``). A kernel runs blocks of starts step by step
(``BLOCK``: a step is one loop over the block's starts with no branch per
start, which LLVM turns into vector instructions for a fused kernel); the
starts are cut into slices of whole blocks that the engine's threads take in
turn, the kernel releasing the GIL, so every core works:

- with ``path`` given it records every point (what ``surfaces.trace`` shows);
- without, it keeps only what a sweep or an outcome map reports: the end
  point, the step a start diverged at, and which target (a declared minimum)
  it ended within a tolerance of, with the step from which it stayed there.

Divergence is the trace's: a coordinate over ``DIVERGENCE_LIMIT`` or not
finite after a step, or (kernels that check the loss) a loss that is not
finite. Float arithmetic follows NumPy's error model (inf and NaN, never an
exception), like the NumPy path.

``available()`` says whether numba is importable; ``compiled_rule`` and
``compiled_surface`` return None for what cannot be compiled (an optimizer
whose rule numba cannot type, a surface that is a mean over data or whose
gradient has no ``math`` form), and callers then use the NumPy path.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import threading
import time
import types
import warnings
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

import optim

from .surface import _lambdify, from_formula

try:  # numba is optional: without it every batch runs on the NumPy path
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

#: seconds spent compiling so far in this process, by what was compiled (read by benchmarks and the report)
COMPILE_SECONDS: dict[str, float] = {}
_LOCK = threading.RLock()


if numba is not None:
    # passing a formula's gradient as a function value is marked experimental in numba (every call warns);
    # tests/test_engine.py pins its results against the NumPy path
    warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                            category=numba.NumbaExperimentalFeatureWarning)


def available() -> bool:
    """Return True when numba is importable, so compiled kernels can be built."""
    return numba is not None


def _njit(fn):
    return numba.njit(fn, error_model="numpy", cache=False)


def _compile_function(fn: types.FunctionType, seen: dict | None = None, sig=None):
    """Return a numba dispatcher for ``fn`` whose referenced plain Python functions are compiled too.

    The copy shares ``fn``'s code object (so its text is the one source) but
    sees a globals dict in which every plain function it names is replaced by
    its compiled copy; numba can call compiled functions, not Python ones.
    """
    seen = {} if seen is None else seen
    if fn in seen:
        return seen[fn]
    glb = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        value = glb.get(name)
        if isinstance(value, types.FunctionType) and value is not fn:
            glb[name] = _compile_function(value, seen)
    clone = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
    seen[fn] = _njit(clone) if sig is None else numba.njit(sig, error_model="numpy")(clone)
    return seen[fn]


@dataclass(frozen=True)
class CompiledRule:
    """An optimizer's ``update`` compiled, the namedtuple type of its hyperparameters, and its state size."""

    cls: type
    update: object  # numba dispatcher of the class's own ``update(self, g, state, p, lr, t)``
    hp_type: type
    n_state: int

    def hyper(self, optimizer) -> tuple:
        """Return the namedtuple of ``optimizer``'s hyperparameters that stands in for ``self`` in the rule."""
        return self.hp_type(**{k: optimizer.hp[k] for k in self.hp_type._fields})


@functools.cache
def _rule_for_class(cls: type) -> CompiledRule | None:
    update = cls.update
    if not isinstance(update, types.FunctionType):
        return None
    fields = tuple(h.name for h in cls.hyperparameters)
    hp_type = namedtuple(f"{cls.__name__}Hyper", fields)
    return CompiledRule(cls, _compile_function(update), hp_type, len(cls.state_names))


def compiled_rule(optimizer) -> CompiledRule | None:
    """Return the compiled rule of ``optimizer``'s class, or None where numba is missing or the rule is not a plain function."""
    if numba is None:
        return None
    with _LOCK:
        return _rule_for_class(type(optimizer))


@dataclass(frozen=True)
class CompiledSurface:
    """A surface's gradient and loss as compiled functions of two floats."""

    grad: object
    loss: object


@functools.lru_cache(maxsize=64)
def _surface_functions(params: tuple, grad_exprs: tuple, loss_expr) -> CompiledSurface | None:
    try:
        grad = _lambdify(params, grad_exprs, "math")
        loss = _lambdify(params, (loss_expr,), "math")
    except Exception:
        # anything the math printer cannot write: this surface runs on the NumPy path
        return None
    f8 = numba.float64
    # explicit signatures make them first-class function values a shared kernel can be handed
    return CompiledSurface(_compile_function(grad, sig=numba.types.UniTuple(f8, 2)(f8, f8)),
                           _compile_function(loss, sig=numba.types.UniTuple(f8, 1)(f8, f8)))


def compiled_surface(surface) -> CompiledSurface | None:
    """Return ``surface``'s compiled gradient and loss, or None (numba missing, a mean over data, no ``math`` form)."""
    if numba is None or getattr(surface, "stochastic", False) or surface.float_grad is None:
        return None
    with _LOCK:
        return _surface_functions(tuple(surface.params), tuple(surface.subgradient_expr), surface.expr)


#: starts run together, step by step, in a work array of one row per quantity and one column per start (a block
#: of 256 fits the first-level cache): the step loop over a block's columns then has no branch per start, so LLVM
#: runs it on vector registers (4 starts at once with AVX2), and a step's shared quantities (Adam's bias
#: corrections) are computed once per step for the block
BLOCK = 256

# rows of a block's work array: the point, the start's learning rate, the step it diverged at (-1 while sane),
# the loss at the point, this step's gradient noise, then the optimizer's state for x and for y
_X, _Y, _LR, _DIV, _F, _NX, _NY, _STATE = range(8)


def _state_io(n_state: int):
    """Return compiled (load, store) between rows [base, base + n_state) of column j of a work array and a state tuple."""
    # every row index is written out (base is a constant where they are inlined), so LLVM sees that a step reads
    # and writes each row at the same place and needs no overlap check; a loop over the rows would hide that and
    # keep the step loop scalar
    if n_state == 0:
        def load(w, base, j):
            return ()

        def store(w, base, j, s):
            pass
    elif n_state == 1:
        def load(w, base, j):
            return (w[base, j],)

        def store(w, base, j, s):
            w[base, j] = s[0]
    elif n_state == 2:
        def load(w, base, j):
            return (w[base, j], w[base + 1, j])

        def store(w, base, j, s):
            w[base, j] = s[0]
            w[base + 1, j] = s[1]
    elif n_state == 3:
        def load(w, base, j):
            return (w[base, j], w[base + 1, j], w[base + 2, j])

        def store(w, base, j, s):
            w[base, j] = s[0]
            w[base + 1, j] = s[1]
            w[base + 2, j] = s[2]
    else:  # correct for any size, but the step loop stays scalar
        # imported here: numba is optional (the module imports without it) and this is its internal helper module
        from numba.np.unsafe.ndarray import to_fixed_tuple

        def load(w, base, j):
            return to_fixed_tuple(w[base:base + n_state, j].copy(), n_state)

        def store(w, base, j, s):
            for k in range(n_state):
                w[base + k, j] = s[k]
    return numba.njit(load), numba.njit(store)


def _make_kernel(update, n_state: int, grad=None, loss=None):
    """Return the kernel that runs ``update`` for starts [lo, hi), with a surface's gradient (and loss).

    With ``grad`` and ``loss`` given they are compiled into the kernel (one
    kernel per optimizer class and surface: fastest, but each new surface
    compiles again); without, the kernel calls whatever pair it is passed as
    its last argument (first-class functions: one kernel per optimizer class
    for every surface, so a newly typed formula compiles only its own two
    small functions).

    A step runs over the starts of a block's work array (see ``BLOCK``)
    without a branch per start: a start that diverged keeps being stepped on its
    meaningless numbers, but the step it diverged at is kept, nothing it
    computes reaches another start, and its path and loss are overwritten
    with NaN from that step on at the end of the block.
    """
    load, store = _state_io(n_state)
    sx0, sy0 = _STATE, _STATE + n_state  # first rows of x's and y's state
    rows = _STATE + 2 * n_state
    if grad is None:
        def grad_of(fns, x, y):
            return fns[0][0](x, y)

        def loss_of(fns, x, y):
            return fns[1][0](x, y)[0]
    else:
        def grad_of(fns, x, y):
            return grad(x, y)

        def loss_of(fns, x, y):
            return loss(x, y)[0]
    grad_of, loss_of = numba.njit(grad_of), numba.njit(loss_of)

    def nearest(x, y, targets, tol2):
        for k in range(targets.shape[0]):
            if (x - targets[k, 0]) ** 2 + (y - targets[k, 1]) ** 2 <= tol2:
                return k
        return -1

    nearest = numba.njit(nearest)

    def kernel(lo, hi, hp, p0, lrs, factors, noise, nidx, path, losses, record, check_loss, targets, tol2, lim,
               end, diverged, which, reached, fns):
        steps = factors.shape[0]
        track = targets.shape[0] > 0
        has_noise = noise.shape[0] > 0
        any_loss = not check_loss
        w = np.zeros((rows, BLOCK))
        at = np.full(BLOCK, -1)
        since = np.full(BLOCK, -1)
        for b0 in range(lo, hi, BLOCK):
            nb = min(BLOCK, hi - b0)
            w[:] = 0.0
            for j in range(nb):
                i = b0 + j
                x = p0[i, 0]
                y = p0[i, 1]
                w[_X, j] = x
                w[_Y, j] = y
                w[_LR, j] = lrs[i]
                f0 = loss_of(fns, x, y) if check_loss else 0.0
                if record:
                    path[0, i, 0] = x
                    path[0, i, 1] = y
                    losses[0, i] = f0
                at[j] = -1
                since[j] = -1
                if not math.isfinite(f0):
                    w[_DIV, j] = 0.0
                else:
                    w[_DIV, j] = -1.0
                    if track:
                        at[j] = nearest(x, y, targets, tol2)
                        if at[j] >= 0:
                            since[j] = 0
            for t in range(1, steps + 1):
                if has_noise:
                    for j in range(nb):
                        w[_NX, j] = noise[t - 1, nidx[b0 + j], 0]
                        w[_NY, j] = noise[t - 1, nidx[b0 + j], 1]
                # one step of the block's first nb starts, with no branch per start (see the docstring); the divergence
                # test is the trace's: a coordinate over lim or not a number, or unless any_loss a loss that
                # is not finite (f - f is 0 only for a finite f)
                tf = float(t)
                factor = factors[t - 1]
                for j in range(nb):
                    x = w[_X, j]
                    y = w[_Y, j]
                    lr = w[_LR, j] * factor
                    gx, gy = grad_of(fns, x, y)
                    gx = gx + w[_NX, j]
                    gy = gy + w[_NY, j]
                    dx, sx = update(hp, gx, load(w, sx0, j), x, lr, tf)
                    dy, sy = update(hp, gy, load(w, sy0, j), y, lr, tf)
                    store(w, sx0, j, sx)
                    store(w, sy0, j, sy)
                    x = x - dx
                    y = y - dy
                    f = loss_of(fns, x, y)
                    ok = (abs(x) <= lim) & (abs(y) <= lim) & ((f - f == 0.0) | any_loss)
                    w[_X, j] = x
                    w[_Y, j] = y
                    w[_F, j] = f
                    d = w[_DIV, j]
                    w[_DIV, j] = tf if (d < 0.0) & (not ok) else d
                if record:
                    row = path[t]
                    lrow = losses[t]
                    for j in range(nb):
                        row[b0 + j, 0] = w[_X, j]
                        row[b0 + j, 1] = w[_Y, j]
                        lrow[b0 + j] = w[_F, j]
                if track:
                    for j in range(nb):
                        if w[_DIV, j] < 0.0:
                            now = nearest(w[_X, j], w[_Y, j], targets, tol2)
                            if now != at[j]:
                                at[j] = now
                                since[j] = t if now >= 0 else -1
            for j in range(nb):
                i = b0 + j
                d = int(w[_DIV, j])
                diverged[i] = d
                if d >= 0:
                    if record:
                        for t in range(d, steps + 1):
                            path[t, i, 0] = np.nan
                            path[t, i, 1] = np.nan
                            losses[t, i] = np.nan
                    end[i, 0] = np.nan
                    end[i, 1] = np.nan
                    which[i] = -1
                    reached[i] = -1
                else:
                    end[i, 0] = w[_X, j]
                    end[i, 1] = w[_Y, j]
                    which[i] = at[j]
                    reached[i] = since[j]

    return numba.njit(kernel, nogil=True, error_model="numpy", cache=False)


@functools.lru_cache(maxsize=128)
def _kernel_for(update, n_state: int, grad=None, loss=None):
    return _make_kernel(update, n_state, grad, loss)


@dataclass(frozen=True)
class Outcome:
    """What a batch of N starts did, without paths: all arrays (N,) or (N, 2).

    ``end`` is the last point (NaN for a start that diverged), ``diverged_at``
    the step it diverged at or -1, ``which`` the index of the target it ended
    within the tolerance of or -1, ``reached_at`` the step from which it stayed
    within that target's tolerance, or -1.
    """

    end: np.ndarray
    diverged_at: np.ndarray
    which: np.ndarray
    reached_at: np.ndarray


class Engine:
    """One optimizer class on one surface, compiled: ``run`` many starts with per-start learning rates."""

    def __init__(self, rule: CompiledRule, funcs: CompiledSurface, fused: bool):
        self.rule = rule
        self.funcs = funcs
        if fused:
            self.kernel = _kernel_for(rule.update, rule.n_state, funcs.grad, funcs.loss)
            self.fns = ()
        else:
            self.kernel = _kernel_for(rule.update, rule.n_state)
            self.fns = ((funcs.grad,), (funcs.loss,))  # 1-tuples: numba types them as function values, not as these dispatchers

    def run(self, optimizer, p0: np.ndarray, factors: np.ndarray, *, lrs: np.ndarray | None = None,
            noise: np.ndarray | None = None, noise_index: np.ndarray | None = None, path: np.ndarray | None = None,
            losses: np.ndarray | None = None,
            check_loss: bool = False, targets=(), tol: float = 0.0, limit: float = 1e6) -> Outcome:
        """Return the Outcome of running ``optimizer``'s rule from each row of ``p0`` (N, 2).

        The rate of start i at step t is ``lrs[i] * factors[t-1]`` (``lrs``
        defaults to the optimizer's ``lr``, ``factors`` is its schedule). ``noise``
        (steps, S, 2) is added to the gradient, row ``noise_index[i]`` for start
        i. ``path`` (steps+1, N, 2) and ``losses`` (steps+1, N), if given, are
        written whole: every point and its loss, the start first, NaN from the
        step a start diverged at.
        """
        p0 = np.ascontiguousarray(p0, dtype=float).reshape(-1, 2)
        n = len(p0)
        factors = np.ascontiguousarray(factors, dtype=float)
        lrs = np.full(n, float(optimizer.lr)) if lrs is None else np.ascontiguousarray(lrs, dtype=float)
        if noise is None:
            noise = np.zeros((0, 1, 2))
            noise_index = np.zeros(n, dtype=np.int64)
        elif noise_index is None:
            noise_index = np.arange(n, dtype=np.int64)
        record = path is not None
        if path is None:
            path = np.zeros((1, 1, 2))
        if losses is None:
            losses = np.zeros((1, 1))
        targets = np.asarray(targets, dtype=float).reshape(-1, 2)
        end = np.empty((n, 2))
        diverged = np.empty(n, dtype=np.int64)
        which = np.empty(n, dtype=np.int64)
        reached = np.empty(n, dtype=np.int64)
        hp = self.rule.hyper(optimizer)
        args = (hp, p0, lrs, factors, np.ascontiguousarray(noise, dtype=float),
                np.ascontiguousarray(noise_index, dtype=np.int64), path, losses, record, bool(check_loss),
                np.ascontiguousarray(targets), float(tol) ** 2, float(limit), end, diverged, which, reached, self.fns)
        self._compile(args)
        if record:
            _prefault((path, losses))
        _split(self.kernel, n, args)
        return Outcome(end, diverged, which, reached)


    def _compile(self, args) -> None:
        """Compile the kernel for these argument types (an empty range) and count the seconds it took."""
        if self.kernel.signatures:
            return
        with _LOCK:
            t0 = time.perf_counter()
            self.kernel(0, 0, *args)
            label = f"{self.rule.cls.__name__} kernel"
            COMPILE_SECONDS[label] = COMPILE_SECONDS.get(label, 0.0) + time.perf_counter() - t0


#: the kernels release the GIL, so threads run slices of the starts on every core at once
WORKERS = max(1, os.cpu_count() or 1)
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="descent-engine")
#: slices per thread: whichever thread is free takes the next, so a core shared with other work slows the call
#: by its share, not by a whole half
SLICES_PER_WORKER = 4


#: recorded arrays from this size on are faulted in before a kernel writes them (see ``_prefault``)
PREFAULT_BYTES = 1 << 22
_PAGE = 4096 // 8  # float64 values in a 4 KB memory page


def _prefault(arrays) -> None:
    """Write one 0.0 per memory page of each large contiguous array, in contiguous parts on the pool's threads."""
    # A fresh array's pages are mapped (and zeroed by the OS) when first written. The kernel's threads write every
    # step's row, so they fault the same (huge) pages at the same moments, which measured about twice the CPU
    # seconds of faulting each page once: here each thread faults its own part, in parallel. The kernel then
    # overwrites every value.
    futures = []
    for a in arrays:
        if WORKERS == 1 or a.nbytes < PREFAULT_BYTES or not a.flags.c_contiguous:
            continue
        flat = a.reshape(-1)  # a view: the array is contiguous
        bounds = np.linspace(0, flat.size, WORKERS + 1).astype(int)
        futures += [_POOL.submit(_touch, flat, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
    for f in futures:
        f.result()


def _touch(flat: np.ndarray, lo: int, hi: int) -> None:
    """Write 0.0 at every page's first value of ``flat[lo:hi]`` (NumPy releases the GIL for the loop)."""
    flat[lo:hi:_PAGE] = 0.0


def _split(kernel, n: int, args: tuple) -> None:
    """Run ``kernel`` over starts [0, n) in slices of whole blocks (``BLOCK``) on the thread pool, and wait for all."""
    blocks = -(-n // BLOCK)
    if WORKERS == 1 or blocks < 2:
        kernel(0, n, *args)
        return
    per = -(-blocks // (WORKERS * SLICES_PER_WORKER)) * BLOCK  # a slice never ends inside a block
    futures = [_POOL.submit(kernel, a, min(a + per, n), *args) for a in range(0, n, per)]
    for f in futures:
        f.result()


#: where the gradient is compiled into each optimizer's kernel: "catalogue" surfaces only (a typed formula then
#: compiles just its two small functions and reuses the optimizer's shared kernel, ~0.2 s instead of ~1-2 s per
#: optimizer), "always" or "never"
FUSED = os.environ.get("DESCENT_FUSED", "catalogue")


def _fused(surface) -> bool:
    """Return True if ``surface``'s gradient is compiled into the kernel (about 2x faster per step, a compile per surface)."""
    if FUSED in ("always", "never"):
        return FUSED == "always"
    return surface.name != "custom"


#: why an optimizer class or surface runs on the NumPy path, by name, for the benchmarks and the report
FALLBACKS: dict[str, str] = {}


def engine_for(surface, optimizer, build: bool = True) -> Engine | None:
    """Return the compiled Engine for ``optimizer``'s class on ``surface``, compiled now; None where one cannot be built.

    With ``build=False`` only an engine compiled earlier is returned (None otherwise): compiling holds the
    interpreter for a second or two, which a small batch is not worth.
    """
    if numba is None:
        return None
    rule = compiled_rule(optimizer)
    if rule is None:
        FALLBACKS[type(optimizer).__name__] = "its update is not a plain function"
        return None
    funcs = compiled_surface(surface)
    if funcs is None:
        FALLBACKS[surface.name] = ("a mean over data (mini-batches)" if getattr(surface, "stochastic", False)
                                   else "its gradient has no math-module form")
        return None
    fused = _fused(surface)
    if not build:
        return _ENGINES.get((rule, funcs, fused))
    eng = _engine(rule, funcs, optimizer, fused)
    if eng is None:
        FALLBACKS[f"{type(optimizer).__name__} on {surface.name}"] = _FAILED[(rule, funcs, fused)]
    return eng


_FAILED: dict = {}


def _engine(rule: CompiledRule, funcs: CompiledSurface, optimizer, fused: bool) -> Engine | None:
    """Return the Engine of this rule and surface, compiling it the first time; None (remembered) if numba cannot."""
    key = (rule, funcs, fused)
    with _LOCK:
        if key in _ENGINES:
            return _ENGINES[key]
        try:
            eng = Engine(rule, funcs, fused)
            eng.run(optimizer, np.zeros((0, 2)), np.ones(1))
        except Exception as e:  # a rule or formula numba cannot type: the NumPy path runs it instead
            _FAILED[key] = f"{type(e).__name__}: {str(e)[:200]}"
            eng = None
        if len(_ENGINES) >= 256:  # many typed formulas: forget the oldest kernel
            del _ENGINES[next(iter(_ENGINES))]
        _ENGINES[key] = eng
        return eng


_ENGINES: dict = {}


def warm_shared_kernels(names=None) -> float:
    """Compile the shared (formula-independent) kernel of the named optimizers (default: all); return the seconds.

    After this a newly typed formula costs only its own gradient and loss (~0.2 s).
    """
    t0 = time.perf_counter()
    if numba is not None:
        probe = from_formula("x^2 + y^2")
        for name in optim.OPTIMIZERS if names is None else names:
            engine_for(probe, optim.OPTIMIZERS[name]())
    return time.perf_counter() - t0


def rule_source(optimizer) -> str:
    """Return the source text of the rule the compiled path runs (the class's own ``update``), for display and tests."""
    return inspect.getsource(type(optimizer).update)


__all__ = ["available", "compiled_rule", "compiled_surface", "engine_for", "Engine", "Outcome", "CompiledRule",
           "CompiledSurface", "COMPILE_SECONDS", "FALLBACKS", "rule_source", "warm_shared_kernels"]
