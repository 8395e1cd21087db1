"""The trained network's own loss landscape: a 2-D slice through weight space, paths on it, and sharpness.

A slice is the plane ``w0 + a d1 + b d2`` through the common initial weights
``w0``. Two choices of ``(d1, d2)``:

- ``pca``: the first two principal directions of every optimizer's weight
  snapshots together, taken about ``w0`` (not about their mean), so the plane
  holds the directions along which the paths moved most;
- ``random``: filter-normalised random directions (Li et al. 2018,
  "Visualizing the Loss Landscape of Neural Nets"): a Gaussian direction per
  weight matrix whose every unit's column is rescaled to that unit's weight
  norm in ``w0``; bias directions are zero, as in the paper.

The loss on the plane is the true training loss of the network at those
weights (no dropout). A path is projected by least squares onto the plane;
``explained`` says how much of its movement away from ``w0`` the plane
captures, and ``path_loss`` / ``plane_loss`` are the loss at the real weights
and at their projections, so a picture never claims more than the slice shows.

``top_eigenvalue`` is the sharpness: the Hessian's largest eigenvalue by power
iteration on Hessian-vector products from central differences of exact gradients.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .mlp import MLP

GRID = 41  # points per axis of a slice
MARGIN = 0.25  # the slice reaches this fraction of the paths' extent beyond them


def flatten(params: Sequence[np.ndarray]) -> np.ndarray:
    """Return the parameters as one float64 vector, in ``params`` order."""
    return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in params])


def unflatten(vector: np.ndarray, like: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return ``vector`` cut into arrays shaped like ``like`` (views into it)."""
    out, i = [], 0
    for p in like:
        out.append(vector[i:i + p.size].reshape(p.shape))
        i += p.size
    return out


class Evaluator:
    """The training loss and its exact gradient as functions of a flat float64 weight vector.

    A float64 copy of the network without dropout: a slice or a sharpness is
    a property of the loss function, not of one draw of masks.
    """

    def __init__(self, model: MLP, X: np.ndarray, y: np.ndarray):
        self.net = MLP(model.n_inputs, model.hidden, keep_prob=1.0, seed=model.seed, dtype=np.float64)
        self.shapes_like = [np.empty(p.shape) for p in self.net.params]
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64).reshape(-1, 1)

    def _set(self, w: np.ndarray) -> None:
        # Views, not copies: a slice sets the weights 1681 times.
        self.net.params = unflatten(np.ascontiguousarray(w, dtype=np.float64), self.shapes_like)

    def loss(self, w: np.ndarray) -> float:
        """Return the mean cross-entropy over the training set at weights ``w``."""
        self._set(w)
        with np.errstate(all="ignore"):
            return self.net.loss(self.X, self.y)

    def grad(self, w: np.ndarray) -> np.ndarray:
        """Return the exact gradient of the training loss at ``w``, flat."""
        self._set(w)
        with np.errstate(all="ignore"):
            _, g = self.net.loss_and_grads(self.X, self.y)
        return flatten(g)

    def losses(self, W: np.ndarray) -> np.ndarray:
        """Return the training loss at each row of ``W`` (shape (k, P)).

        One small forward pass per row: numpy's stacked matmul of many tiny
        matrices measured 3-4x slower than this loop on a [16, 16] network.
        """
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        return np.array([self.loss(w) for w in W])


def pca_directions(paths: Sequence[np.ndarray], origin: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Return ``(d1, d2, share)``: the top two principal directions of every path's offsets from ``origin``.

    ``share`` is the fraction of the offsets' total squared length the two
    directions hold. The directions are orthonormal; their signs make each
    direction's largest component positive, so a result does not flip between runs.
    """
    M = np.vstack([np.atleast_2d(p) - origin for p in paths])
    # Through the snapshots' Gram matrix (a few hundred square), not an SVD of M itself: M has as many
    # columns as the network has weights, and LAPACK's SVD of it took seconds where this takes milliseconds.
    lam, U = np.linalg.eigh(M @ M.T)
    order = np.argsort(lam)[::-1]
    lam = np.maximum(lam[order], 0.0)
    s = np.sqrt(lam)
    dirs = []
    for k in range(2):
        if k < len(s) and s[k] > 1e-12 * max(s[0], 1e-300):
            d = M.T @ U[:, order[k]] / s[k]
            if dirs:  # exact orthogonality, whatever rounding the Gram matrix added
                d -= dirs[0] * (dirs[0] @ d)
            d /= np.linalg.norm(d)
        else:  # fewer than two independent moves: any unit vector orthogonal to the first
            d = np.zeros(M.shape[1])
            d[k] = 1.0
            if dirs:
                d -= dirs[0] * (dirs[0] @ d)
                d /= np.linalg.norm(d)
        dirs.append(d * (1.0 if d[np.argmax(np.abs(d))] >= 0 else -1.0))
    total = float(np.sum(s**2))
    share = float(np.sum(s[:2] ** 2) / total) if total > 0 else 1.0
    return dirs[0], dirs[1], share


def filter_normalized_directions(params: Sequence[np.ndarray], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return two random directions shaped like ``params``, filter-normalised as in Li et al. (2018), flat.

    Each weight matrix's direction gets, per output unit (column), the norm of
    that unit's weights; bias directions are zero.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        parts = []
        for p in params:
            p = np.asarray(p, dtype=np.float64)
            if p.ndim < 2:
                parts.append(np.zeros(p.size))
                continue
            d = rng.standard_normal(p.shape)
            d *= np.linalg.norm(p, axis=0, keepdims=True) / np.maximum(np.linalg.norm(d, axis=0, keepdims=True), 1e-12)
            parts.append(d.ravel())
        out.append(np.concatenate(parts))
    return out[0], out[1]


def project(path: np.ndarray, origin: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, float]:
    """Return ``(coords, explained)``: each weight vector's plane coordinates (least squares) and the share captured.

    ``explained`` is ``sum |P(w - w0)|^2 / sum |w - w0|^2`` over the path (1 when it never moved).
    """
    D = np.stack([d1, d2], axis=1)
    off = np.atleast_2d(path) - origin
    coords, *_ = np.linalg.lstsq(D, off.T, rcond=None)
    coords = coords.T
    moved = float(np.sum(off**2))
    captured = float(np.sum((coords @ D.T) ** 2))
    return coords, (min(1.0, captured / moved) if moved > 0 else 1.0)


@dataclass
class PathOnSlice:
    """One optimizer's path on a slice: plane coordinates per kept epoch, and the honesty numbers."""

    label: str
    color: str
    epochs: list[int]
    coords: np.ndarray  # (k, 2)
    explained: float
    path_loss: np.ndarray  # the loss at the real weights of each kept epoch
    plane_loss: np.ndarray  # the loss at their projections onto the plane


@dataclass
class Slice:
    """A 2-D slice of the training loss through weight space, with every path projected on it."""

    kind: str  # "pca" or "random"
    a: np.ndarray  # first axis's coordinates, GRID of them
    b: np.ndarray
    loss: np.ndarray  # loss[j, i] at origin + a[i] d1 + b[j] d2
    share: float  # PCA: the share of all the paths' movement the two directions hold (nan for random)
    paths: list[PathOnSlice] = field(default_factory=list)
    seconds: float = 0.0


def _axis(values: np.ndarray, grid: int, at_least: float = 0.0) -> np.ndarray:
    """Return ``grid`` coordinates covering 0, the values and ``[-at_least, at_least]``, with a margin."""
    lo = min(0.0, -at_least, float(values.min()))
    hi = max(0.0, at_least, float(values.max()))
    span = max(hi - lo, 1e-3)
    return np.linspace(lo - MARGIN * span, hi + MARGIN * span, grid)


def loss_slice(evaluator: Evaluator, origin: np.ndarray, d1: np.ndarray, d2: np.ndarray,
               a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the training loss on the grid ``origin + a[i] d1 + b[j] d2``, shape (len(b), len(a))."""
    A, B = np.meshgrid(a, b)
    W = origin + A.reshape(-1, 1) * d1 + B.reshape(-1, 1) * d2
    return evaluator.losses(W).reshape(len(b), len(a))


def make_slice(kind: str, evaluator: Evaluator, origin: np.ndarray, runs: Sequence[tuple[str, str, list[int], np.ndarray]],
               init_params: Sequence[np.ndarray], grid: int = GRID, seed: int = 0,
               path_losses: Sequence[np.ndarray] | None = None) -> Slice:
    """Return the slice of kind ``pca`` or ``random`` with every run's path on it.

    ``runs`` are ``(label, colour, epochs, weights)`` with ``weights`` of shape
    (kept epochs, P), every path starting at ``origin``; ``path_losses``, when
    given, are the losses at those weights (the same for every kind of slice).
    """
    start = time.perf_counter()
    if kind == "pca":
        d1, d2, share = pca_directions([w for *_, w in runs], origin)
    elif kind == "random":
        (d1, d2), share = filter_normalized_directions(init_params, seed), math.nan
    else:
        raise ValueError(f"unknown kind of slice {kind!r}; choose pca or random")
    projected = [(label, color, epochs, w, *project(w, origin, d1, d2)) for label, color, epochs, w in runs]
    allc = np.vstack([c for *_, c, _ in projected]) if projected else np.zeros((1, 2))
    # Filter-normalised units are the weights' own scale: Li et al. look at [-1, 1], where the paths,
    # mostly outside a random plane, may show as a short mark near the origin.
    reach = 1.0 if kind == "random" else 0.0
    a, b = _axis(allc[:, 0], grid, reach), _axis(allc[:, 1], grid, reach)
    out = Slice(kind, a, b, loss_slice(evaluator, origin, d1, d2, a, b), share)
    for k, (label, color, epochs, w, coords, explained) in enumerate(projected):
        on_plane = origin + coords[:, :1] * d1 + coords[:, 1:] * d2
        real = evaluator.losses(w) if path_losses is None else np.asarray(path_losses[k])
        out.paths.append(PathOnSlice(label, color, list(epochs), coords, explained, real, evaluator.losses(on_plane)))
    out.seconds = time.perf_counter() - start
    return out


# -- sharpness ---------------------------------------------------------------------------

def top_eigenvalue(grad: Callable[[np.ndarray], np.ndarray], w: np.ndarray, v0: np.ndarray | None = None,
                   iters: int = 20, tol: float = 1e-3, eps: float = 1e-6, seed: int = 0) -> tuple[float, np.ndarray]:
    """Return ``(lam, v)``: the Hessian's eigenvalue of largest magnitude at ``w`` and its unit eigenvector.

    Power iteration on ``H v ~ (grad(w + eps v) - grad(w - eps v)) / (2 eps)``
    (central differences of the exact gradient: exact for a quadratic loss,
    second-order accurate otherwise). ``eps`` is small because a ReLU network's
    gradient jumps where a unit switches on or off: a step of 1e-3 crossed such
    kinks and gave lone spikes of 3-6x the true value along a training; at 1e-6
    (float64 throughout) the kinks are crossed rarely and rounding stays near
    1e-10 relative. ``lam`` is the Rayleigh quotient
    ``v.Hv``; iteration ends when it changes by less than ``tol`` relative,
    or after ``iters`` products. ``v0`` (the previous eigenvector) warm-starts it.
    """
    w = np.asarray(w, dtype=np.float64)
    v = np.random.default_rng(seed).standard_normal(w.shape) if v0 is None else np.array(v0, dtype=np.float64)
    v /= np.linalg.norm(v)
    lam = math.nan
    for _ in range(max(1, iters)):
        hv = (grad(w + eps * v) - grad(w - eps * v)) / (2 * eps)
        new = float(v @ hv)
        norm = float(np.linalg.norm(hv))
        if not math.isfinite(norm) or norm == 0:
            return new, v
        v = hv / norm
        if math.isfinite(lam) and abs(new - lam) <= tol * abs(new):
            return new, v
        lam = new
    return lam, v
