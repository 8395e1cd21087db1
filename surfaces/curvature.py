"""Why an optimizer behaves as it does: the surface's curvature, stability limits and rates on quadratics.

Pure NumPy on top of a Surface's exact (sympy) Hessian. Near a minimum every
smooth loss is a quadratic ``0.5 d^T H d``, and on it gradient descent and
momentum are linear iterations whose per-step contraction is the spectral
radius of a small matrix built from ``lr``, ``beta`` and each eigenvalue of
``H`` (Goh, "Why Momentum Really Works", Distill 2017; Polyak 1964).

Momentum comes in two forms with the same iterates after a change of ``lr``:

* ``"ema"``, the article's moving average (``optim.Momentum``):
  ``v = beta v + (1 - beta) g``, ``p -= lr v``;
* ``"heavy_ball"``, PyTorch's ``SGD(momentum=beta)``: ``v = beta v + g``, ``p -= lr v``.

``ema(lr, beta)`` takes exactly the steps of ``heavy_ball(lr (1 - beta), beta)``,
so every formula here works in the heavy-ball step size ``h`` and converts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy

from .formula import SurfaceError
from .surface import Surface

FORMS = ("ema", "heavy_ball")
#: optimizers whose step is divided by a running root-mean-square, so no curvature fixes their limit
ADAPTIVE = ("rmsprop", "adam", "adamw", "adagrad", "lion")
#: how each optimizer name reads as a linear iteration: None for plain descent, else its momentum form
LINEAR = {"sgd": None, "momentum": "ema"}
#: an eigenvalue this small against the largest counts as zero (flat), so rounding does not give k = 1e17
FLAT = 1e-12
#: region codes of a phase diagram, in the order of ``REGIONS``
MONOTONE, OSCILLATES, DIVERGES = 0, 1, 2
REGIONS = ("converges monotonically", "oscillates", "diverges")


class CurvatureError(SurfaceError):
    """A curvature or rate question that has no answer (bad form, no bowl, unknown optimizer)."""


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise CurvatureError(f"the momentum form must be one of {', '.join(FORMS)}, got {form!r}")
    return form


# -- curvature at a point ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Curvature:
    """The Hessian at points and what it says: eigenvalues, directions, condition number, kind.

    For points of shape (..., 2): ``hessian`` (..., 2, 2); ``eigenvalues``
    (..., 2) ascending; ``eigenvectors`` (..., 2, 2) whose column ``i`` is the
    unit direction of ``eigenvalues[..., i]``; ``condition`` (...) =
    max|lambda| / min|lambda| (inf where one curvature is zero); ``indefinite``
    (...) True at a saddle (one curvature up, one down). NaN where the Hessian
    is undefined.
    """

    hessian: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    condition: np.ndarray
    indefinite: np.ndarray

    @property
    def note(self):
        """Return a sentence on the shape of the surface here (a str for one point, an array of str for many)."""
        notes = np.empty(self.condition.shape, dtype=object)
        for idx in np.ndindex(self.condition.shape):
            notes[idx] = curvature_note(self.eigenvalues[idx])
        return notes[()] if notes.ndim == 0 else notes


def curvature_note(eigenvalues) -> str:
    """Return one sentence that says what two curvatures (ascending) mean for a descent step."""
    lo, hi = (float(v) for v in eigenvalues)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "the curvature is undefined here"
    scale = max(abs(lo), abs(hi))
    if scale == 0.0 or (abs(lo) <= FLAT * scale and abs(hi) <= FLAT * scale):
        return "flat here: no curvature in any direction"
    if lo < -FLAT * scale and hi > FLAT * scale:
        return (f"a saddle: curving up ({hi:.3g}) one way and down ({lo:.3g}) the other, "
                "so descent slides off along the downward direction")
    if hi < -FLAT * scale:
        return "curving down in every direction (a hilltop): descent moves away from here"
    if abs(lo) <= FLAT * scale:
        return f"a trough: curving up ({hi:.3g}) one way and flat the other, condition number infinite"
    if lo < 0.0:  # hi is flat, lo is negative
        return f"a ridge: curving down ({lo:.3g}) one way and flat the other"
    return f"a bowl: curvatures {lo:.3g} and {hi:.3g}, condition number {hi / lo:.3g}"


def curvature_at(surface: Surface, point) -> Curvature:
    """Return the Curvature of ``surface`` at ``point`` ((2,) or (..., 2)), from its exact sympy Hessian."""
    h = surface.hessian(point)
    # the lambdified Hessian is symmetric by construction, but average anyway so eigh sees exactly one triangle
    h = 0.5 * (h + np.swapaxes(h, -1, -2))
    ok = np.isfinite(h).all(axis=(-2, -1))
    vals = np.full(h.shape[:-1], np.nan)
    vecs = np.full(h.shape, np.nan)
    if ok.any():
        w, v = np.linalg.eigh(h[ok])
        # a fixed sign (largest component positive) so a glyph does not flip between neighbouring points
        flip = np.take_along_axis(v, np.abs(v).argmax(axis=-2)[..., None, :], axis=-2) < 0
        v = np.where(flip, -v, v)
        vals[ok], vecs[ok] = w, v
    # undefined points get a stand-in of 1 here and NaN at the end, so no NaN warning is raised on the way
    mags = np.where(ok[..., None], np.abs(vals), 1.0)
    big, small = mags.max(axis=-1), mags.min(axis=-1)
    flat = small <= FLAT * big
    cond = np.where(ok, np.where(flat, np.inf, big / np.where(flat, 1.0, small)), np.nan)
    indefinite = ok & (vals[..., 0] < -FLAT * big) & (vals[..., 1] > FLAT * big)
    return Curvature(hessian=h, eigenvalues=vals, eigenvectors=vecs, condition=cond, indefinite=indefinite)


# -- stability of one racer ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stability:
    """A racer's stability number against its limit, and the same in words.

    ``number`` and ``limit`` are None for adaptive methods, which have no fixed
    limit; ``stable`` is None then too.
    """

    number: float | None
    limit: float | None
    stable: bool | None
    sentence: str


def momentum_limit(beta, form: str = "ema", nesterov: bool = False):
    """Return the largest stable ``lr * lambda`` of momentum in ``form``: 2 (1 + beta), or over (1 - beta) for ema.

    With Nesterov's look-ahead the heavy-ball limit is 2 (1 + beta) / (1 + 2 beta).
    """
    _check_form(form)
    beta = np.asarray(beta, dtype=float)
    h_limit = 2.0 * (1.0 + beta) / ((1.0 + 2.0 * beta) if nesterov else 1.0)
    return h_limit / (1.0 - beta) if form == "ema" else h_limit


def effective_lr(lr, s_hat, eps):
    """Return the per-axis learning rate ``lr / (sqrt(s_hat) + eps)`` of an adaptive method."""
    return np.asarray(lr, dtype=float) / (np.sqrt(np.asarray(s_hat, dtype=float)) + eps)


@dataclass(frozen=True)
class StabilityRule:
    """How a racer's stability number is made: ``lr_factor * lr * lambda_max``, read against ``limit``.

    ``label`` names the number in words ("lr (1 - beta) x curvature") and
    ``limit_label`` the limit ("2 (1 + beta) = 3.8").
    """

    lr_factor: float
    limit: float
    label: str
    limit_label: str


def stability_rule(optimizer_name: str, hp: dict, form: str | None = None) -> StabilityRule | None:
    """Return the StabilityRule of one racer, or None for an adaptive method (no fixed limit).

    Gradient descent: ``lr`` against 2. Momentum: its heavy-ball step size,
    ``lr`` (heavy-ball form) or ``lr (1 - beta)`` (moving-average form),
    against ``2 (1 + beta)`` (over ``1 + 2 beta`` with Nesterov). ``form``
    defaults to ``hp["form"]``, else to the optimizer's own form (``"ema"``
    for ``optim.Momentum``).
    """
    if optimizer_name in ADAPTIVE:
        return None
    if optimizer_name not in LINEAR and optimizer_name not in FORMS:
        raise CurvatureError(f"no stability rule for the optimizer {optimizer_name!r}")
    if optimizer_name == "sgd":
        return StabilityRule(1.0, 2.0, "lr x curvature", "2")
    form = _check_form(form or hp.get("form") or LINEAR.get(optimizer_name) or optimizer_name)
    beta = float(hp.get("beta", 0.0))
    nesterov = bool(hp.get("nesterov", False))
    limit = float(momentum_limit(beta, "heavy_ball", nesterov))
    return StabilityRule(
        1.0 - beta if form == "ema" else 1.0, limit,
        "lr (1 - beta) x curvature" if form == "ema" else "lr x curvature",
        f"2 (1 + beta){' / (1 + 2 beta)' if nesterov else ''} = {limit:.3g}",
    )


def stability(optimizer_name: str, hp: dict, lambda_max: float, form: str | None = None) -> Stability:
    """Return the Stability of one racer where the largest curvature is ``lambda_max``.

    The number and its limit come from ``stability_rule``. Adaptive methods
    rescale each step, so the sentence says there is no fixed limit.
    """
    lam = float(lambda_max)
    rule = stability_rule(optimizer_name, hp, form)
    if rule is None:
        if optimizer_name == "lion":
            words = ("Lion moves every coordinate by exactly lr whatever the curvature, so there is no "
                     "overshoot limit; near the minimum it hops back and forth within about lr of it")
        else:
            words = ("the step is divided by the root-mean-square of recent gradients, so there is no fixed "
                     "limit: the effective learning rate per axis is lr / (sqrt(s_hat) + eps) and it shrinks "
                     "where gradients are large")
        return Stability(None, None, None, words)
    number = rule.lr_factor * float(hp["lr"]) * lam
    limit, label, limit_label = rule.limit, rule.label, rule.limit_label
    if not math.isfinite(lam):
        return Stability(None, limit, None, "the curvature is undefined here, so no limit can be given")
    if lam <= 0.0:
        return Stability(number, limit, True, f"the curvature is not positive here ({lam:.3g}): there is no "
                                              "bowl to overshoot, so no step size is too large")
    stable = number < limit
    if stable:
        words = f"{label} = {number:.3g} < {limit_label}: stable"
    elif number == limit:
        words = f"{label} = {number:.3g} = {limit_label}: on the edge, the step bounces back and forth forever"
    else:
        words = f"{label} = {number:.3g} > {limit_label}: this step overshoots"
    return Stability(number, limit, stable, words)


# -- quadratics ------------------------------------------------------------------------------------


def is_quadratic(surface: Surface) -> bool:
    """Return True when the loss is a polynomial of degree at most 2 in the parameters (constant Hessian)."""
    params = surface.params
    poly = sympy.Poly(surface.expr, *params) if surface.expr.is_polynomial(*params) else None
    if poly is None or poly.total_degree() > 2:
        return False
    return all(not (h.free_symbols & set(params)) for row in surface.hessian_expr for h in row)


def quadratic_eigenvalues(surface: Surface) -> np.ndarray:
    """Return the (ascending) eigenvalues of a quadratic surface's constant Hessian, or raise CurvatureError."""
    if not is_quadratic(surface):
        raise CurvatureError(f"the {surface.title} surface is not a quadratic, so its curvature changes from "
                             "point to point and no single rate describes a run on it")
    return curvature_at(surface, np.array(surface.start, dtype=float)).eigenvalues


def mode_roots(kind: str, lr, beta, eigenvalues, form: str = "ema", nesterov: bool = False) -> np.ndarray:
    """Return the roots of each mode's iteration on a quadratic, shape broadcast(lr, beta) + (k, 2), complex.

    Along an eigen-direction with curvature ``lambda`` the error follows a
    linear recurrence; its roots are the factors by which each component of the
    error shrinks per step. Gradient descent has one root ``1 - lr lambda``
    (the second is 0). Momentum with heavy-ball step ``h`` has the roots of
    ``z^2 - (1 + beta - h lambda) z + beta`` (Nesterov:
    ``z^2 - (1 + beta)(1 - h lambda) z + beta (1 - h lambda)``).
    ``kind`` is ``"sgd"`` or ``"momentum"``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1:
        raise CurvatureError(f"eigenvalues must be a 1-D list, got shape {lam.shape}")
    lr = np.asarray(lr, dtype=float)
    beta = np.asarray(beta, dtype=float)
    lr, beta = (a[..., None] for a in np.broadcast_arrays(lr, beta))
    if kind == "sgd":
        first = (1.0 - lr * lam + 0.0 * beta).astype(complex)
        return np.stack([first, np.zeros_like(first)], axis=-1)
    if kind != "momentum":
        raise CurvatureError(f"rates are known for 'sgd' and 'momentum', got {kind!r}")
    form = _check_form(form)
    a = (lr * (1.0 - beta) if form == "ema" else lr) * lam
    if nesterov:
        b, c = (1.0 + beta) * (1.0 - a), beta * (1.0 - a)
    else:
        b, c = 1.0 + beta - a, beta + 0.0 * a
    root = np.sqrt((b * b - 4.0 * c).astype(complex))
    # the root of larger magnitude without cancellation; the other from the product c = z1 z2
    big = 0.5 * (b + np.where(b >= 0, 1.0, -1.0) * root)
    small = np.divide(c, big, out=np.zeros_like(big), where=big != 0)
    return np.stack([big, small], axis=-1)


def predicted_rate(kind: str, lr, beta, eigenvalues, form: str = "ema", nesterov: bool = False) -> np.ndarray:
    """Return the spectral radius of the iteration on a quadratic with these Hessian eigenvalues.

    It is the asymptotic factor by which the distance to the minimum shrinks
    per step (the loss shrinks by its square); 1 or more means no convergence.
    ``lr`` and ``beta`` broadcast together; the result has their shape.
    """
    return np.abs(mode_roots(kind, lr, beta, eigenvalues, form, nesterov)).max(axis=(-2, -1))


@dataclass(frozen=True)
class OptimalSettings:
    """The fastest fixed settings on a quadratic (Polyak 1964) and the rates they reach.

    ``gd_lr`` and ``gd_rate``; ``momentum_beta``, ``momentum_lr_heavy_ball``
    (PyTorch's lr), ``momentum_lr_ema`` (the article's lr = heavy-ball lr / (1 - beta))
    and ``momentum_rate``; ``condition`` k = lambda_max / lambda_min.
    """

    condition: float
    gd_lr: float
    gd_rate: float
    momentum_beta: float
    momentum_lr_heavy_ball: float
    momentum_lr_ema: float
    momentum_rate: float

    def momentum_lr(self, form: str = "ema") -> float:
        """Return the optimal momentum learning rate in ``form``."""
        return self.momentum_lr_ema if _check_form(form) == "ema" else self.momentum_lr_heavy_ball


def optimal_settings(eigenvalues) -> OptimalSettings:
    """Return the OptimalSettings for a bowl whose Hessian has these (positive) eigenvalues."""
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.size == 0 or not np.isfinite(lam).all():
        raise CurvatureError("optimal settings need the finite curvatures of the surface")
    lo, hi = float(lam.min()), float(lam.max())
    if lo <= FLAT * abs(hi):
        raise CurvatureError("optimal settings exist only for a bowl that curves up in every direction; "
                             f"here the smallest curvature is {lo:.3g}")
    k = hi / lo
    rk = math.sqrt(k)
    beta = ((rk - 1.0) / (rk + 1.0)) ** 2
    h = (2.0 / (math.sqrt(hi) + math.sqrt(lo))) ** 2
    return OptimalSettings(
        condition=k,
        gd_lr=2.0 / (lo + hi), gd_rate=(k - 1.0) / (k + 1.0),
        momentum_beta=beta, momentum_lr_heavy_ball=h, momentum_lr_ema=h / (1.0 - beta),
        momentum_rate=(rk - 1.0) / (rk + 1.0),
    )


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """Momentum's predicted rate over a grid of settings: ``rate`` and ``region`` have shape (len(betas), len(lrs)).

    ``region`` holds codes into ``REGIONS``: MONOTONE (0) where the slowest
    component of the error shrinks without changing sign, OSCILLATES (1)
    where it converges while swinging (complex or negative dominant root),
    DIVERGES (2) where the rate is 1 or more.
    """

    lrs: np.ndarray
    betas: np.ndarray
    rate: np.ndarray
    region: np.ndarray
    form: str


def classify(roots: np.ndarray, rel: float = 1e-9) -> np.ndarray:
    """Return region codes from mode roots (..., k, 2): the sign and kind of the dominant root(s)."""
    mags = np.abs(roots)
    rate = mags.max(axis=(-2, -1))
    # every root within rounding of the largest magnitude is dominant: a tie with a swinging root swings
    dominant = mags >= (rate * (1.0 - rel))[..., None, None]
    swinging = (np.abs(roots.imag) > rel * np.maximum(mags, 1e-300)) | (roots.real < 0)
    oscillates = (dominant & swinging).any(axis=(-2, -1))
    return np.where(rate >= 1.0, DIVERGES, np.where(oscillates, OSCILLATES, MONOTONE))


def phase_diagram(eigenvalues, lrs, betas, form: str = "ema", nesterov: bool = False) -> PhaseDiagram:
    """Return the PhaseDiagram of momentum in ``form`` over ``lrs`` x ``betas`` on a quadratic with these eigenvalues."""
    lrs = np.asarray(lrs, dtype=float)
    betas = np.asarray(betas, dtype=float)
    if lrs.ndim != 1 or betas.ndim != 1:
        raise CurvatureError("the learning rates and betas of a phase diagram must be 1-D lists")
    if not (np.isfinite(lrs).all() and (lrs > 0).all()):
        raise CurvatureError("the learning rates of a phase diagram must be positive numbers")
    if not (np.isfinite(betas).all() and (betas >= 0).all() and (betas < 1).all()):
        raise CurvatureError("the betas of a phase diagram must be at least 0 and below 1")
    roots = mode_roots("momentum", lrs[None, :], betas[:, None], eigenvalues, form, nesterov)
    rate = np.abs(roots).max(axis=(-2, -1))
    return PhaseDiagram(lrs=lrs, betas=betas, rate=rate, region=classify(roots), form=_check_form(form))


__all__ = [
    "Curvature", "CurvatureError", "OptimalSettings", "PhaseDiagram", "Stability", "StabilityRule",
    "ADAPTIVE", "FORMS", "REGIONS", "MONOTONE", "OSCILLATES", "DIVERGES",
    "classify", "curvature_at", "curvature_note", "effective_lr", "is_quadratic", "mode_roots",
    "momentum_limit", "optimal_settings", "phase_diagram", "predicted_rate", "quadratic_eigenvalues",
    "stability", "stability_rule",
]


# -- the loss a linear iteration predicts on a quadratic ------------------------------------------


def quadratic_minimum(surface: Surface) -> np.ndarray:
    """Return the point where a quadratic surface's gradient vanishes; raise CurvatureError if there is none."""
    lam = quadratic_eigenvalues(surface)
    if np.abs(lam).min() <= FLAT * np.abs(lam).max():
        raise CurvatureError(f"the {surface.title} surface is flat along one direction, so it has no single minimum")
    h = curvature_at(surface, np.zeros(2)).hessian
    # the gradient of 0.5 p^T H p + b^T p + c is H p + b, and b is the gradient at the origin
    return -np.linalg.solve(h, surface.grad(np.zeros(2)))


def predicted_loss(surface: Surface, kind: str, lr: float, beta: float, start, steps: int,
                   form: str = "ema", nesterov: bool = False) -> np.ndarray:
    """Return the loss (steps+1,) that gradient descent or momentum reaches at each step on a quadratic surface.

    From the modes, not from running the rule: along each eigen-direction the
    error is ``A z1^t + B z2^t`` with ``z1, z2`` from ``mode_roots`` and ``A, B``
    fixed by the start and the first step (velocity starts at 0); the loss is
    ``f* + 0.5 sum_i lambda_i e_i(t)^2``. Its late slope is ``predicted_rate`` squared.
    """
    lam = quadratic_eigenvalues(surface)
    p_star = quadratic_minimum(surface)
    q = curvature_at(surface, np.zeros(2)).eigenvectors
    e0 = q.T @ (np.asarray(start, dtype=float) - p_star)
    roots = mode_roots(kind, lr, beta, lam, form, nesterov)
    t = np.arange(steps + 1, dtype=float)
    if kind == "sgd":
        first = 1.0 - lr * lam
    else:
        h = lr * (1.0 - beta) if _check_form(form) == "ema" else lr
        first = 1.0 - h * lam * ((1.0 + beta) if nesterov else 1.0)
    errors = []
    for i in range(len(lam)):
        z1, z2 = complex(roots[i, 0]), complex(roots[i, 1])
        e_0, e_1 = complex(e0[i]), complex(first[i] * e0[i])
        with np.errstate(all="ignore"):
            if abs(z1 - z2) > 1e-7 * max(abs(z1), 1.0):
                a = (e_1 - z2 * e_0) / (z1 - z2)
                e = a * z1**t + (e_0 - a) * z2**t
            elif z1 != 0:  # a repeated root: (A + B t) z^t
                e = (e_0 + t * (e_1 / z1 - e_0)) * z1**t
            else:
                e = np.where(t == 0, e_0, np.where(t == 1, e_1, 0.0))
        errors.append(np.real(e))
    err = np.array(errors)
    return float(surface.loss(p_star)) + 0.5 * (lam[:, None] * err**2).sum(axis=0)


__all__ += ["predicted_loss", "quadratic_minimum"]
