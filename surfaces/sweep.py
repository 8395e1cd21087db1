"""Learning-rate sweeps, (lr, beta) maps and outcome maps: many trajectories that keep only what they report.

Every run goes through ``surfaces.engine`` with paths off (end point, loss,
divergence step, and the step from which it stayed within a tolerance of a
declared minimum), or, where no compiled engine can be built (mini-batches, a
formula numba cannot compile), through ``surfaces.trace`` on NumPy. A point
of a sweep at rate r is the race at rate r: same starts, same noise draws
(``default_rng(seed)``, one (starts, 2) draw per step), same schedule.

How a rate is judged: the *gap* of a run is its final loss above the
surface's minimum value (or, for a surface without one, above the lowest
final loss of the whole sweep), floored at ``GAP_FLOOR``; a run that
diverged has an infinite gap. A rate's gap is the mean over seeds and starts.
The best rate has the smallest gap (among rates that tie, typically all at
the floor, the one whose runs reached a minimum in the fewest steps); the
*good band* is the run of grid rates around it whose gap is within
``BAND_FACTOR`` (10) times the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import engine
from .trace import MAX_STEPS, TraceError, trace

#: default number of log-spaced learning rates in a sweep
N_RATES = 41
#: decades below the declared highest rate that a sweep covers by default (100 down to 1e-5)
DECADES = 7
#: gaps below this count as "at the minimum", so a rate that lands exactly on it does not make every other look infinitely worse
GAP_FLOOR = 1e-12
#: rates whose gap is within this factor of the best one form the good band
BAND_FACTOR = 10.0
#: largest outcome map side
MAX_MAP = 256
#: outcome classes besides the minima's indices 0, 1, ...
ELSEWHERE, DIVERGED = -1, -2


class SweepError(TraceError):
    """A sweep or map request that cannot be run (no beta, too large a grid, a rate out of range)."""


def default_rates(optimizer, n: int = N_RATES) -> np.ndarray:
    """Return ``n`` log-spaced learning rates across the declared range of ``lr`` (its top and DECADES below)."""
    decl = next(h for h in optimizer.hyperparameters if h.name == "lr")
    high = float(decl.high)
    low = max(float(decl.low), high * 10.0 ** -DECADES)
    return np.logspace(math.log10(low), math.log10(high), n)


def beta_name(optimizer) -> str | None:
    """Return the name of ``optimizer``'s momentum-like hyperparameter (``beta`` or ``beta1``), or None."""
    names = [h.name for h in optimizer.hyperparameters]
    for name in ("beta", "beta1"):
        if name in names:
            return name
    return None


def default_betas(n: int = 21) -> np.ndarray:
    """Return ``n`` betas from 0 to 0.99, spaced evenly in log(1 - beta) so the range near 1 is resolved."""
    return 1.0 - np.logspace(0.0, -2.0, n)


def with_hyper(optimizer, **changes):
    """Return a new optimizer of ``optimizer``'s class, schedule and hyperparameters, with ``changes`` applied."""
    return type(optimizer)(schedule=optimizer.schedule, **{**optimizer.hp, **changes})


@dataclass(frozen=True)
class Runs:
    """What a batch of runs reports, arrays shaped like the grid of settings x seeds x starts.

    ``end`` (..., 2) last point (NaN if diverged), ``loss`` final loss (NaN if
    diverged), ``diverged_at`` step or -1, ``minimum`` index of the declared
    minimum it ended within ``tol`` of (-1 none), ``reached_at`` the step from
    which it stayed there (-1 never).
    """

    end: np.ndarray
    loss: np.ndarray
    diverged_at: np.ndarray
    minimum: np.ndarray
    reached_at: np.ndarray


def _noise(noise: float, seeds, steps: int, k: int) -> np.ndarray | None:
    """Return the noise draws of every seed side by side, (steps, len(seeds) * k, 2), as ``trace`` draws them."""
    if not noise:
        return None
    return np.concatenate([np.random.default_rng(s).normal(0.0, noise, (steps, k, 2)) for s in seeds], axis=1)


def run_settings(surface, optimizer, starts, steps: int, rates, *, noise: float = 0.0, seeds=(0,),
                 tol: float = 0.0, batch_size: int | None = None) -> Runs:
    """Return the Runs of ``optimizer`` at each rate in ``rates`` from every start and noise seed: shape (R, S, K).

    Compiled when possible, else (mini-batches, what numba cannot compile) through
    ``surfaces.trace`` on NumPy, one call per rate and seed.
    """
    starts = np.asarray(starts, dtype=float).reshape(-1, 2)
    rates = np.asarray(rates, dtype=float)
    seeds = [int(s) for s in seeds]
    if not 0 <= steps <= MAX_STEPS:
        raise SweepError(f"the number of steps must be between 0 and {MAX_STEPS}, got {steps}")
    r, s, k = len(rates), len(seeds), len(starts)
    # a race at rate r steps with lr_at(t) = r * factor(t): the kernel forms the same product
    factors = np.array([optimizer.schedule.factor(t) for t in range(1, steps + 1)], dtype=float)
    targets = np.asarray(surface.minima, dtype=float).reshape(-1, 2)
    eng = engine.engine_for(surface, optimizer) if batch_size is None else None
    if eng is not None:
        p0 = np.broadcast_to(starts, (r, s, k, 2)).reshape(-1, 2)
        lrs = np.repeat(rates, s * k)
        nidx = np.tile(np.arange(s * k), r)
        out = eng.run(optimizer, p0, factors, lrs=lrs, noise=_noise(noise, seeds, steps, k), noise_index=nidx,
                      check_loss=True, targets=targets, tol=tol)
        with np.errstate(all="ignore"):
            loss = surface.loss(out.end)
        shape = (r, s, k)
        return Runs(out.end.reshape(shape + (2,)), loss.reshape(shape), out.diverged_at.reshape(shape),
                    out.which.reshape(shape), out.reached_at.reshape(shape))
    return _run_with_trace(surface, optimizer, starts, steps, rates, noise, seeds, tol, targets, batch_size)


def _run_with_trace(surface, optimizer, starts, steps, rates, noise, seeds, tol, targets, batch_size) -> Runs:
    """Return Runs computed with ``surfaces.trace`` (NumPy), for what the engine cannot compile."""
    r, s, k = len(rates), len(seeds), len(starts)
    end = np.full((r, s, k, 2), np.nan)
    loss = np.full((r, s, k), np.nan)
    div = np.full((r, s, k), -1)
    which = np.full((r, s, k), -1)
    reached = np.full((r, s, k), -1)
    for a, rate in enumerate(rates):
        opt = with_hyper(optimizer, lr=float(rate))
        for b, seed in enumerate(seeds):
            tr = trace(surface, opt, starts, steps, noise=noise, seed=seed, batch_size=batch_size, compiled=False)
            for c in range(k):
                d = tr.diverged_at[c]
                if d is not None:
                    div[a, b, c] = d
                    continue
                path = tr.path[:, c]
                end[a, b, c] = path[-1]
                loss[a, b, c] = tr.loss[-1, c]
                which[a, b, c], reached[a, b, c] = _settled(path, targets, tol)
    return Runs(end, loss, div, which, reached)


def _settled(path: np.ndarray, targets: np.ndarray, tol: float) -> tuple[int, int]:
    """Return (index of the first target within ``tol`` of the path's end, step from which the path stayed there)."""
    if not len(targets):
        return -1, -1
    d = np.linalg.norm(path[:, None, :] - targets[None], axis=-1) <= tol
    first = np.where(d.any(axis=1), np.argmax(d, axis=1), -1)
    k = int(first[-1])
    if k < 0:
        return -1, -1
    off = np.flatnonzero(first != k)
    return k, int(off[-1] + 1) if off.size else 0


def gaps(runs: Runs, reference: float) -> np.ndarray:
    """Return each run's final loss above ``reference``, floored at GAP_FLOOR; inf where it diverged."""
    with np.errstate(invalid="ignore"):
        g = np.maximum(runs.loss - reference, GAP_FLOOR)
    return np.where((runs.diverged_at >= 0) | ~np.isfinite(runs.loss), np.inf, g)


@dataclass(frozen=True)
class Sensitivity:
    """One optimizer's learning-rate sweep, reduced to what the curves show.

    ``rates`` (R,); ``gap`` (R,) mean gap over seeds and starts (inf if any
    run diverged); ``gap_low``/``gap_high`` (R,) the best and worst seed's mean;
    ``diverged`` (R,) share of runs that diverged; ``steps`` (R,) median step
    at which runs reached a minimum (NaN if under half did); ``best`` index of
    the best rate or None when every rate diverged; ``band`` (low, high) rate
    indices of the good band; ``band_decades`` its width in decades of rate.
    """

    label: str
    rates: np.ndarray
    gap: np.ndarray
    gap_low: np.ndarray
    gap_high: np.ndarray
    diverged: np.ndarray
    steps: np.ndarray
    best: int | None
    band: tuple[int, int] | None
    band_decades: float

    @property
    def best_rate(self) -> float | None:
        """Return the best learning rate, or None when every rate diverged."""
        return None if self.best is None else float(self.rates[self.best])


def _median_steps(runs: Runs) -> np.ndarray:
    """Return per setting (first axis) the median step at which runs reached a minimum; NaN where under half did."""
    reached = np.where(runs.reached_at >= 0, runs.reached_at, np.nan).reshape(len(runs.reached_at), -1)
    share = np.isfinite(reached).mean(axis=1)
    out = np.full(len(reached), np.nan)
    for i, (row, sh) in enumerate(zip(reached, share)):
        if sh >= 0.5:
            out[i] = np.nanmedian(row)
    return out


def summarize(label: str, rates: np.ndarray, runs: Runs, reference: float) -> Sensitivity:
    """Return the Sensitivity of one optimizer's Runs (R, S, K) measured as gaps above ``reference``."""
    g = gaps(runs, reference)
    per_seed = g.mean(axis=2)  # (R, S)
    gap = per_seed.mean(axis=1)
    med = _median_steps(runs)
    best = _best(gap, med)
    band, decades = None, 0.0
    if best is not None:
        good = gap <= BAND_FACTOR * gap[best]
        lo = hi = best
        while lo > 0 and good[lo - 1]:
            lo -= 1
        while hi < len(rates) - 1 and good[hi + 1]:
            hi += 1
        band, decades = (lo, hi), float(math.log10(rates[hi] / rates[lo]))
    return Sensitivity(label, rates, gap, per_seed.min(axis=1), per_seed.max(axis=1),
                       (runs.diverged_at >= 0).reshape(len(rates), -1).mean(axis=1), med, best, band, decades)


def _best(gap: np.ndarray, steps: np.ndarray) -> int | None:
    """Return the index of the smallest gap; among ties, the one with the fewest steps to a minimum; None if all inf."""
    if not np.isfinite(gap).any():
        return None
    ties = np.flatnonzero(gap <= gap.min() * (1 + 1e-9))
    reached = ties[np.isfinite(steps[ties])]
    if reached.size:
        return int(reached[np.argmin(steps[reached])])
    return int(ties[0])


def reference_loss(surface, runs: list[Runs]) -> float:
    """Return the loss gaps are measured from: the surface's minimum value, else the lowest final loss of ``runs``."""
    if surface.min_value is not None:
        return float(surface.min_value)
    lows = [np.nanmin(r.loss) for r in runs if np.isfinite(r.loss).any()]
    return float(min(lows)) if lows else 0.0


def lr_sweep(surface, optimizers: list[tuple[str, object]], starts, steps: int, *, rates=None, noise: float = 0.0,
             seeds=(0,), tol: float = 0.0, batch_size: int | None = None,
             progress: Callable[[float], None] | None = None) -> list[Sensitivity]:
    """Return one Sensitivity per (label, optimizer): its final loss, divergence and steps against the rate."""
    all_runs = []
    for i, (_, opt) in enumerate(optimizers):
        r = default_rates(opt) if rates is None else np.asarray(rates, dtype=float)
        all_runs.append((r, run_settings(surface, opt, starts, steps, r, noise=noise, seeds=seeds, tol=tol,
                                         batch_size=batch_size)))
        if progress is not None:
            progress((i + 1) / len(optimizers))
    ref = reference_loss(surface, [runs for _, runs in all_runs])
    return [summarize(label, r, runs, ref) for (label, _), (r, runs) in zip(optimizers, all_runs)]


@dataclass(frozen=True)
class BetaMap:
    """An (lr, beta) sweep: ``gap`` (B, R) mean gap per beta (row) and rate (column), ``best`` (b, r) index or None.

    ``steps`` (B, R) is the median step at which runs reached a minimum (NaN if under half did); it breaks ties.
    """

    label: str
    beta: str
    betas: np.ndarray
    rates: np.ndarray
    gap: np.ndarray
    diverged: np.ndarray
    steps: np.ndarray
    best: tuple[int, int] | None


def beta_sweep(surface, label: str, optimizer, starts, steps: int, *, rates=None, betas=None, noise: float = 0.0,
               seeds=(0,), tol: float = 0.0, batch_size: int | None = None,
               progress: Callable[[float], None] | None = None) -> BetaMap:
    """Return the BetaMap of ``optimizer`` over rates x betas; raise SweepError if it has no beta."""
    name = beta_name(optimizer)
    if name is None:
        raise SweepError(f"{optimizer.title} has no momentum parameter beta to sweep")
    rates = default_rates(optimizer) if rates is None else np.asarray(rates, dtype=float)
    betas = default_betas() if betas is None else np.asarray(betas, dtype=float)
    runs = []
    for i, b in enumerate(betas):
        runs.append(run_settings(surface, with_hyper(optimizer, **{name: float(b)}), starts, steps, rates,
                                 noise=noise, seeds=seeds, tol=tol, batch_size=batch_size))
        if progress is not None:
            progress((i + 1) / len(betas))
    ref = reference_loss(surface, runs)
    gap = np.stack([gaps(r, ref).mean(axis=(1, 2)) for r in runs])
    div = np.stack([(r.diverged_at >= 0).mean(axis=(1, 2)) for r in runs])
    steps = np.stack([_median_steps(r) for r in runs])
    flat = _best(gap.ravel(), steps.ravel())
    best = None if flat is None else tuple(int(v) for v in np.unravel_index(flat, gap.shape))
    return BetaMap(label, name, betas, rates, gap, div, steps, best)


@dataclass(frozen=True)
class OutcomeMap:
    """Where each start of an n x n grid over ``window`` ends: ``outcome[i, j]`` for the start at ``xs[j], ys[i]``.

    ``outcome`` is the index of the declared minimum it ended within the
    tolerance of, ELSEWHERE (-1) or DIVERGED (-2); ``steps`` the step from
    which it stayed at its minimum (-1 otherwise); ``loss`` the final loss.
    """

    label: str
    xs: np.ndarray
    ys: np.ndarray
    outcome: np.ndarray
    steps: np.ndarray
    loss: np.ndarray


def grid_starts(window, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (xs, ys, starts): the n x n grid of pixel centres over ``window``, starts (n*n, 2) row by row."""
    (x0, x1), (y0, y1) = window
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def outcome_map(surface, label: str, optimizer, window, n: int, steps: int, tol: float,
                progress: Callable[[float], None] | None = None) -> OutcomeMap:
    """Return the OutcomeMap of ``optimizer`` from an n x n grid of starts over ``window``, without noise.

    ``progress(share)`` is called with 0 before the work and with the share of starts done
    after each block of them (one block on the compiled engine, blocks of 512 on NumPy).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_MAP:
        raise SweepError(f"an outcome map is 2 to {MAX_MAP} pixels on a side, got {n!r}")
    xs, ys, starts = grid_starts(window, int(n))
    eng = engine.engine_for(surface, optimizer)
    targets = np.asarray(surface.minima, dtype=float).reshape(-1, 2)
    report = progress or (lambda share: None)
    report(0.0)
    if eng is not None:
        factors = np.array([optimizer.schedule.factor(t) for t in range(1, steps + 1)], dtype=float)
        out = eng.run(optimizer, starts, factors, check_loss=True, targets=targets, tol=tol)
        div, which, reached, end = out.diverged_at, out.which, out.reached_at, out.end
    else:
        div = np.full(len(starts), -1)
        which = np.full(len(starts), -1)
        reached = np.full(len(starts), -1)
        end = np.full((len(starts), 2), np.nan)
        # 512 starts a block: as fast as 2000 (measured on the data surfaces, 64 x 64 starts x 1000 steps,
        # ~4 s either way) and eight steps of progress on a map that takes seconds
        chunk = max(1, min(512, 2_000_000 // (steps + 1)))
        for a in range(0, len(starts), chunk):
            if a:
                report(a / len(starts))
            tr = trace(surface, optimizer, starts[a:a + chunk], steps, compiled=False)
            for c, d in enumerate(tr.diverged_at):
                if d is not None:
                    div[a + c] = d
                else:
                    end[a + c] = tr.path[-1, c]
                    which[a + c], reached[a + c] = _settled(tr.path[:, c], targets, tol)
    outcome = np.where(div >= 0, DIVERGED, which)
    with np.errstate(all="ignore"):
        loss = surface.loss(end)
    report(1.0)
    return OutcomeMap(label, xs, ys, outcome.reshape(n, n), reached.reshape(n, n), loss.reshape(n, n))


__all__ = ["SweepError", "Runs", "Sensitivity", "BetaMap", "OutcomeMap", "run_settings", "lr_sweep", "beta_sweep",
           "outcome_map", "default_rates", "default_betas", "beta_name", "with_hyper", "summarize", "gaps",
           "grid_starts", "reference_loss", "N_RATES", "MAX_MAP", "ELSEWHERE", "DIVERGED", "GAP_FLOOR",
           "BAND_FACTOR"]
