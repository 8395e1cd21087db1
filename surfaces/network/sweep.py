"""Learning-rate sweeps of the network: many independent trainings, one per (optimizer, rate, seed).

``plan(experiment)`` turns an Experiment into its list of ``Point``s: for
every racer, ``n_rates`` learning rates on a log grid around the racer's own
rate (inside ``lr``'s declared range) times ``n_seeds`` seeds. Each point is
the same Experiment with that racer alone, at that rate and seed, trained by
the one driver ``experiment.run``; a racer's solo numbers there are exactly
its numbers in a race (``run``'s own promise), so a sweep point at rate r and
seed s is the race's curve at (r, s).

``run_sweep(plan, executor, data)`` hands the points to an executor (the
local worker pool or a Dask cluster, ``app/sweep_engine.py``), at most
``executor.slots`` at a time so two sweeps sharing one pool take turns, and
``Result`` aggregates them per optimizer: the mean over seeds and the
min-max band, and the best rate. Every training runs with one BLAS thread
(``train_point``), so a point's numbers do not depend on which executor, or
which machine of the same build, ran it.

Nothing here imports Streamlit or an executor library.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

import optim

from . import experiment as network
from .datasets import Dataset
from .mlp import MLPError

#: default learning rates per optimizer, seeds per rate, and decades the rate grid spans
N_RATES, N_SEEDS, DECADES = 7, 3, 4.0
#: what a sweep may ask for, inclusive
LIMITS = {"rates": (1, 15), "seeds": (1, 10), "decades": (0.5, 8.0)}
#: the grid never goes below the declared highest rate times 10**-LOWEST_DECADES (lr's declared low bound is 0)
LOWEST_DECADES = 7
#: the final values a sweep reports for every point, as History names them
METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
#: seconds between two looks at the executor's running trainings (a stop is handled within this)
POLL = 0.05


class SweepError(MLPError):
    """A sweep that cannot be run as asked (no rate, too many seeds, over the budget); the message says what to change."""


class SweepBudgetError(SweepError):
    """A sweep would need more computing than the budget allows; the message names the settings to change."""


class SweepFailed(RuntimeError):
    """The executor lost trainings (a worker died, the cluster went away); the message says so in words."""


@dataclass(frozen=True)
class Swept:
    """One optimizer of a sweep point: the racer's optimizer, hyperparameters (lr set) and schedule."""

    optimizer: str
    hp: tuple[tuple[str, Any], ...]
    schedule: str = "constant"
    schedule_hp: tuple[tuple[str, Any], ...] = ()
    name: str = ""

    def make(self) -> optim.Optimizer:
        """Return a fresh optimizer (raises HyperparameterError on bad values)."""
        return optim.make(self.optimizer, schedule=self.schedule, schedule_params=dict(self.schedule_hp),
                          **dict(self.hp))

    def label(self) -> str:
        """Return the racer's label as the experiment showed it."""
        return self.name or self.optimizer


@dataclass(frozen=True)
class Point:
    """One training of a sweep: racer ``racer`` of the experiment at rate ``lr`` and seed ``seed``.

    ``experiment`` is what is trained: the sweep's experiment with that racer
    alone (the network module's own Experiment type, so a worker needs only
    ``surfaces`` and ``optim``).
    """

    index: int
    racer: int
    lr: float
    seed: int
    experiment: network.Experiment


@dataclass(frozen=True)
class Outcome:
    """What a sweep keeps of one training: its final values (NaN where missing or diverged)."""

    index: int
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    diverged_at: int | None
    epochs_run: int


@dataclass(frozen=True)
class Plan:
    """A sweep's trainings: per racer its label, colour and rate grid; the seeds; every Point, racer by racer."""

    experiment: Any
    labels: tuple[str, ...]
    colors: tuple[str, ...]
    rates: tuple[tuple[float, ...], ...]
    seeds: tuple[int, ...]
    points: tuple[Point, ...]

    def __len__(self) -> int:
        return len(self.points)


def lr_declaration(optimizer: optim.Optimizer) -> optim.Hyperparameter:
    """Return ``optimizer``'s declared ``lr``; raise SweepError when it has none."""
    for h in optimizer.hyperparameters:
        if h.name == "lr":
            return h
    raise SweepError(f"{optimizer.title or optimizer.name} has no learning rate to sweep")


def rate_grid(optimizer: optim.Optimizer, center: float, n: int = N_RATES, decades: float = DECADES) -> np.ndarray:
    """Return ``n`` log-spaced learning rates spanning ``decades`` decades centred on ``center``.

    The grid is shifted, not cut, to stay within ``lr``'s declared range (its
    top, and ``LOWEST_DECADES`` below it), so it always holds ``n`` rates.
    """
    decl = lr_declaration(optimizer)
    high = float(decl.high) if decl.high is not None else math.inf
    low = max(float(decl.low or 0.0), high * 10.0 ** -LOWEST_DECADES) if math.isfinite(high) else 1e-7
    if n == 1:
        return np.array([min(max(center, low), high)])
    half = decades / 2
    lo, hi = math.log10(center) - half, math.log10(center) + half
    if hi > math.log10(high):
        lo, hi = lo - (hi - math.log10(high)), math.log10(high)
    if lo < math.log10(low):
        lo, hi = math.log10(low), min(math.log10(high), hi + (math.log10(low) - lo))
    rates = np.logspace(lo, hi, n)
    rates[-1] = min(rates[-1], high)  # logspace's last power can round a hair past the declared top
    return rates


def _check_count(name: str, value: Any) -> int:
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        what = {"rates": "learning rates per optimizer", "seeds": "seeds per learning rate"}[name]
        raise SweepError(f"choose {lo} to {hi} {what}, got {value!r}")
    return int(value)


def _bare(exp: Any, racer: Swept, seed: int) -> network.Experiment:
    """Return ``exp`` as the network module's own Experiment with one racer and seed, without sharpness."""
    same = {f.name: getattr(exp, f.name) for f in fields(network.Experiment)}
    same.update(racers=(racer,), seed=seed, sharpness_every=0)
    return network.Experiment(**same)


def plan(experiment: Any, n_rates: int = N_RATES, n_seeds: int = N_SEEDS, decades: float = DECADES) -> Plan:
    """Return the Plan of sweeping every racer of ``experiment`` over ``n_rates`` rates x ``n_seeds`` seeds.

    Seeds are the experiment's seed and the next ones. Raises SweepError for
    counts out of ``LIMITS`` and the optimizers' own errors for bad settings.
    """
    n_rates, n_seeds = _check_count("rates", n_rates), _check_count("seeds", n_seeds)
    lo, hi = LIMITS["decades"]
    if not (isinstance(decades, (int, float)) and math.isfinite(decades) and lo <= decades <= hi):
        raise SweepError(f"the rates must span {lo:g} to {hi:g} decades, got {decades!r}")
    if not experiment.racers:
        raise SweepError("choose at least one optimizer to sweep")
    seeds = tuple(experiment.seed + k for k in range(n_seeds))
    if seeds[-1] > network.LIMITS["seed"][1]:
        raise SweepError(f"the seeds would pass {network.LIMITS['seed'][1]}; choose a smaller seed")
    labels, colors, grids, points = [], [], [], []
    for i, racer in enumerate(experiment.racers):
        opt = racer.make()
        center = float(opt.hp.get("lr", lr_declaration(opt).default))
        rates = tuple(float(r) for r in rate_grid(opt, center, n_rates, decades))
        labels.append(racer.label())
        colors.append(getattr(racer, "color", "") or "")
        grids.append(rates)
        base = dict(getattr(racer, "hp", ()))
        for lr in rates:
            swept = Swept(racer.optimizer, tuple({**base, "lr": lr}.items()), getattr(racer, "schedule", "constant"),
                          tuple(getattr(racer, "schedule_hp", ())), racer.label())
            swept.make()  # a rate the declaration refuses would fail here, not in a worker
            for seed in seeds:
                points.append(Point(len(points), i, lr, seed, _bare(experiment, swept, seed)))
    return Plan(experiment, tuple(labels), tuple(colors), tuple(grids), seeds, tuple(points))


def estimated_seconds(p: Plan, data: Dataset) -> float:
    """Return the estimated seconds of one core that every training of ``p`` together needs on ``data``."""
    return sum(network.estimated_seconds(pt.experiment, data.n_train, data.n_test, data.n_features)
               for pt in p.points)


def check_budget(p: Plan, data: Dataset, budget: float) -> float:
    """Return the estimated seconds of ``p`` on ``data``, or raise SweepBudgetError when over ``budget``."""
    seconds = estimated_seconds(p, data)
    if seconds > budget:
        exp = p.experiment
        hidden = " x ".join(map(str, exp.hidden))
        raise SweepBudgetError(
            f"this sweep of {len(p)} trainings would take about {seconds:,.0f} s of computing; the limit is "
            f"{budget:g} s. Use fewer learning rates (now {len(p.rates[0])}), fewer seeds (now {len(p.seeds)}), "
            f"fewer optimizers (now {len(p.labels)}), fewer epochs (now {exp.epochs}), a larger batch size "
            f"(now {exp.batch_size}), smaller or fewer hidden layers (now {hidden}) or fewer points "
            f"(now {data.n_train + data.n_test})."
        )
    return seconds


def _final(values: Sequence[float]) -> float:
    v = float(values[-1]) if len(values) else math.nan
    return v if math.isfinite(v) else math.nan


def train_point(point: Point, data: Dataset) -> Outcome:
    """Return the Outcome of training ``point`` on ``data`` with one BLAS thread (any executor calls this).

    One thread everywhere: a multi-threaded BLAS may sum in another order,
    and a point's numbers must not depend on where it ran.
    """
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        threadpool_limits = None
    if threadpool_limits is None:
        training = network.run(point.experiment, data=data, landscape=False)
    else:
        with threadpool_limits(1):
            training = network.run(point.experiment, data=data, landscape=False)
    h = training.runs[0].history
    return Outcome(point.index, _final(h.train_loss), _final(h.test_loss), _final(h.train_acc), _final(h.test_acc),
                   h.diverged_at, h.epochs_run)


# -- running: any executor with submit / wait / cancel -------------------------------------

class Executor:
    """What ``run_sweep`` needs of an executor (the local pool and the Dask client in ``app/sweep_engine``).

    ``slots`` trainings run at once; ``share(data)`` returns what ``submit``
    passes in place of the data (the data itself, or a handle to a copy the
    workers already hold); ``submit(fn, *args)`` returns a future with
    ``done()``, ``result()`` and ``cancel()``; ``wait(futures, timeout)``
    returns the finished ones.
    """

    name = "executor"
    slots = 1

    def share(self, data: Dataset) -> Any:
        """Return what stands for ``data`` in ``submit``'s arguments."""
        return data

    def submit(self, fn: Callable, *args: Any) -> Any:  # pragma: no cover - interface
        """Return a future of ``fn(*args)``."""
        raise NotImplementedError

    def wait(self, futures: list, timeout: float) -> list:
        """Return the futures of ``futures`` that have finished, waiting at most ``timeout`` seconds for one."""
        deadline = time.monotonic() + timeout
        while True:
            done = [f for f in futures if f.done()]
            if done or time.monotonic() >= deadline:
                return done
            time.sleep(min(0.01, timeout))

    def result(self, future: Any) -> Outcome:
        """Return a finished future's Outcome; raise SweepFailed with words when the executor lost it."""
        return future.result()


@dataclass
class Result:
    """A sweep's outcomes by point index (None: not run yet or stopped before it), and whether it was stopped."""

    plan: Plan
    outcomes: list[Outcome | None]
    stopped: bool = False

    @property
    def done_count(self) -> int:
        """Return how many trainings have finished."""
        return sum(o is not None for o in self.outcomes)

    def values(self, racer: int, metric: str) -> np.ndarray:
        """Return racer ``racer``'s final ``metric`` as an (n_rates, n_seeds) array; NaN: diverged or not run."""
        p = self.plan
        out = np.full((len(p.rates[racer]), len(p.seeds)), np.nan)
        rate_index = {r: k for k, r in enumerate(p.rates[racer])}
        seed_index = {s: k for k, s in enumerate(p.seeds)}
        for pt in p.points:
            o = self.outcomes[pt.index]
            if pt.racer == racer and o is not None:
                out[rate_index[pt.lr], seed_index[pt.seed]] = getattr(o, metric)
        return out

    def diverged(self, racer: int) -> np.ndarray:
        """Return per rate of racer ``racer`` how many of its finished seeds diverged."""
        return self._count(racer, lambda o: o.diverged_at is not None)

    def finished(self, racer: int) -> np.ndarray:
        """Return per rate of racer ``racer`` how many of its seeds have finished."""
        return self._count(racer, lambda o: True)

    def _count(self, racer: int, which) -> np.ndarray:
        """Return per rate of racer ``racer`` how many of its finished seeds' outcomes ``which`` accepts."""
        p = self.plan
        rate_index = {r: k for k, r in enumerate(p.rates[racer])}
        out = np.zeros(len(p.rates[racer]), dtype=int)
        for pt in p.points:
            o = self.outcomes[pt.index]
            if pt.racer == racer and o is not None and which(o):
                out[rate_index[pt.lr]] += 1
        return out

    def summary(self, racer: int, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (mean, min, max) over the seeds of ``metric`` per rate; NaN where a seed diverged or none ran."""
        v = self.values(racer, metric)
        usable = (self.diverged(racer) == 0) & (self.finished(racer) > 0)
        mean, low, high = (np.full(v.shape[0], np.nan) for _ in range(3))
        for k in np.flatnonzero(usable):
            row = v[k][np.isfinite(v[k])]
            if row.size:
                mean[k], low[k], high[k] = row.mean(), row.min(), row.max()
        return mean, low, high

    def best(self, racer: int, metric: str = "train_loss") -> int | None:
        """Return the index of racer ``racer``'s rate with the lowest mean final ``metric`` (no seed diverged), or None."""
        mean = self.summary(racer, metric)[0]
        if not np.isfinite(mean).any():
            return None
        return int(np.nanargmin(mean))

    def best_rate(self, racer: int, metric: str = "train_loss") -> float | None:
        """Return racer ``racer``'s best rate (see ``best``), or None."""
        k = self.best(racer, metric)
        return None if k is None else self.plan.rates[racer][k]


def run_sweep(p: Plan, executor: Executor, data: Dataset, on_result: Callable[[Point, Outcome], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Result:
    """Return the Result of every training of ``p`` run by ``executor`` on ``data``, at most ``slots`` at a time.

    ``on_result(point, outcome)`` runs as each training finishes (in any
    order); ``should_stop()`` is asked every ``POLL`` seconds: once it says
    True the trainings not yet finished are cancelled and the Result says
    ``stopped``. A training the executor lost raises SweepFailed.
    """
    out = Result(p, [None] * len(p))
    shared = executor.share(data)
    pending = list(p.points)
    running: dict[Any, Point] = {}
    try:
        while pending or running:
            if should_stop is not None and should_stop():
                out.stopped = True
                break
            while pending and len(running) < max(1, executor.slots):
                point = pending.pop(0)
                running[executor.submit(train_point, point, shared)] = point
            for future in executor.wait(list(running), POLL):
                point = running.pop(future)
                outcome = executor.result(future)
                out.outcomes[point.index] = outcome
                if on_result is not None:
                    on_result(point, outcome)
    finally:
        for future in running:
            future.cancel()
    return out


# -- the code a worker runs, by fingerprint ---------------------------------------------------

_CODE = Path(__file__).resolve().parents[1]  # surfaces/


@cache
def code_version() -> str:
    """Return a fingerprint of the training code (``optim`` and ``surfaces/network`` sources) a worker runs.

    A remote worker with other code would give other numbers for the same
    seeds; the Dask executor compares this on every worker before a sweep.
    """
    h = hashlib.sha1()
    for folder in (_CODE.parent / "optim", _CODE / "network"):
        for path in sorted(folder.glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def with_rate(experiment: Any, racer: int, lr: float, seed: int) -> Any:
    """Return ``experiment`` with racer ``racer``'s lr set to ``lr`` and the seed ``seed`` (all racers kept)."""
    racers = list(experiment.racers)
    r = racers[racer]
    racers[racer] = replace(r, hp=tuple({**dict(r.hp), "lr": lr}.items()))
    return replace(experiment, racers=tuple(racers), seed=seed)
