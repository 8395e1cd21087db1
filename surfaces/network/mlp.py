"""The article's MLP binary classifier in plain NumPy, with its defects fixed, and its training loop.

A network is ``n_inputs -> hidden[0] -> ... -> hidden[-1] -> 1``: ReLU hidden
layers, one sigmoid output, binary cross-entropy averaged over the batch.
Weights start He-style, ``N(0, 1) * sqrt(2 / fan_in)``, from one seed; biases
start at zero. Inverted dropout draws a *uniform* mask on every hidden layer,
and ``keep_prob = 1`` draws nothing at all. Gradients are written out by
hand (``dz_out = a_out - y``, ``dW = a_prev^T dz / m``, ``db = mean(dz)``).

``train`` drives any optimizer through its public ``step(params, grads)``,
so the update rules that animate the 2-D surfaces train this network too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..batches import minibatches

MAX_HIDDEN_LAYERS = 6
MAX_HIDDEN_UNITS = 1024
MAX_INPUTS = 100_000
#: keeps one network (and an optimizer's state, two or three copies of it) within memory a class can share
MAX_PARAMETERS = 20_000_000
DTYPES = {"float32": np.float32, "float64": np.float64}


class MLPError(ValueError):
    """A network or training setting a user chose is not valid; the message says why."""


def _dtype(dtype: Any) -> type:
    """Return np.float32 or np.float64 for a dtype given as a name, a type or a np.dtype."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in DTYPES:
        raise MLPError(f"precision must be float32 or float64, got {dtype!r}")
    return DTYPES[name]


def _whole(value: Any, what: str) -> int:
    """Return ``value`` as an int, or raise MLPError saying it must be a whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)
        raise MLPError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def _hidden_sizes(hidden: Any) -> tuple[int, ...]:
    """Return the validated hidden layer sizes as a tuple (an int means one layer)."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        sizes = tuple(_whole(h, "each hidden layer size") for h in hidden)
    except TypeError:
        raise MLPError(f"hidden layers must be a list of sizes such as [100] or [32, 16], got {hidden!r}") from None
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise MLPError(f"at most {MAX_HIDDEN_LAYERS} hidden layers are allowed, got {len(sizes)}")
    for h in sizes:
        if not 1 <= h <= MAX_HIDDEN_UNITS:
            raise MLPError(f"each hidden layer needs between 1 and {MAX_HIDDEN_UNITS} units, got {h}")
    return sizes


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Return the logistic function of ``z`` in z's dtype, without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def bce_from_logits(z: np.ndarray, y: np.ndarray) -> float:
    """Return the mean binary cross-entropy of labels ``y`` under logits ``z``.

    ``-[y log s + (1-y) log(1-s)]`` with ``s = sigmoid(z)`` equals
    ``log(1 + e^z) - y z``; ``logaddexp(0, z)`` evaluates that without ever
    taking log(0), so saturated outputs give a large finite loss, not inf/nan.
    """
    return float(np.mean(np.logaddexp(0, z) - y * z))


def _flush_subnormals(a: np.ndarray) -> None:
    """Set the subnormal entries of ``a`` (nonzero, below the dtype's smallest normal number) to zero.

    A saturated output gives ``sigmoid(z) - y`` around 1e-39 in float32, and
    a matrix product with even a few subnormal operands runs several times
    slower on x86 (each one takes a microcode assist): the first layer's
    weight gradient went from 0.36 ms to 1.6 ms. Values that small carry
    under 24 bits and are far below anything that moves a weight, so they
    are flushed, as the CPU's flush-to-zero mode would.
    """
    np.copyto(a, 0, where=np.abs(a) < np.finfo(a.dtype).tiny)


class MLP:
    """A binary classifier ``n_inputs -> hidden... -> 1`` whose parameters are a list of arrays.

    ``params`` is ``[W1, b1, W2, b2, ...]`` with ``W`` of shape
    ``(fan_in, fan_out)`` and ``b`` of shape ``(fan_out,)``; optimizers update
    these arrays in place. ``keep_prob`` is dropout's keep probability on the
    hidden layers (1 means no dropout). ``seed`` fixes the initial weights, so
    two networks built with the same arguments start identical. The weights
    are drawn in float64 and then rounded, so a float32 and a float64 network
    of the same seed start from the same weights up to rounding.
    """

    def __init__(self, n_inputs: int, hidden: Sequence[int] | int = (100,), keep_prob: float = 1.0,
                 seed: int = 0, dtype: Any = np.float32):
        n_inputs = _whole(n_inputs, "the number of inputs")
        if not 1 <= n_inputs <= MAX_INPUTS:
            raise MLPError(f"the number of inputs must be between 1 and {MAX_INPUTS}, got {n_inputs}")
        self.hidden = _hidden_sizes(hidden)
        try:
            keep_prob = float(keep_prob)
        except (TypeError, ValueError):
            raise MLPError(f"keep_prob must be a number in (0, 1], got {keep_prob!r}") from None
        if not 0.0 < keep_prob <= 1.0:
            raise MLPError(
                f"keep_prob (the fraction of hidden units kept by dropout) must be in (0, 1], got {keep_prob!r}"
            )
        seed = _whole(seed, "the seed")
        if seed < 0:
            raise MLPError(f"the seed must be 0 or more, got {seed}")
        self.n_inputs = n_inputs
        self.keep_prob = keep_prob
        self.seed = seed
        self.dtype = _dtype(dtype)
        sizes = (n_inputs, *self.hidden, 1)
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        if n_params > MAX_PARAMETERS:
            raise MLPError(
                f"this network would have {n_params:,} parameters; the limit is {MAX_PARAMETERS:,}. "
                "Use fewer inputs or smaller hidden layers."
            )
        # Initial weights and dropout masks come from separate streams of the one seed,
        # so switching dropout on never changes where training starts.
        init_seq, dropout_seq = np.random.SeedSequence(seed).spawn(2)
        rng = np.random.default_rng(init_seq)
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w = rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)
            self.params.append(np.ascontiguousarray(w, dtype=self.dtype))
            self.params.append(np.zeros(fan_out, dtype=self.dtype))
        self.dropout_rng = np.random.default_rng(dropout_seq)

    @property
    def n_layers(self) -> int:
        """Return the number of weight layers (hidden layers plus the output layer)."""
        return len(self.params) // 2

    @property
    def n_parameters(self) -> int:
        """Return the total number of weights and biases."""
        return sum(p.size for p in self.params)

    def __repr__(self) -> str:
        return (f"MLP(n_inputs={self.n_inputs}, hidden={list(self.hidden)}, keep_prob={self.keep_prob}, "
                f"seed={self.seed}, dtype={np.dtype(self.dtype).name})")

    # -- inputs ----------------------------------------------------------------
    def _inputs(self, X: Any) -> np.ndarray:
        """Return X as a C-contiguous (m, n_inputs) array of the network's dtype, copying only if needed."""
        X = np.asarray(X)
        if X.ndim == 1 and self.n_inputs == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise MLPError(f"inputs must have shape (examples, {self.n_inputs}), got {X.shape}")
        if X.shape[0] == 0:
            raise MLPError("need at least one example")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _labels(self, y: Any, m: int) -> np.ndarray:
        """Return y as an (m, 1) column of the network's dtype."""
        y = np.asarray(y)
        if y.size != m or y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            raise MLPError(f"need one label per example: {m} examples but labels of shape {y.shape}")
        return y.reshape(m, 1).astype(self.dtype, copy=False)

    # -- the network -------------------------------------------------------------
    def _forward(self, X: np.ndarray, rng: np.random.Generator | None, dropout: bool):
        """Return ``(logits, activations, masks)``; masks[i] is None where no dropout was drawn.

        ``activations[i]`` is the input of weight layer i (after ReLU and dropout).
        """
        acts = [X]
        masks: list[np.ndarray | None] = []
        a = X
        L = self.n_layers
        for i in range(L - 1):
            W, b = self.params[2 * i], self.params[2 * i + 1]
            a = a @ W
            a += b
            np.maximum(a, 0, out=a)
            mask = None
            if dropout:
                # Uniform draws: P(u < keep_prob) is exactly keep_prob (the article used randn).
                u = rng.random(a.shape, dtype=self.dtype)
                mask = (u < self.keep_prob).astype(self.dtype)
                mask *= self.dtype(1.0 / self.keep_prob)
                a *= mask
            masks.append(mask)
            acts.append(a)
        z = a @ self.params[-2]
        z += self.params[-1]
        return z, acts, masks

    def loss_and_grads(self, X: Any, y: Any, rng: np.random.Generator | None = None
                       ) -> tuple[float, list[np.ndarray]]:
        """Return the batch's mean cross-entropy and its gradients, aligned with ``params``.

        With ``keep_prob < 1`` the dropout masks come from ``rng`` (pass a
        seeded Generator for a fixed mask), or from the network's own seeded
        stream when ``rng`` is None. With ``keep_prob = 1`` nothing is drawn.
        """
        X = self._inputs(X)
        m = X.shape[0]
        y = self._labels(y, m)
        dropout = self.keep_prob < 1.0
        if dropout and rng is None:
            rng = self.dropout_rng
        z, acts, masks = self._forward(X, rng, dropout)
        loss = bce_from_logits(z, y)
        # The 1/m of the mean is folded into dz once, so no dW needs its own division.
        dz = (sigmoid(z) - y) / self.dtype(m)
        _flush_subnormals(dz)
        grads: list[np.ndarray] = [None] * len(self.params)  # type: ignore[list-item]
        for i in range(self.n_layers - 1, -1, -1):
            a_prev = acts[i]
            grads[2 * i] = a_prev.T @ dz
            grads[2 * i + 1] = dz.sum(axis=0)
            if i == 0:
                break
            da = dz @ self.params[2 * i].T
            if masks[i - 1] is not None:
                da *= masks[i - 1]
            # ReLU' is (a > 0); a dropped unit already has da = 0, so the kept activation decides.
            da *= a_prev > 0
            _flush_subnormals(da)
            dz = da
        return loss, grads

    def logits(self, X: Any) -> np.ndarray:
        """Return the output logits, shape (m,), without dropout."""
        z, _, _ = self._forward(self._inputs(X), None, False)
        return z[:, 0]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return P(label = 1) for each example, shape (m,), without dropout."""
        return sigmoid(self.logits(X))

    def predict(self, X: Any) -> np.ndarray:
        """Return the predicted 0/1 label of each example, shape (m,) of int."""
        return (self.logits(X) > 0).astype(np.int64)

    def loss(self, X: Any, y: Any) -> float:
        """Return the mean cross-entropy over all of X, without dropout."""
        X = self._inputs(X)
        z, _, _ = self._forward(X, None, False)
        return bce_from_logits(z, self._labels(y, X.shape[0]))

    def evaluate(self, X: Any, y: Any) -> tuple[float, float]:
        """Return ``(loss, accuracy)`` over all of X with one forward pass, without dropout."""
        X = self._inputs(X)
        z, _, _ = self._forward(X, None, False)
        y = self._labels(y, X.shape[0])
        return bce_from_logits(z, y), float(np.mean((z > 0) == (y > 0.5)))

    def copy_params_from(self, other: MLP) -> None:
        """Overwrite this network's parameters with copies of ``other``'s (same layout required)."""
        if [p.shape for p in self.params] != [p.shape for p in other.params]:
            raise MLPError("the two networks have different layer sizes")
        self.params = [np.array(p, dtype=self.dtype) for p in other.params]


# -- training --------------------------------------------------------------------

RECORD_KEYS = ("epoch", "batch_loss_mean", "batch_loss_last", "train_loss", "train_acc", "test_loss", "test_acc")


@dataclass
class History:
    """What one training run recorded, one entry per epoch, plus how the run ended.

    ``batch_loss_mean`` averages the epoch's mini-batch losses weighted by
    batch size (the mean loss over the examples as they were seen);
    ``batch_loss_last`` is the last mini-batch's loss (the article's noisy
    curve); ``train_loss``/``train_acc`` are measured on the full training set
    after the epoch, without dropout; ``test_*`` are empty without a test set.
    ``diverged_at`` is the epoch whose loss or parameters became non-finite.
    When ``stopped`` is true the last record may cover a partial epoch.
    """

    epoch: list[int] = field(default_factory=list)
    batch_loss_mean: list[float] = field(default_factory=list)
    batch_loss_last: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    wall_time: float = 0.0
    stopped: bool = False
    diverged_at: int | None = None
    epochs_run: int = 0
    #: how the run was set up (optimizer, hyperparameters, batch size, seed...), JSON-able
    meta: dict = field(default_factory=dict)

    def append(self, record: dict) -> None:
        """Add one epoch's record (a dict with the keys of ``RECORD_KEYS``)."""
        for k in RECORD_KEYS:
            v = record.get(k)
            if v is not None:
                getattr(self, k).append(v)
        self.epochs_run = len(self.epoch)

    def records(self) -> list[dict]:
        """Return one dict per epoch (test values None without a test set), e.g. for a CSV export."""
        out = []
        for i in range(len(self.epoch)):
            out.append({k: (getattr(self, k)[i] if i < len(getattr(self, k)) else None) for k in RECORD_KEYS})
        return out

    def to_dict(self) -> dict:
        """Return the history as plain JSON-able Python data; non-finite numbers become None."""
        d = asdict(self)
        for k in RECORD_KEYS[1:]:
            d[k] = [float(v) if math.isfinite(v) else None for v in d[k]]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Return the History that ``to_dict`` described (None read back as nan)."""
        kw = {k: d[k] for k in ("wall_time", "stopped", "diverged_at", "epochs_run", "meta") if k in d}
        kw["epoch"] = [int(e) for e in d.get("epoch", [])]
        for k in RECORD_KEYS[1:]:
            kw[k] = [math.nan if v is None else float(v) for v in d.get(k, [])]
        return cls(**kw)


def first_epoch_reaching(history: History, threshold: float, key: str = "train_acc") -> int | None:
    """Return the first epoch whose ``key`` reaches ``threshold``, or None if none does.

    Accuracies reach a threshold from below (>=), losses from above (<=).
    """
    if key not in RECORD_KEYS[1:]:
        raise ValueError(f"unknown record {key!r}; choose one of {', '.join(RECORD_KEYS[1:])}")
    values = getattr(history, key)
    below = "loss" in key
    for epoch, v in zip(history.epoch, values):
        if (v <= threshold) if below else (v >= threshold):
            return epoch
    return None


def _all_finite(params: Sequence[np.ndarray]) -> bool:
    """Return True when every parameter is finite."""
    return all(bool(np.isfinite(p).all()) for p in params)


def _training_inputs(model: MLP, X: Any, y: Any, X_test: Any, y_test: Any
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Return the training and test arrays in the network's layout, or raise MLPError saying what is wrong."""
    X = model._inputs(X)
    y = model._labels(y, X.shape[0])
    if not np.isin(y, (0, 1)).all():
        raise MLPError("labels must be 0 or 1")
    if X_test is None:
        return X, y, None, None
    if y_test is None:
        raise MLPError("a test set needs its labels as well as its inputs")
    X_test = model._inputs(X_test)
    return X, y, X_test, model._labels(y_test, X_test.shape[0])


def _epoch(model: MLP, optimizer: Any, X: np.ndarray, y: np.ndarray, batch_size: int,
           batch_rng: np.random.Generator, dropout_rng: np.random.Generator | None,
           bufs: tuple[np.ndarray, np.ndarray], should_stop: Callable[[], bool] | None) -> tuple[float, float, bool, bool]:
    """Return ``(mean batch loss, last batch loss, stopped, diverged)`` after one pass of mini-batch steps.

    The mean is weighted by batch size; a non-finite batch loss ends the
    pass before its step; ``should_stop()`` is asked after every step.
    """
    xbuf, ybuf = bufs
    total, seen, last = 0.0, 0, math.nan
    for idx in minibatches(X.shape[0], batch_size, batch_rng):
        k = len(idx)
        xb = np.take(X, idx, axis=0, out=xbuf[:k], mode="clip")
        yb = np.take(y, idx, axis=0, out=ybuf[:k], mode="clip")
        last, grads = model.loss_and_grads(xb, yb, dropout_rng)
        if not math.isfinite(last):
            return (total / seen if seen else last), last, False, True
        optimizer.step(model.params, grads)
        total += last * k
        seen += k
        if should_stop is not None and should_stop():
            return total / seen, last, True, False
    return (total / seen if seen else last), last, False, False


class Trainer:
    """One optimizer's training of one network, advanced an epoch at a time, with its own random streams.

    The mini-batch permutations and the dropout masks come from streams of
    ``seed`` that belong to this trainer alone, so trainers advanced in turn
    (a race) give each network exactly the numbers it gets when trained alone.
    ``history`` holds the epochs committed so far; ``done`` turns true after
    the last epoch or a divergence.
    """

    def __init__(self, model: MLP, optimizer: Any, X: Any, y: Any, epochs: int, batch_size: int, seed: int = 0,
                 X_test: Any = None, y_test: Any = None):
        epochs = _whole(epochs, "the number of epochs")
        if epochs < 1:
            raise MLPError(f"the number of epochs must be at least 1, got {epochs}")
        batch_size = _whole(batch_size, "the batch size")
        if batch_size < 1:
            raise MLPError(f"the batch size must be at least 1, got {batch_size}")
        self.model, self.optimizer = model, optimizer
        self.X, self.y, self.X_test, self.y_test = _training_inputs(model, X, y, X_test, y_test)
        self.epochs, self.batch_size = epochs, batch_size
        m = self.X.shape[0]
        batch_seq, dropout_seq = np.random.SeedSequence(_whole(seed, "the seed")).spawn(2)
        self.batch_rng = np.random.default_rng(batch_seq)
        self.dropout_rng = np.random.default_rng(dropout_seq) if model.keep_prob < 1.0 else None
        # One reusable buffer for the gathered batch, so no epoch allocates a fresh copy of wide inputs.
        self.bufs = (np.empty((min(batch_size, m), self.X.shape[1]), dtype=model.dtype),
                     np.empty((min(batch_size, m), 1), dtype=model.dtype))
        self.history = History(meta={
            "optimizer": getattr(optimizer, "name", type(optimizer).__name__),
            "hyperparameters": dict(getattr(optimizer, "hp", {})),
            "epochs": epochs, "batch_size": batch_size, "seed": int(seed), "n_train": m,
            "n_test": int(self.X_test.shape[0]) if self.X_test is not None else 0,
            "hidden": list(model.hidden), "keep_prob": model.keep_prob, "dtype": np.dtype(model.dtype).name,
        })
        self.epoch = 0
        self.done = False

    def run_epoch(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict, bool]:
        """Return ``(record, stopped)`` after one more pass of mini-batch steps; the record is not yet committed.

        ``should_stop()`` is asked after every step; when it says True the
        pass ends there (``stopped``) and the record covers a partial epoch.
        """
        start = time.perf_counter()
        self.epoch += 1
        model = self.model
        # Divergence is detected and reported explicitly, so numpy's overflow warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            mean, last, stop, diverged = _epoch(model, self.optimizer, self.X, self.y, self.batch_size,
                                                self.batch_rng, self.dropout_rng, self.bufs, should_stop)
            train_loss, train_acc = model.evaluate(self.X, self.y)
            diverged = diverged or not (math.isfinite(train_loss) and _all_finite(model.params))
            record = {"epoch": self.epoch, "batch_loss_mean": mean, "batch_loss_last": last,
                      "train_loss": train_loss, "train_acc": train_acc, "test_loss": None, "test_acc": None}
            if self.X_test is not None:
                record["test_loss"], record["test_acc"] = model.evaluate(self.X_test, self.y_test)
        record["diverged"] = diverged
        self.history.wall_time += time.perf_counter() - start
        return record, stop

    def commit(self, record: dict, stopped: bool = False) -> None:
        """Add ``record`` (from ``run_epoch``) to the history; a divergence, the last epoch or a stop ends training."""
        self.history.append(record)
        if record.get("diverged"):
            self.history.diverged_at = record["epoch"]
        self.history.stopped = stopped
        self.done = self.done or bool(record.get("diverged")) or stopped or record["epoch"] >= self.epochs


def train(model: MLP, optimizer: Any, X: Any, y: Any, epochs: int, batch_size: int, seed: int = 0,
          X_test: Any = None, y_test: Any = None,
          callback: Callable[[int, dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> History:
    """Return the History of training ``model`` in place with ``optimizer`` over mini-batches.

    Each epoch draws a fresh permutation from ``seed`` (``surfaces.batches``),
    takes one ``optimizer.step(model.params, grads)`` per batch, then measures
    the full training (and test) loss and accuracy. ``callback(epoch, record)``
    runs after every epoch. ``should_stop()`` is asked after every batch; when
    it returns True training ends there and the partial epoch is recorded. A
    non-finite loss or parameter ends training and sets ``diverged_at``.
    """
    trainer = Trainer(model, optimizer, X, y, epochs, batch_size, seed, X_test, y_test)
    while not trainer.done:
        record, stop = trainer.run_epoch(should_stop)
        trainer.commit(record, stop)
        if callback is not None:
            callback(record["epoch"], record)
    return trainer.history


__all__ = [
    "MLP", "MLPError", "History", "RECORD_KEYS", "Trainer", "train", "first_epoch_reaching",
    "sigmoid", "bce_from_logits", "DTYPES",
]
