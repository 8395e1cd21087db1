"""The article's experiment and every training comparison: one value, one driver, one result type.

``Experiment`` is a frozen value deciding a comparison (data set, network,
protocol, optimizers); ``run(experiment, on_epoch, should_stop)`` is the one
training driver (the app's worker, this module's command line and the tests
all call it): every optimizer trains the same MLP from the same initial
weights on the same batches, and a ``Training`` comes back. ``ARTICLE`` holds
the article's protocol (lr 0.01, 500 epochs, batches of 32, one hidden layer
of 100 units, keep_prob 1, one seed for every optimizer) on scikit-learn's
8x8 digits, 3 against 8, because the article's cat pictures are not
available. Run ``python -m surfaces.network.experiment --help``.

Every optimizer reaches 100 % training accuracy on this task long before
epoch 500, so the table also shows what does tell them apart: accuracy after
epochs 1 and 5, the first epoch reaching 99 %, held-out test accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import optim

from .datasets import DATASETS, Dataset, load
from .landscape import GRID as SLICE_GRID
from .landscape import Evaluator, flatten, make_slice, top_eigenvalue
from .mlp import DTYPES, MLP, History, MLPError, Trainer, first_epoch_reaching

#: what one comparison may ask for, inclusive; the app's controls read these bounds
LIMITS = {
    "epochs": (1, 2000),
    "batch_size": (1, 20_000),
    "hidden_layers": (1, 4),
    "hidden_units": (1, 256),
    "racers": (1, 8),
    "seed": (0, 2**31 - 1),
    "sharpness_every": (0, 1000),
}
GRID = 120  # decision-boundary grid resolution per axis

ARTICLE_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
#: the article's training accuracy after 500 epochs on its cat / not-cat pictures (dropout defect active)
ARTICLE_TRAIN_ACC = {"sgd": 0.849, "momentum": 0.873, "rmsprop": 0.961, "adam": 0.985}
ARTICLE_LR = 0.01


@dataclass(frozen=True)
class Entrant:
    """One optimizer of a comparison by name and hyperparameters (the app's ``Racer`` serves the same role)."""

    optimizer: str
    hp: tuple[tuple[str, Any], ...] = ()
    color: str = ""

    def make(self) -> optim.Optimizer:
        """Return a fresh optimizer (raises HyperparameterError on bad values)."""
        return optim.make(self.optimizer, **dict(self.hp))

    def label(self) -> str:
        """Return the optimizer's registered name, e.g. ``adam``."""
        return self.optimizer


@dataclass(frozen=True)
class Experiment:
    """Everything that decides a training comparison; ``racers`` are objects with ``make()`` and ``label()``."""

    dataset: str = "two_moons"
    dataset_params: tuple[tuple[str, Any], ...] = ()
    hidden: tuple[int, ...] = (16, 16)
    keep_prob: float = 1.0
    batch_size: int = 32
    epochs: int = 100
    racers: tuple[Any, ...] = tuple(Entrant(n, (("lr", ARTICLE_LR),)) for n in ARTICLE_OPTIMIZERS)
    seed: int = 0
    dtype: str = "float32"
    #: measure the sharpness (the loss Hessian's top eigenvalue) every this many epochs; 0: never
    sharpness_every: int = 0

    def check(self) -> Experiment:
        """Return self when every field is within ``LIMITS``, else raise MLPError saying what to change.

        The data set's own parameters are checked by its loader when it is
        built (``load_data``), the one place that validates them.
        """
        self._check_dataset()
        lo, hi = LIMITS["hidden_layers"]
        if not lo <= len(self.hidden) <= hi:
            raise MLPError(f"use {lo} to {hi} hidden layers, got {len(self.hidden)}")
        lo, hi = LIMITS["hidden_units"]
        for u in self.hidden:
            if not lo <= u <= hi:
                raise MLPError(f"each hidden layer needs {lo} to {hi} units, got {u}")
        if not (isinstance(self.keep_prob, (int, float)) and math.isfinite(self.keep_prob)
                and 0 < self.keep_prob <= 1):
            raise MLPError(f"keep_prob (the fraction of hidden units dropout keeps) must be in (0, 1], "
                           f"got {self.keep_prob}")
        for name in ("epochs", "batch_size", "seed", "sharpness_every"):
            v = getattr(self, name)
            lo, hi = LIMITS[name]
            if not (isinstance(v, int) and lo <= v <= hi):
                raise MLPError(f"{name.replace('_', ' ')} must be a whole number from {lo} to {hi}, got {v!r}")
        lo, hi = LIMITS["racers"]
        if not lo <= len(self.racers) <= hi:
            raise MLPError(f"choose {lo} to {hi} optimizers")
        if self.dtype not in DTYPES:
            raise MLPError(f"precision must be float32 or float64, got {self.dtype!r}")
        for r in self.racers:
            r.make()  # HyperparameterError (a ValueError) names the value
        return self

    def _check_dataset(self) -> None:
        """Raise MLPError unless ``dataset`` names a registered data set."""
        if self.dataset not in DATASETS:
            raise MLPError(f"unknown data set {self.dataset!r}; choose one of {', '.join(DATASETS)}")

    def load_data(self) -> Dataset:
        """Return the registered data set this experiment names, built (and validated) by its loader."""
        return load(self.dataset, **dict(self.dataset_params))


ARTICLE = Experiment(
    dataset="digits", dataset_params=(("positive", 3), ("negative", 8)),
    hidden=(100,), keep_prob=1.0, batch_size=32, epochs=500,
    racers=tuple(Entrant(n, (("lr", ARTICLE_LR),)) for n in ARTICLE_OPTIMIZERS), seed=0, dtype="float32",
)


# -- cost ----------------------------------------------------------------------------------

#: seconds of one core per unit of work, fitted (least squares on relative error) to 14 timed Adam
#: trainings of 0.05 to 9 s on the development machine with one BLAS thread: the fit is within
#: 0.57-1.36 of each; the per-parameter step cost is rounded up from the fit's 8e-9, because the fit
#: underestimates most (0.6) where a budget matters, big networks with batch 1.
#: ``python tests/benchmarks/bench_mlp.py --calibrate`` measures them again.
SECONDS_PER_FLOP = 4.3e-12
SECONDS_PER_ACTIVATION = 2.1e-9
SECONDS_PER_BATCH = 26e-6
SECONDS_PER_BATCH_LAYER = 27e-6
SECONDS_PER_STEP_PARAMETER = 1.2e-8


def n_parameters(n_inputs: int, hidden: Sequence[int]) -> int:
    """Return the number of weights and biases of an MLP ``n_inputs -> hidden... -> 1``."""
    sizes = (n_inputs, *hidden, 1)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def cost_terms(experiment: Experiment, n_train: int, n_test: int, n_inputs: int) -> tuple[float, ...]:
    """Return the work of one optimizer's training: (flops, activations, batches, batch-layers, step-parameters).

    Each training example costs about 6 flops per parameter (forward and
    backward) and each evaluated example (the training and test sets, after
    every epoch) 2; the elementwise work (ReLU, dropout, sigmoid) grows with
    examples times hidden units; each mini-batch adds a fixed cost, one per
    layer, and the optimizer's step over every parameter.
    """
    params = n_parameters(n_inputs, experiment.hidden)
    units = sum(experiment.hidden)
    layers = len(experiment.hidden) + 1
    batches = math.ceil(n_train / experiment.batch_size)
    evaluated = n_train + n_test
    e = experiment.epochs
    # Sharpness: each measurement up to SHARPNESS_ITERS Hessian-vector products of two full-batch gradients each.
    grads = 2 * SHARPNESS_ITERS * (e // experiment.sharpness_every if experiment.sharpness_every else 0)
    return ((6 * n_train + 2 * evaluated) * params * e + 6 * n_train * params * grads,
            (3 * n_train + evaluated) * units * e + 3 * n_train * units * grads, batches * e + grads,
            (batches * e + grads) * layers, batches * params * e)


def estimated_seconds(experiment: Experiment, n_train: int, n_test: int, n_inputs: int) -> float:
    """Return the estimated seconds of one core that ``run`` needs for ``experiment`` on data of this size."""
    rates = (SECONDS_PER_FLOP, SECONDS_PER_ACTIVATION, SECONDS_PER_BATCH, SECONDS_PER_BATCH_LAYER,
             SECONDS_PER_STEP_PARAMETER)
    one = sum(w * r for w, r in zip(cost_terms(experiment, n_train, n_test, n_inputs), rates))
    return one * len(experiment.racers)


class BudgetError(MLPError):
    """A training would take longer than the budget; the message names the settings to change."""


def check_budget(experiment: Experiment, data: Dataset, budget: float) -> float:
    """Return the estimated seconds of ``experiment`` on ``data``, or raise BudgetError when over ``budget``."""
    seconds = estimated_seconds(experiment, data.n_train, data.n_test, data.n_features)
    if seconds > budget:
        hidden = " x ".join(map(str, experiment.hidden))
        raise BudgetError(
            f"this training would take about {seconds:,.0f} s of computing; the limit is {budget:g} s. "
            f"Use fewer epochs (now {experiment.epochs}), a larger batch size (now {experiment.batch_size}), "
            f"smaller or fewer hidden layers (now {hidden}), fewer points (now {data.n_train + data.n_test}) "
            f"or fewer optimizers (now {len(experiment.racers)})."
        )
    return seconds


# -- the driver ------------------------------------------------------------------------------

#: a boundary snapshot's grid per axis while training (the final picture uses GRID)
LIVE_GRID = 48
#: at most this many boundary snapshots per optimizer (every few epochs, spread over the training)
MAX_FRAMES = 40
#: at most this many weight snapshots per optimizer kept for the landscape (epochs are subsampled)
MAX_PATH_POINTS = 120
#: and at most this many numbers of weights kept over all optimizers together (memory of a worker)
MAX_WEIGHT_NUMBERS = 8_000_000
#: the sharpness interval the page suggests (and the benchmark measures)
DEFAULT_SHARPNESS_EVERY = 10
#: the sharpness's power iteration: at most this many Hessian-vector products per measurement
SHARPNESS_ITERS = 30


def stride(epochs: int, at_most: int) -> int:
    """Return the step between kept epochs so that at most ``at_most`` (plus the last) of ``epochs`` are kept."""
    return max(1, math.ceil(epochs / max(1, at_most)))


@dataclass
class TrainedRun:
    """One optimizer's training: its label and colour, its History, and what was kept along the way.

    ``proba`` is P(label 1) on the final grid (2-D data); ``frames`` the
    boundary snapshots ``(epoch, P as uint8 0..255 on the LIVE_GRID)`` from
    epoch 0 on; ``weight_epochs``/``weights`` the flattened weights of the
    kept epochs (the landscape's path; dropped before the result leaves the
    worker); ``sharpness`` the ``(epoch, top Hessian eigenvalue)`` pairs;
    ``lr`` the optimizer's base learning rate (for the 2/lr line), or None.
    """

    label: str
    color: str
    history: History
    proba: np.ndarray | None = None
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)
    weight_epochs: list[int] = field(default_factory=list)
    weights: list[np.ndarray] | None = None
    sharpness: list[tuple[int, float]] = field(default_factory=list)
    lr: float | None = None


@dataclass
class Training:
    """What ``run`` gives back: one TrainedRun per optimizer, and what the data were.

    Numbers are floats throughout (a missing or non-finite value is NaN);
    only ``History.to_dict`` turns them into JSON's None. Every run holds
    the same epochs: a stop ends them all at the last epoch all completed.
    """

    dataset: str
    n_train: int
    n_test: int
    is_2d: bool
    runs: list[TrainedRun] = field(default_factory=list)
    #: the decision-boundary grid's axes and the training points drawn over it (2-D data only)
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    #: the boundary snapshots' coarse grid axes (2-D data only)
    live_xs: np.ndarray | None = None
    live_ys: np.ndarray | None = None
    epochs: int = 0  # as planned
    epochs_done: int = 0  # as run by every optimizer
    #: the loss landscape slices by kind ("pca", "random"), or why there is none
    slices: dict = field(default_factory=dict)
    slice_note: str = ""

    @property
    def stopped(self) -> bool:
        """Return True when a stop request ended the training early."""
        return any(r.history.stopped for r in self.runs)

    def histories(self) -> dict[str, History]:
        """Return each run's History by label (a repeated label keeps the last run)."""
        return {r.label: r.history for r in self.runs}


def boundary_axes(data: Dataset, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the x and y coordinates (n each) of the decision-boundary grid over a 2-D data set."""
    X = np.concatenate([data.X_train, data.X_test])
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    return np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)


def _grid_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def _proba(model: MLP, points: np.ndarray, n: int) -> np.ndarray:
    """Return P(label 1) at ``points`` as an (n, n) float32 grid; a diverged network reads 0.5."""
    with np.errstate(all="ignore"):
        p = model.predict_proba(points).reshape(n, n)
    return np.nan_to_num(p, nan=0.5).astype(np.float32)


def _frame(model: MLP, points: np.ndarray) -> np.ndarray:
    """Return a boundary snapshot: P(label 1) on the LIVE_GRID as uint8 (a fiftieth of the float64 bytes)."""
    return np.round(_proba(model, points, LIVE_GRID) * 255).astype(np.uint8)


def _base_lr(optimizer: Any) -> float | None:
    lr = getattr(optimizer, "hp", {}).get("lr") if isinstance(getattr(optimizer, "hp", None), dict) else None
    return float(lr) if isinstance(lr, (int, float)) else None


def _slices(out: Training, racers_runs: list[TrainedRun], start: MLP, data: Dataset, seed: int) -> None:
    """Fill ``out.slices`` with the PCA and the filter-normalised slices, on the finest grid SLICE_SECONDS allows.

    The cost of one loss evaluation is measured here, on this network and data,
    rather than estimated: a slice is thousands of them.
    """
    runs = [r for r in racers_runs if r.weights and len(r.weights) >= 2]
    if not runs:
        out.slice_note = "no landscape: no optimizer completed an epoch"
        return
    ev = Evaluator(start, data.X_train, data.y_train)
    origin = flatten(start.params)
    ev.loss(origin)  # the first call pays for allocations and BLAS's start: not a slice's rate
    t0 = time.process_time()
    for _ in range(5):
        ev.loss(origin)
    per_eval = (time.process_time() - t0) / 5
    points = sum(len(r.weights) for r in runs)
    grid = next((g for g in range(SLICE_GRID, 10, -10) if (2 * g * g + 3 * points) * per_eval <= SLICE_SECONDS), 0)
    if not grid:
        out.slice_note = "no landscape: this network and data set are too large to slice in a few seconds"
        return
    if grid != SLICE_GRID:
        out.slice_note = f"the landscape uses a {grid} x {grid} grid (the network is large)"
    paths = [(r.label, r.color, r.weight_epochs, np.vstack(r.weights)) for r in runs]
    with np.errstate(all="ignore"):
        real = [ev.losses(w) for *_, w in paths]  # the same for both slices: computed once
        for kind in ("pca", "random"):
            out.slices[kind] = make_slice(kind, ev, origin, paths, start.params, grid=grid, seed=seed,
                                          path_losses=real)


#: seconds of one core the landscape slices may take after a training; a larger network gets a coarser grid or none
SLICE_SECONDS = 2.0


def run(experiment: Experiment, on_epoch: Callable[[int, dict], None] | None = None,
        should_stop: Callable[[], bool] | None = None, *, data: Dataset | None = None,
        budget: float | None = None, landscape: bool = True,
        on_round: Callable[[int], None] | None = None) -> Training:
    """Return the Training of every racer of ``experiment``: a race, all from the same weights, epoch by epoch.

    Every optimizer advances one epoch in turn, each on its own random streams
    of the seed, so each gets exactly the numbers it gets when trained alone.
    ``on_epoch(racer_index, record)`` runs for every racer once all have
    completed an epoch; a record may carry ``boundary`` (a snapshot, 2-D data)
    and ``sharpness``. ``should_stop()`` is asked after every batch; once it
    says True, the epoch under way is dropped for every racer and the weights
    go back to the last epoch all completed. ``data`` replaces the registered
    data set (an uploaded file); ``budget`` (seconds) refuses an experiment
    estimated to need more, with ``BudgetError``. ``landscape`` computes the
    loss slices at the end. ``on_round(epoch)`` runs once every racer's
    ``on_epoch`` of that epoch has run (a worker sends whole rounds).
    """
    data = experiment.load_data() if data is None else data
    if budget is not None:
        check_budget(experiment, data, budget)
    net = dict(hidden=experiment.hidden, keep_prob=experiment.keep_prob, seed=experiment.seed, dtype=experiment.dtype)
    optimizers = [r.make() for r in experiment.racers]  # every name and value checked before any training
    start = MLP(data.n_features, **net)
    n, E = len(experiment.racers), experiment.epochs
    out = Training(data.description or data.name, data.n_train, data.n_test, bool(data.is_2d), epochs=E)
    points = live = None
    if data.is_2d:
        out.xs, out.ys = boundary_axes(data, GRID)
        out.live_xs, out.live_ys = boundary_axes(data, LIVE_GRID)
        out.X, out.y = data.X_train, data.y_train
        points, live = _grid_points(out.xs, out.ys), _grid_points(out.live_xs, out.live_ys)
    trainers, runs = [], []
    for racer, opt in zip(experiment.racers, optimizers):
        model = MLP(data.n_features, **net)
        model.copy_params_from(start)  # every optimizer starts from identical weights
        t = Trainer(model, opt, data.X_train, data.y_train, E, experiment.batch_size, seed=experiment.seed,
                    X_test=data.X_test, y_test=data.y_test)
        t.history.meta["dataset"] = data.name
        trainers.append(t)
        runs.append(TrainedRun(racer.label(), getattr(racer, "color", ""), t.history, lr=_base_lr(opt),
                               weights=[], weight_epochs=[]))
    frame_every = stride(E, MAX_FRAMES)
    keep = min(MAX_PATH_POINTS, max(2, MAX_WEIGHT_NUMBERS // max(1, start.n_parameters * n)))
    weight_every = stride(E, keep)
    sharp_every = experiment.sharpness_every
    evaluator = Evaluator(start, data.X_train, data.y_train) if sharp_every else None
    eigvec: list[np.ndarray | None] = [None] * n

    def keep_state(i: int, epoch: int, record: dict | None, final: bool = False) -> None:
        """Keep what the epoch's end is wanted for: weights, a boundary snapshot, the sharpness."""
        t, r = trainers[i], runs[i]
        last = t.done or epoch == E
        if (epoch % weight_every == 0 or last or final) and not t.history.diverged_at:
            r.weight_epochs.append(epoch)
            r.weights.append(flatten(t.model.params).astype(t.model.dtype))
        if points is not None and (epoch % frame_every == 0 or last or final):
            r.frames.append((epoch, _frame(t.model, live)))
            if record is not None:
                record["boundary"] = r.frames[-1][1]
        if evaluator is not None and epoch > 0 and (epoch % sharp_every == 0 or last) and not t.history.diverged_at:
            lam, eigvec[i] = top_eigenvalue(evaluator.grad, flatten(t.model.params), eigvec[i],
                                            iters=SHARPNESS_ITERS, seed=experiment.seed)
            r.sharpness.append((epoch, lam))
            if record is not None:
                record["sharpness"] = lam

    for i in range(n):
        keep_state(i, 0, None)
    stopped = False
    for epoch in range(1, E + 1):
        active = [i for i in range(n) if not trainers[i].done]
        if not active:
            break
        # The weights at the round's start, so a stop in the middle of it leaves every racer at the same epoch.
        saved = {i: [p.copy() for p in trainers[i].model.params] for i in active}
        results = {}
        for i in active:
            record, stop = trainers[i].run_epoch(should_stop)
            if stop:
                stopped = True
                break
            results[i] = record
        if stopped:
            for i in active:
                trainers[i].model.params = saved[i]
            break
        for i in active:
            trainers[i].commit(results[i])
            keep_state(i, epoch, results[i])
            if on_epoch is not None:
                on_epoch(i, results[i])
        out.epochs_done = epoch
        if on_round is not None:
            on_round(epoch)
    out.runs = runs
    for i, (t, r) in enumerate(zip(trainers, runs)):
        if stopped:
            t.history.stopped = True
            if r.weight_epochs and r.weight_epochs[-1] != t.history.epochs_run:
                keep_state(i, t.history.epochs_run, None, final=True)
        if points is not None:
            r.proba = _proba(t.model, points, GRID)
    if landscape:
        _slices(out, runs, start, data, experiment.seed)
    return out


def run_article_experiment(epochs: int = ARTICLE.epochs, lr: float = ARTICLE_LR,
                           batch_size: int = ARTICLE.batch_size, hidden: Sequence[int] = ARTICLE.hidden,
                           digits: Sequence[int] | None = None, seed: int = ARTICLE.seed, dtype: str = ARTICLE.dtype,
                           optimizers: Sequence[str] = ARTICLE_OPTIMIZERS, keep_prob: float = ARTICLE.keep_prob,
                           callback: Callable[[str, int, dict], None] | None = None,
                           should_stop: Callable[[], bool] | None = None) -> dict[str, History]:
    """Return each optimizer's History from ``run`` on ``ARTICLE`` with the given settings changed.

    ``digits`` is ``(positive, negative)``, the article's pair when None;
    ``callback(optimizer, epoch, record)`` runs after every epoch of every optimizer.
    """
    if digits is None:
        digits = (dict(ARTICLE.dataset_params)["positive"], dict(ARTICLE.dataset_params)["negative"])
    if len(digits) != 2:
        raise ValueError(f"give two digits, the positive and the negative class, got {list(digits)}")
    exp = replace(ARTICLE, dataset_params=(("positive", digits[0]), ("negative", digits[1]), ("seed", seed)),
                  hidden=tuple(hidden), keep_prob=keep_prob, batch_size=batch_size, epochs=epochs,
                  racers=tuple(Entrant(n, (("lr", lr),)) for n in optimizers), seed=seed, dtype=dtype)
    on_epoch = None if callback is None else (lambda i, r: callback(optimizers[i], r["epoch"], r))
    return run(exp, on_epoch, should_stop, landscape=False).histories()  # histories only: no slices to compute


def _acc_at(h: History, epoch: int) -> float | None:
    return h.train_acc[epoch - 1] if len(h.train_acc) >= epoch else None


def summarize(histories: dict[str, History], threshold: float = 0.99) -> list[dict[str, Any]]:
    """Return one row per optimizer: final/early accuracies, epoch reaching ``threshold``, loss, time."""
    rows = []
    for name, h in histories.items():
        rows.append({
            "optimizer": name,
            "train_acc": h.train_acc[-1] if h.train_acc else None,
            "test_acc": h.test_acc[-1] if h.test_acc else None,
            "acc_epoch_1": _acc_at(h, 1),
            "acc_epoch_5": _acc_at(h, 5),
            "first_epoch_reaching": first_epoch_reaching(h, threshold),
            "train_loss": h.train_loss[-1] if h.train_loss else None,
            "wall_time": h.wall_time,
            "epochs_run": h.epochs_run,
            "diverged_at": h.diverged_at,
            "article_train_acc": ARTICLE_TRAIN_ACC.get(name),
        })
    return rows


def format_table(histories: dict[str, History], threshold: float = 0.99) -> str:
    """Return the article-style comparison as a fixed-width text table."""
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    head = (f"{'optimizer':<10} {'train acc':>9} {'test acc':>8} {'acc@1':>6} {'acc@5':>6} "
            f"{'ep>=' + format(threshold, '.0%'):>7} {'train loss':>10} {'time s':>7} {'article':>7}")
    lines = [head, "-" * len(head)]
    for r in summarize(histories, threshold):
        lines.append(
            f"{r['optimizer']:<10} {f(r['train_acc'], '.3f'):>9} {f(r['test_acc'], '.3f'):>8} "
            f"{f(r['acc_epoch_1'], '.3f'):>6} {f(r['acc_epoch_5'], '.3f'):>6} "
            f"{f(r['first_epoch_reaching'], 'd'):>7} {f(r['train_loss'], '.2e'):>10} "
            f"{r['wall_time']:>7.2f} {f(r['article_train_acc'], '.3f'):>7}"
            + (f"  diverged at epoch {r['diverged_at']}" if r["diverged_at"] else "")
        )
    lines.append("article = its training accuracy after 500 epochs on cat / not-cat pictures "
                 "(with its dropout defect); acc@k = training accuracy after epoch k")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment from the command line, print the table; return the exit status."""
    ap = argparse.ArgumentParser(
        prog="python -m surfaces.network.experiment",
        description="The article's optimizer comparison on 8x8 digits: same MLP, same initial weights, "
                    "one table.",
    )
    a, digits = ARTICLE, dict(ARTICLE.dataset_params)
    ap.add_argument("--epochs", type=int, default=a.epochs, help=f"passes over the training set (default {a.epochs})")
    ap.add_argument("--lr", type=float, default=ARTICLE_LR,
                    help=f"learning rate of every optimizer (default {ARTICLE_LR:g})")
    ap.add_argument("--batch-size", type=int, default=a.batch_size, help=f"mini-batch size (default {a.batch_size})")
    ap.add_argument("--hidden", type=int, nargs="+", default=list(a.hidden),
                    help=f"hidden layer sizes (default {' '.join(map(str, a.hidden))})")
    ap.add_argument("--digits", type=int, nargs=2, default=[digits["positive"], digits["negative"]],
                    metavar=("POSITIVE", "NEGATIVE"),
                    help=f"the two digits to tell apart (default {digits['positive']} {digits['negative']})")
    ap.add_argument("--seed", type=int, default=a.seed, help="seed of the weights, the split and the batches")
    ap.add_argument("--dtype", choices=list(DTYPES), default=a.dtype, help="precision")
    ap.add_argument("--keep-prob", type=float, default=a.keep_prob,
                    help=f"dropout keep probability (default {a.keep_prob:g}: none)")
    ap.add_argument("--optimizers", nargs="+", default=list(ARTICLE_OPTIMIZERS), choices=list(optim.OPTIMIZERS),
                    help="optimizers to compare (default: the article's four)")
    ap.add_argument("--threshold", type=float, default=0.99, help="training accuracy to time (default 0.99)")
    ap.add_argument("--json", metavar="PATH", help="also write every History as JSON to PATH")
    args = ap.parse_args(argv)
    try:
        histories = run_article_experiment(
            epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, hidden=args.hidden,
            digits=args.digits, seed=args.seed, dtype=args.dtype, optimizers=args.optimizers,
            keep_prob=args.keep_prob,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"digits {args.digits[0]} vs {args.digits[1]}, hidden {args.hidden}, lr {args.lr:g}, "
          f"batch {args.batch_size}, {args.epochs} epochs, {args.dtype}, seed {args.seed}")
    print(format_table(histories, args.threshold))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({k: h.to_dict() for k, h in histories.items()}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
