"""A loss surface over two parameters: a sympy expression compiled to fast NumPy functions.

The gradient and Hessian are derived by sympy from the one expression, never
typed by hand, and compiled with ``sympy.lambdify`` (on expressions this
package builds itself; user text only ever goes through ``formula.py``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import sympy

from .formula import (
    XY_VARIABLES,
    FormulaError,
    RealPow,
    SurfaceError,
    X,
    Y,
    formula_latex,
    node_count,
    parse_formula,
    real_pow,
)

DEFAULT_WINDOW = ((-3.0, 3.0), (-3.0, 3.0))
#: sizes beyond which a derivative takes seconds to derive and compile; seen with long products
MAX_EXPR_NODES = 1500
MAX_GRAD_NODES = 3000
MAX_HESSIAN_NODES = 12000
#: the share of the window on which a formula must be a finite number
MIN_FINITE_SHARE = 0.5
MAX_GRID = 2000
MAX_WINDOW = 1e6

Window = tuple[tuple[float, float], tuple[float, float]]


def check_window(window) -> Window:
    """Return ``window`` as ``((xmin, xmax), (ymin, ymax))`` floats, or raise SurfaceError."""
    try:
        (x0, x1), (y0, y1) = window
        x0, x1, y0, y1 = (float(v) for v in (x0, x1, y0, y1))
    except (TypeError, ValueError):
        raise SurfaceError(
            f"a window is two ranges ((xmin, xmax), (ymin, ymax)), got {window!r}"
        ) from None
    for lo, hi, axis in ((x0, x1, "x"), (y0, y1, "y")):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise SurfaceError(f"the {axis} range of the window must be finite numbers, got ({lo}, {hi})")
        if not lo < hi:
            raise SurfaceError(f"the {axis} range of the window must go from low to high, got ({lo:g}, {hi:g})")
        if max(abs(lo), abs(hi)) > MAX_WINDOW:
            raise SurfaceError(f"the {axis} range of the window must stay within ±{MAX_WINDOW:g}, got ({lo:g}, {hi:g})")
        if hi - lo < 1e-9 * max(1.0, abs(lo), abs(hi)):
            raise SurfaceError(f"the {axis} range of the window is too narrow to draw: ({lo:g}, {hi:g})")
    return ((x0, x1), (y0, y1))


def _point(p, what: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in p)
    except (TypeError, ValueError):
        raise SurfaceError(f"{what} must be a point (x, y), got {p!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise SurfaceError(f"{what} must have finite coordinates, got ({a}, {b})")
    return (a, b)


def derivatives(expr: sympy.Expr, params: Sequence[sympy.Symbol]) -> tuple[tuple, tuple]:
    """Return ``(gradient, hessian)`` of ``expr`` as tuples of sympy expressions, or raise FormulaError if they explode."""
    if node_count(expr) > MAX_EXPR_NODES:
        raise FormulaError(f"the formula is too large (more than {MAX_EXPR_NODES} parts after reading it)")
    grad = tuple(sympy.diff(expr, p) for p in params)
    if sum(node_count(g) for g in grad) > MAX_GRAD_NODES:
        raise FormulaError(
            "the gradient of this formula is too large to compute quickly; "
            "long products of functions make derivatives explode, try a shorter formula"
        )
    # Abs' derivative is sign, whose derivative sympy writes as a Dirac delta: zero almost everywhere.
    hess_rows = []
    total = 0
    for i in range(len(params)):
        row = []
        for j in range(len(params)):
            if j < i:
                row.append(hess_rows[j][i])
                continue
            h = sympy.diff(grad[i], params[j]).replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
            total += node_count(h)
            if total > MAX_HESSIAN_NODES:
                raise FormulaError(
                    "the second derivatives of this formula are too large to compute quickly; try a shorter formula"
                )
            row.append(h)
        hess_rows.append(tuple(row))
    unevaluated = (sympy.Derivative, sympy.Subs, sympy.re, sympy.im, sympy.arg)
    if any(e.has(*unevaluated) for e in grad + tuple(h for row in hess_rows for h in row)):
        raise FormulaError("this formula's derivative cannot be written out in closed form; try rewriting it")
    return grad, tuple(hess_rows)


class _Root(sympy.Function):
    """``base ** exponent`` with 0 < exponent < 1, marked so that its derivative is taken by ``_RootSlope``.

    Lives only while ``subgradient`` differentiates; every one left is turned back into a power.
    """

    nargs = 2

    def _eval_is_extended_real(self):
        return True

    def _eval_derivative(self, s):
        base, exponent = self.args
        return _RootSlope(base.diff(s), base, exponent)


class _RootSlope(sympy.Function):
    """``exponent * slope * base ** (exponent - 1)``, the chain rule through a root, but 0 where slope and base are both 0.

    There the plain product is 0 * inf = NaN: the root of a quantity at its
    minimum of 0, as in a distance sqrt(x^2 + y^2) at its centre (Ackley's
    funnel), is a kink, and 0 is its subgradient, as sign(0) = 0 is for |x|.
    Everywhere else the value is the plain product.
    """

    nargs = 3

    @classmethod
    def eval(cls, slope, base, exponent):
        if slope.is_zero:
            return sympy.S.Zero
        if slope.is_zero is False or base.is_zero is False:
            # the product cannot be 0 * inf: write it out plainly
            return exponent * slope * real_pow(base, exponent - 1)
        return None

    def _eval_is_extended_real(self):
        return True

    def _numpycode(self, printer, **kwargs) -> str:
        slope, base, exponent = (printer._print(a) for a in self.args)
        where = printer._module_format(printer._module + ".where")
        return (f"{where}(({slope} == 0) & ({base} == 0), 0.0, "
                f"({exponent})*({slope})*({base})**({exponent} - 1))")

    def _pythoncode(self, printer, **kwargs) -> str:
        # a conditional expression, so the power of 0 (a ZeroDivisionError on floats) is never computed
        slope, base, exponent = (printer._print(a) for a in self.args)
        power = printer._module_format("math.pow")
        return (f"(0.0 if ({slope}) == 0 and ({base}) == 0 else "
                f"({exponent})*({slope})*{power}({base}, {exponent} - 1))")


def _is_root(e) -> bool:
    if not isinstance(e, (sympy.Pow, RealPow)):
        return False
    base, exponent = e.args
    return bool(exponent.is_Number and 0 < exponent < 1 and base.free_symbols)


def subgradient(expr: sympy.Expr, params: Sequence[sympy.Symbol]) -> tuple:
    """Return the gradient of ``expr`` as sympy expressions that give 0, a subgradient, at the kinks of roots.

    Equal to the plain derivative wherever that is a number; differs only where
    the chain rule through a root u^p (0 < p < 1) is 0 * inf because u and its
    derivative are both 0, such as the centre of sqrt(x^2 + y^2).
    """
    marked = expr.replace(_is_root, lambda e: _Root(*e.args))
    if not marked.has(_Root):
        return tuple(sympy.diff(expr, p) for p in params)
    return tuple(sympy.diff(marked, p).replace(_Root, real_pow) for p in params)


def _as_machine_numbers(expr: sympy.Expr) -> sympy.Expr:
    """Return ``expr`` with integers and fractions too large for a float64 replaced by floats.

    sympy writes (2x)^100 as 1267650600228229401496703205376*x**100; NumPy cannot
    hold that integer in an array operation, while its float is exact enough.
    """
    big = {a: sympy.Float(a) for a in expr.atoms(sympy.Rational)
           if abs(a.p) > 2**53 or a.q > 2**53}
    return expr.xreplace(big) if big else expr


def _lambdify(args, exprs, module: str):
    return sympy.lambdify(args, tuple(_as_machine_numbers(e) for e in exprs), modules=module, cse=True)


class Surface:
    """A loss over two parameters ``(x, y)`` with its gradient and Hessian, all from one sympy expression.

    Points are arrays whose last axis has length 2: ``loss(xy)`` has shape
    ``xy.shape[:-1]``, ``grad(xy)`` shape ``(..., 2)``, ``hessian(xy)`` shape
    ``(..., 2, 2)``. Where the loss is undefined the values are NaN.

    Attributes: ``name``, ``title``, ``lesson`` (one line on what it teaches),
    ``expr``, ``latex``, ``window`` ``((xmin, xmax), (ymin, ymax))``,
    ``minima`` (list of global minima, maybe empty), ``min_value`` (loss there
    or None), ``start`` (suggested start), ``axis_labels``, ``log_contours``
    (True when the loss spans decades, so contours read best on a log scale),
    ``stochastic`` and ``n_examples`` (for losses that are means over data).
    """

    stochastic = False
    n_examples: int | None = None

    def __init__(
        self,
        expr: sympy.Expr,
        *,
        name: str = "custom",
        title: str | None = None,
        lesson: str = "",
        window=DEFAULT_WINDOW,
        minima: Sequence = (),
        min_value: float | None = None,
        start=None,
        latex: str | None = None,
        params: tuple[sympy.Symbol, sympy.Symbol] = (X, Y),
        axis_labels: tuple[str, str] = ("x", "y"),
        log_contours: bool = False,
        recipe: tuple | None = None,
    ):
        self.expr = expr
        self.params = tuple(params)
        self.name = name
        self.title = title or name
        self.lesson = lesson
        self.window = check_window(window)
        self.minima = [_point(m, "a minimum") for m in minima]
        self.min_value = None if min_value is None else float(min_value)
        self.latex = latex if latex is not None else sympy.latex(expr)
        self.axis_labels = tuple(axis_labels)
        self.log_contours = bool(log_contours)
        self._recipe = recipe
        self.gradient_expr, self.hessian_expr = derivatives(expr, self.params)
        self.subgradient_expr = subgradient(expr, self.params)
        args = self._lambdify_args()
        try:
            self._loss_fn = _lambdify(args, (expr,), "numpy")
            self._grad_fn = _lambdify(args, self.subgradient_expr, "numpy")
            self._hess_fn = _lambdify(args, [h for row in self.hessian_expr for h in row], "numpy")
        except (sympy.printing.codeprinter.PrintMethodNotImplementedError, NotImplementedError):
            raise FormulaError("this formula uses something that cannot be computed numerically") from None
        self._probe()
        (x0, x1), (y0, y1) = self.window
        self.start = _point(start, "the start point") if start is not None else (x0 + 0.15 * (x1 - x0), y1 - 0.15 * (y1 - y0))

    def _probe(self) -> None:
        """Raise FormulaError if the compiled functions fail or turn complex at the window's centre.

        Constant parts of the generated code run in Python floats, which raise
        on overflow (e^(e^10)^2) and turn complex for (-1)^e; both show at any point.
        """
        (x0, x1), (y0, y1) = self.window
        centre = np.array([[(x0 + x1) / 2, (y0 + y1) / 2]])
        for fn in (self._loss_fn, self._grad_fn, self._hess_fn):
            try:
                with np.errstate(all="ignore"):
                    values = self._values(fn, centre)
            except (OverflowError, ZeroDivisionError, ValueError, TypeError):
                raise FormulaError("a constant in this formula or its derivatives is too large for a "
                                   "computer number") from None
            if any(np.iscomplexobj(v) for v in values):
                raise FormulaError("this formula is not a real number (it contains a complex constant, "
                                   "like a negative number to a fractional power)")

    def _lambdify_args(self) -> tuple:
        return self.params

    def _values(self, fn, xy: np.ndarray, idx=None) -> tuple:
        if idx is not None:
            raise SurfaceError(f"the {self.title} surface is not a mean over examples, so it has no mini-batches")
        return fn(xy[..., 0], xy[..., 1])

    def _evaluate(self, fn, xy, idx, k: int) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        if xy.ndim == 0 or xy.shape[-1] != 2:
            raise SurfaceError(f"points must have 2 coordinates in the last axis, got shape {xy.shape}")
        shape = xy.shape[:-1]
        out = np.empty(shape + (k,))
        with np.errstate(all="ignore"):
            vals = self._values(fn, xy, idx)
            for i, v in enumerate(vals):
                out[..., i] = v
        return out

    def loss(self, xy) -> np.ndarray:
        """Return the loss at points ``xy`` of shape (..., 2), with shape (...)."""
        return self._evaluate(self._loss_fn, xy, None, 1)[..., 0]

    def grad(self, xy, idx=None) -> np.ndarray:
        """Return the gradient at points ``xy`` of shape (..., 2), with shape (..., 2)."""
        return self._evaluate(self._grad_fn, xy, idx, 2)

    def hessian(self, xy) -> np.ndarray:
        """Return the Hessian at points ``xy`` of shape (..., 2), with shape (..., 2, 2)."""
        h = self._evaluate(self._hess_fn, xy, None, 4)
        return h.reshape(h.shape[:-1] + (2, 2))

    def grid(self, n: int = 200, window=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(X, Y, Z)``, each (n, n): a regular grid over ``window`` and the loss on it (``Z[i, j]`` at ``X[i, j], Y[i, j]``).

        ``window`` defaults to the surface's own. Z is NaN where the loss is
        not a finite number; raises SurfaceError when it is nowhere finite, so
        a picture of the window would be empty.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_GRID:
            raise SurfaceError(f"the grid size must be a whole number from 2 to {MAX_GRID}, got {n!r}")
        (x0, x1), (y0, y1) = self.window if window is None else check_window(window)
        gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        z = self.loss(np.stack([gx, gy], axis=-1))
        finite = np.isfinite(z)
        if not finite.any():
            raise SurfaceError(
                f"the loss has no real, finite value anywhere in the window x from {x0:g} to {x1:g}, "
                f"y from {y0:g} to {y1:g} (a square root or logarithm of negative numbers, or numbers too "
                "large for a computer); pick a window where the formula is defined"
            )
        return gx, gy, np.where(finite, z, np.nan)

    @functools.cached_property
    def float_grad(self):
        """Return a function ``(x, y) -> (gx, gy)`` on Python floats (math module), or None if there is none.

        Outside the real domain (a log, square root or fractional power of a
        negative number, an overflow, a division by zero) it raises ValueError,
        OverflowError or ZeroDivisionError where NumPy gives NaN or inf; it never
        returns a complex number.
        """
        try:
            return _lambdify(self.params, self.subgradient_expr, "math")
        except Exception:
            # anything the math printer cannot write only costs the fast path: trace falls back to arrays
            return None

    def __reduce__(self):
        # lambdified functions cannot be pickled; a surface is rebuilt from its recipe instead
        if self._recipe is None:
            raise TypeError(f"surface {self.name!r} was built directly and cannot be pickled")
        return self._recipe

    def __repr__(self) -> str:
        return f"Surface({self.name!r}, {self.title!r}, window={self.window})"


def _finite_share(surface: Surface, n: int = 60) -> tuple[float, tuple[float, float] | None]:
    """Return the share of n x n cell centres where loss and gradient are finite, and one point where they are not."""
    (x0, x1), (y0, y1) = surface.window
    # cell centres rather than edges, so a singular line such as x = 0 is not sampled exactly
    cx = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    cy = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    gx, gy = np.meshgrid(cx, cy)
    pts = np.stack([gx, gy], axis=-1)
    ok = np.isfinite(surface.loss(pts)) & np.isfinite(surface.grad(pts)).all(axis=-1)
    bad = np.argwhere(~ok)
    where = None if len(bad) == 0 else tuple(float(v) for v in pts[tuple(bad[len(bad) // 2])])
    return float(ok.mean()), where


def _default_start(surface: Surface) -> tuple[float, float]:
    """Return the near-corner point with the highest finite loss, so a run has a long way down."""
    (x0, x1), (y0, y1) = surface.window
    corners = np.array([[x0 + a * (x1 - x0), y0 + b * (y1 - y0)] for a in (0.15, 0.85) for b in (0.85, 0.15)])
    loss = surface.loss(corners)
    ok = np.isfinite(loss) & np.isfinite(surface.grad(corners)).all(axis=-1)
    if ok.any():
        best = int(np.argmax(np.where(ok, loss, -np.inf)))
        return (_tidy(corners[best, 0]), _tidy(corners[best, 1]))
    gx, gy, z = surface.grid(41)
    finite = np.argwhere(np.isfinite(z))
    i, j = finite[len(finite) // 2]
    return (_tidy(gx[i, j]), _tidy(gy[i, j]))


def _tidy(v: float) -> float:
    """Return ``v`` to 6 significant digits, so a start shows as 2.1 rather than 2.0999999999999996."""
    return float(f"{float(v):.6g}")


@functools.lru_cache(maxsize=128)
def _from_formula(text: str, window: Window) -> Surface:
    expr = parse_formula(text, XY_VARIABLES)
    if not expr.free_symbols:
        raise FormulaError(
            "the formula has no x or y, so its surface is flat and an optimizer has nothing to do", text
        )
    surface = Surface(expr, name="custom", title=text.strip(), window=window, latex=formula_latex(text),
                      recipe=(from_formula, (text, window)))
    share, where = _finite_share(surface)
    if share < MIN_FINITE_SHARE:
        raise FormulaError(
            f"the formula or its gradient is not a finite number on {100 * (1 - share):.0f}% of the window "
            f"(for example at x = {where[0]:.3g}, y = {where[1]:.3g}); pick another window or formula",
            text,
        )
    surface.start = _default_start(surface)
    return surface


def from_formula(text: str, window=None) -> Surface:
    """Return the Surface that a formula in x and y describes, over ``window`` (default ((-3, 3), (-3, 3))).

    Raises FormulaError (a ValueError) with a message for the student when the
    text cannot be read, is not a function of x or y, or is not a finite
    number on at least half of the window.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    return _from_formula(text, check_window(DEFAULT_WINDOW if window is None else window))


__all__ = ["Surface", "from_formula", "check_window", "derivatives", "subgradient", "DEFAULT_WINDOW", "Window"]
