"""Data-defined surfaces: a loss that is the mean over a small seeded dataset of a per-example loss.

The per-example loss is a formula in the two parameters and the example's
data symbols, read by the safe parser and differentiated by sympy. The full
loss, gradient and Hessian are means over all examples; ``grad(xy, idx)``
averages only over the examples ``idx``, which is what a mini-batch step sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

from .formula import SurfaceError, parse_formula
from .surface import Surface


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


class DataSurface(Surface):
    """A Surface whose loss is the mean of ``expr`` (one example's loss) over ``data``.

    ``data`` maps each data symbol in ``expr`` to an array of m values, one per
    example; ``columns`` keeps the same arrays under their formula names for
    plotting the dataset.
    """

    stochastic = True

    def __init__(self, expr: sympy.Expr, data: dict[sympy.Symbol, np.ndarray], columns: dict[str, np.ndarray], **kw):
        arrays = [np.array(v, dtype=float) for v in data.values()]
        if not arrays or len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1 or len(arrays[0]) < 1:
            raise SurfaceError("a data surface needs one 1-D array of equal length per data symbol")
        for a in arrays:
            a.flags.writeable = False
        self.data_symbols = tuple(data)
        self._columns = arrays
        self.n_examples = len(arrays[0])
        self.columns = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
        super().__init__(expr, **kw)

    def _lambdify_args(self) -> tuple:
        return self.params + self.data_symbols

    def _values(self, fn, xy: np.ndarray, idx=None) -> tuple:
        cols = self._columns if idx is None else [c[idx] for c in self._columns]
        m = len(cols[0])
        if m == 0:
            raise SurfaceError("a mini-batch must hold at least one example")
        x = xy[..., 0, None]
        y = xy[..., 1, None]
        shape = x.shape[:-1] + (m,)
        return tuple(np.broadcast_to(v, shape).mean(axis=-1) for v in fn(x, y, *cols))

    @property
    def float_grad(self):
        """Return None: a mean over examples has no per-float fast path, so traces use arrays."""
        return None


@dataclass(frozen=True)
class DataEntry:
    """A data-defined surface as data: per-example formula, symbols, dataset maker, window, start, lesson."""

    name: str
    title: str
    formula: str
    params: tuple[tuple[str, str], ...]  # (name in the formula, LaTeX-ready symbol name)
    data_names: tuple[tuple[str, str], ...]
    make_data: Callable[[], dict[str, np.ndarray]]
    window: tuple
    start: tuple[float, float]
    lesson: str
    log_contours: bool = False
    stochastic: bool = True

    @property
    def n_examples(self) -> int:
        """Return the number of examples the loss averages over."""
        return len(next(iter(self.make_data().values())))

    def build(self, recipe: tuple | None = None) -> DataSurface:
        """Return the DataSurface this entry describes, its minimum found by Newton's method."""
        params = {k: _sym(s) for k, s in self.params}
        data_syms = {k: _sym(s) for k, s in self.data_names}
        expr = parse_formula(self.formula, {**params, **data_syms})
        columns = self.make_data()
        m = len(next(iter(columns.values())))
        surface = DataSurface(
            expr,
            {data_syms[k]: columns[k] for k, _ in self.data_names},
            columns,
            name=self.name,
            title=self.title,
            lesson=self.lesson,
            window=self.window,
            start=self.start,
            params=tuple(params.values()),
            axis_labels=tuple(k for k, _ in self.params),
            latex=rf"\frac{{1}}{{{m}}}\sum_{{i=1}}^{{{m}}} {sympy.latex(expr)}",
            log_contours=self.log_contours,
            recipe=recipe,
        )
        best = _newton_minimum(surface, np.mean(np.array(self.window), axis=1))
        surface.minima = [best]
        surface.min_value = float(surface.loss(np.array(best)))
        return surface


def _newton_minimum(surface: Surface, p: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Return the minimum of a convex surface reached by Newton's method from ``p``."""
    for _ in range(iterations):
        step = np.linalg.solve(surface.hessian(p), surface.grad(p))
        p = p - step
        if np.max(np.abs(step)) < 1e-14:
            break
    return (float(p[0]), float(p[1]))


def line_fit_data(m: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """Return ``{"xi", "yi"}``: m points near the line y = 1.5 x - 2, x uniform on [0, 4], seeded."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 4.0, m)
    return {"xi": x, "yi": 1.5 * x - 2.0 + rng.normal(0.0, 0.7, m)}


def logistic_data(m: int = 60, seed: int = 1) -> dict[str, np.ndarray]:
    """Return ``{"x1i", "x2i", "yi"}``: m 2-D Gaussian points, labels ±1 drawn with P(+1) = sigmoid(1.5 x1 - x2), seeded.

    The labels are drawn, not thresholded, so the classes overlap and the
    logistic loss has a finite minimum.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (m, 2))
    p = 1.0 / (1.0 + np.exp(-(1.5 * x[:, 0] - 1.0 * x[:, 1])))
    return {"x1i": x[:, 0], "x2i": x[:, 1], "yi": np.where(rng.uniform(size=m) < p, 1.0, -1.0)}


DATA_ENTRIES = (
    DataEntry(
        name="line_fit",
        title="Least-squares line fit",
        formula="(w*xi + b - yi)^2",
        params=(("w", "w"), ("b", "b")),
        data_names=(("xi", "x_i"), ("yi", "y_i")),
        make_data=line_fit_data,
        window=((-1.0, 4.0), (-5.0, 2.0)),
        start=(-0.5, 1.5),
        lesson="Inputs that are all positive tilt and stretch the valley of slope and intercept; "
               "mini-batches make each step aim at a slightly different valley.",
    ),
    DataEntry(
        name="logistic",
        title="Logistic regression, two weights",
        formula="log(1 + exp(-yi*(w1*x1i + w2*x2i)))",
        params=(("w1", "w_1"), ("w2", "w_2")),
        data_names=(("x1i", "x_{i1}"), ("x2i", "x_{i2}"), ("yi", "y_i")),
        make_data=logistic_data,
        window=((-2.0, 5.0), (-5.0, 2.0)),
        start=(-1.5, 1.5),
        lesson="The cross-entropy of a classifier is smooth and convex but flattens far from the data's "
               "best weights; small batches make the path jitter around the minimum.",
    ),
)

__all__ = ["DataSurface", "DataEntry", "DATA_ENTRIES", "line_fit_data", "logistic_data"]
