"""Formulas at the edges of their real domain: paths that leave it end as diverged, kinks get subgradient 0.

Every expected path comes from a plain NumPy loop over a hand-written loss and
gradient (independent of sympy, lambdify and optim/), and the expected
``diverged_at`` from Trace's documented rule: the first index whose point is
not finite, has a coordinate beyond 1e6, or has a loss that is not finite.
"""


import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import optim
import surfaces
from surfaces import SurfaceError, from_formula, get, trace


def _sqrt(v):
    return np.sqrt(v) if v >= 0 else np.nan


# (formula, loss, gradient, distance of a point to the domain's edge): hand-written, real only where
# the formula is; the edge distance lets a property test skip paths that graze the edge, where the
# last bit of rounding decides which side a point lands on.
CASES = {
    "sin(sqrt(x)) + y^2": (
        lambda x, y: np.sin(_sqrt(x)) + y * y,
        lambda x, y: (np.cos(_sqrt(x)) / (2 * _sqrt(x)), 2 * y),
        lambda x, y: x,
    ),
    "log(x + 1) + y^2": (
        lambda x, y: np.log(x + 1) if x > -1 else np.nan,
        lambda x, y: (1 / (x + 1), 2 * y),
        lambda x, y: x + 1,
    ),
    "x^1.5 + y^2": (
        lambda x, y: _sqrt(x) ** 3 + y * y,
        lambda x, y: (1.5 * _sqrt(x), 2 * y),
        lambda x, y: x,
    ),
    "(x + 1)^(1/3) + 0.5y^2": (
        lambda x, y: np.cbrt(x + 1) + 0.5 * y * y if x >= -1 else np.nan,
        lambda x, y: (np.cbrt(x + 1) ** -2 / 3 if x >= -1 else np.nan, y),
        lambda x, y: x + 1,
    ),
    "asin(x/3) + y^2": (
        lambda x, y: np.arcsin(x / 3) + y * y if abs(x) <= 3 else np.nan,
        lambda x, y: (1 / (3 * _sqrt(1 - x * x / 9)), 2 * y),
        lambda x, y: 3 - abs(x),
    ),
    "acos(y/3) + x^2": (
        lambda x, y: x * x + np.arccos(y / 3) if abs(y) <= 3 else np.nan,
        lambda x, y: (2 * x, -1 / (3 * _sqrt(1 - y * y / 9))),
        lambda x, y: 3 - abs(y),
    ),
    "sqrt(x + 2) + sqrt(y + 2)": (
        lambda x, y: _sqrt(x + 2) + _sqrt(y + 2),
        lambda x, y: (0.5 / _sqrt(x + 2), 0.5 / _sqrt(y + 2)),
        lambda x, y: min(x, y) + 2,
    ),
}


def _reference(case: str, rule: str, start, lr: float, steps: int):
    """Return (path (steps+1, 2) NaN from the divergence on, diverged_at, smallest distance to the domain's edge)."""
    loss, grad, edge = CASES[case]
    p = np.array(start, dtype=float)
    m = np.zeros(2)
    v = np.zeros(2)
    path = np.full((steps + 1, 2), np.nan)
    closest = np.inf
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            if t:
                g = np.array(grad(*p), dtype=float)
                if rule == "sgd":
                    p = p - lr * g
                else:  # Adam with its defaults written out: beta1 0.9, beta2 0.999, eps 1e-8
                    m = 0.9 * m + 0.1 * g
                    v = 0.999 * v + 0.001 * g * g
                    p = p - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
            if not (np.isfinite(p).all() and np.abs(p).max() <= 1e6 and np.isfinite(loss(*p))):
                return path, t, closest
            closest = min(closest, abs(edge(*p)))
            path[t] = p
    return path, None, closest


def _assert_ends_as_diverged(tr, d):
    """The trace's own arrays obey the documented rule: finite before d, NaN from d on."""
    if d is None:
        assert np.isfinite(tr.path).all() and np.isfinite(tr.loss).all()
    else:
        assert np.isfinite(tr.path[:d]).all() and np.isfinite(tr.loss[:d]).all()
        assert np.isnan(tr.path[d:]).all() and np.isnan(tr.loss[d:]).all()


# -- the defects as found: exceptions where a path leaves the domain -----------------------

def test_the_reported_formula_ends_as_diverged_instead_of_raising():
    s = from_formula("sin(sqrt(x)) + y^2")
    # from (-1, 1) the start itself is outside the domain
    tr = trace(s, optim.make("sgd"), (-1.0, 1.0), 50)
    assert tr.diverged_at == 0 and np.isnan(tr.path).all()
    # from (0.5, 1) with lr 0.5: x1 = 0.5 - 0.5 cos(sqrt 0.5) / (2 sqrt 0.5) = 0.2312, then x2 < 0
    tr = trace(s, optim.make("sgd", lr=0.5), (0.5, 1.0), 50)
    assert tr.path[1, 0] == pytest.approx(0.5 - 0.5 * np.cos(np.sqrt(0.5)) / (2 * np.sqrt(0.5)), rel=1e-12)
    assert tr.diverged_at == 2
    _assert_ends_as_diverged(tr, 2)


def test_float_gradient_raises_value_error_never_a_complex_number_outside_the_domain():
    # the single-start engine reads ValueError as leaving the domain; a complex value made math's
    # functions raise TypeError instead
    for text, point in (("sin(sqrt(x)) + y^2", (-1.0, 1.0)), ("x^1.5 + y^2", (-2.0, 0.0)),
                        ("cos((x + 1)^(1/3)) + y^2", (-3.0, 0.5))):
        g = from_formula(text).float_grad
        with pytest.raises(ValueError):
            g(*point)
        # NumPy gives NaN at the same point
        assert np.isnan(from_formula(text).grad(np.array(point))).any()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rule", ["sgd", "adam"])
def test_leaving_the_domain_ends_as_diverged_single_and_batched(case, rule):
    s = from_formula(case)
    (x0, x1), (y0, y1) = s.window
    rng = np.random.default_rng(3)
    starts = np.column_stack([rng.uniform(x0, x1, 12), rng.uniform(y0, y1, 12)])
    lr = 0.7 if rule == "sgd" else 0.4
    opt = optim.make(rule, lr=lr)
    batch = trace(s, opt, starts, 30)
    left = 0
    for i, p in enumerate(starts):
        ref, d, _ = _reference(case, rule, p, lr, 30)
        one = trace(s, opt, p, 30)
        assert one.diverged_at == d and batch.diverged_at[i] == d, (p, one.diverged_at, batch.diverged_at[i], d)
        np.testing.assert_allclose(one.path, ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batch.path[:, i], ref, rtol=1e-9, atol=1e-12)
        _assert_ends_as_diverged(one, d)
        left += d is not None and d > 0
    assert left, "no start left the domain during the run, so this case tests nothing"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(list(CASES)), rule=st.sampled_from(["sgd", "adam"]),
       lr=st.sampled_from([0.01, 0.1, 0.5, 1.0, 3.0]),
       x=st.floats(-3, 3), y=st.floats(-3, 3))
def test_any_start_ends_as_the_reference_says(case, rule, lr, x, y):
    ref, d, closest = _reference(case, rule, (x, y), lr, 20)
    assume(closest > 1e-6)
    s = from_formula(case)
    opt = optim.make(rule, lr=lr)
    one = trace(s, opt, (x, y), 20)
    batch = trace(s, opt, [(x, y), (x, y)], 20)
    assert one.diverged_at == d and batch.diverged_at == [d, d]
    np.testing.assert_allclose(one.path, ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(batch.path[:, 1], ref, rtol=1e-8, atol=1e-10)


# -- any formula the parser accepts: trace raises nothing --------------------------------

# roots of x and y among the atoms: a root inside another function is what used to raise
_ATOMS = ["x", "y", "2", "0.5", "pi", "e", "3", "1e3", "1e-3", "sqrt(x)", "y^0.5", "(x - y)^(1/3)"]
_FUNCTIONS = ["sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "asin", "acos", "atan", "cosh",
              "sinh", "sigmoid", "softplus"]
_formulas = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(_FUNCTIONS), inner),
        st.builds(lambda a, op, b: f"({a}){op}({b})", inner, st.sampled_from(["+", "-", "*", "/", "^"]), inner),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=_formulas, rule=st.sampled_from(["sgd", "adam", "momentum"]), lr=st.sampled_from([0.05, 0.5, 2.0]),
       u=st.floats(0, 1), v=st.floats(0, 1))
def test_trace_on_any_accepted_formula_raises_nothing(text, rule, lr, u, v):
    try:
        s = from_formula(text)
    except surfaces.FormulaError:
        assume(False)
    (x0, x1), (y0, y1) = s.window
    start = (x0 + u * (x1 - x0), y0 + v * (y1 - y0))
    opt = optim.make(rule, lr=lr)
    one = trace(s, opt, start, 40)
    _assert_ends_as_diverged(one, one.diverged_at)
    batch = trace(s, opt, [start, s.start], 40)
    assert batch.diverged_at[0] == one.diverged_at


# -- kinks: the subgradient 0 where the gradient has no value --------------------------

def _central(s, p, h=1e-6):
    e = np.eye(2) * h
    return np.array([(s.loss(p + e[i]) - s.loss(p - e[i])) / (2 * h) for i in range(2)])


def test_ackley_gradient_at_its_minimum_is_the_subgradient_zero():
    s = get("ackley")
    np.testing.assert_array_equal(s.grad(np.zeros(2)), [0.0, 0.0])
    assert s.float_grad(0.0, 0.0) == (0.0, 0.0)
    # near the tip the cone's slope is 4 exp(-0.2 r) d r, r = |p| / sqrt 2: about 2.83 along an axis
    for p in ([1e-4, 0.0], [0.0, -1e-4], [0.3, -0.4], [0.0, 0.7], [2.2, 1.3], [-3.1, 0.0]):
        p = np.array(p)
        fd = _central(s, p, h=1e-8 if np.abs(p).max() < 1e-3 else 1e-6)
        np.testing.assert_allclose(s.grad(p), fd, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s.float_grad(*p), fd, rtol=1e-5, atol=1e-5)
    # along the x axis: 4 exp(-0.2 r) / sqrt 2 from the cone, pi sin(2 pi x) exp((cos 2 pi x + 1) / 2) from the ripples
    x = 1e-4
    by_hand = 4 * np.exp(-0.2 * x / np.sqrt(2)) / np.sqrt(2) + np.pi * np.sin(2 * np.pi * x) * np.exp(
        (np.cos(2 * np.pi * x) + 1) / 2)
    assert s.grad(np.array([x, 0.0]))[0] == pytest.approx(by_hand, rel=1e-12)


def test_a_race_that_starts_on_ackleys_minimum_stays_there():
    for start in ((0.0, 0.0), [(0.0, 0.0), (0.0, 0.0)]):
        tr = trace(get("ackley"), optim.make("adam", lr=0.1), start, 20)
        assert tr.diverged_at in (None, [None, None])
        assert np.all(tr.path == 0.0)


def test_a_distance_has_subgradient_zero_at_its_centre_and_its_slope_elsewhere():
    for text in ("sqrt(x^2 + y^2)", "(x^2 + y^2)^(1/4) + 0.1x", "sqrt(abs(x)) + y^2"):
        s = from_formula(text)
        assert np.isfinite(s.grad(np.zeros(2))).all() or text.startswith("sqrt(abs")
        for p in ([0.5, -0.2], [0.0, 1.0], [-1.0, 0.0], [2.0, 2.5]):
            p = np.array(p)
            np.testing.assert_allclose(s.grad(p), _central(s, p), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(s.float_grad(*p), _central(s, p), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(from_formula("sqrt(x^2 + y^2)").grad(np.zeros(2)), [0.0, 0.0])
    # (x^2 + y^2)^(1/4) is a cusp at 0: subgradient 0, plus the 0.1 of the linear term
    np.testing.assert_array_equal(from_formula("(x^2 + y^2)^(1/4) + 0.1x").grad(np.zeros(2)), [0.1, 0.0])


def test_a_root_with_a_nonzero_slope_at_zero_stays_infinite():
    # sqrt(x) at x = 0 is no kink with a subgradient: its slope is infinite, and stays so
    s = from_formula("sqrt(x) + y^2")
    assert s.grad(np.array([0.0, 1.0]))[0] == np.inf
    with pytest.raises((ValueError, ZeroDivisionError)):  # math's way of saying "no number"
        s.float_grad(0.0, 1.0)


def test_the_subgradient_expression_equals_the_gradient_off_the_kinks():
    s = get("ackley")
    rng = np.random.default_rng(5)
    pts = rng.uniform(-5, 5, (50, 2))
    plain = sympy.lambdify(s.params, s.gradient_expr, "numpy")
    np.testing.assert_allclose(s.grad(pts), np.stack(plain(pts[:, 0], pts[:, 1]), axis=-1), rtol=1e-13)


# -- pictures: a window with no finite loss --------------------------------------------

def test_grid_over_a_window_with_no_real_values_says_so():
    s = from_formula("sqrt(x) + y^2")
    with pytest.raises(SurfaceError, match="no real, finite value anywhere in the window x from -10 to -5"):
        s.grid(40, ((-10, -5), (-1, 1)))
    with pytest.raises(SurfaceError, match="too narrow"):
        s.grid(40, ((0, 5e-324), (0, 5e-324)))


def test_grid_over_a_half_defined_window_is_nan_on_the_undefined_half():
    s = from_formula("sqrt(x) + y^2")
    gx, gy, z = s.grid(21, ((-2, 2), (-1, 1)))
    assert (gx.min(), gx.max(), gy.min(), gy.max()) == (-2, 2, -1, 1)
    defined = gx >= 0
    assert np.isnan(z[~defined]).all()
    np.testing.assert_allclose(z[defined], np.sqrt(gx[defined]) + gy[defined] ** 2, rtol=1e-14)
