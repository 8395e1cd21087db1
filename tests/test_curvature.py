"""Curvature, stability, rates on quadratics and recorded optimizer state, against closed forms and real runs.

References: the closed-form eigenvalues of a 2x2 symmetric matrix; the
iteration matrices written out from each update rule and handed to
``np.linalg.eigvals``; runs of the real optimizers through ``surfaces.trace``;
plain hand-written loops of heavy-ball momentum and Adam.
"""

import numpy as np
import pytest

import optim
import surfaces
from surfaces import get, trace
from surfaces.curvature import (
    DIVERGES,
    MONOTONE,
    OSCILLATES,
    CurvatureError,
    curvature_at,
    effective_lr,
    is_quadratic,
    momentum_limit,
    optimal_settings,
    phase_diagram,
    predicted_rate,
    quadratic_eigenvalues,
    stability,
)

RAVINE_EIGENVALUES = (0.1, 10.0)  # 0.05 x^2 + 5 y^2: the Hessian is diag(0.1, 10)


def _rosenbrock_eigen(x, y):
    """Closed-form eigenvalues (ascending) of [[1200x^2 - 400y + 2, -400x], [-400x, 200]]."""
    a, b, c = 1200 * x**2 - 400 * y + 2, -400 * x, 200.0
    mid, half = (a + c) / 2, np.sqrt(((a - c) / 2) ** 2 + b**2)
    return np.stack([mid - half, mid + half], axis=-1), np.array([[a, b], [b, c]]) if np.ndim(x) == 0 else None


# -- curvature ------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", [(-1.2, 1.0), (0.5, 0.2), (1.0, 1.0), (0.0, 1.0), (1.7, -0.6)])
def test_rosenbrock_eigenvalues_equal_the_closed_form(point):
    c = curvature_at(get("rosenbrock"), point)
    expected, h = _rosenbrock_eigen(*point)
    np.testing.assert_allclose(c.eigenvalues, expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(c.hessian, h, rtol=1e-13)
    for i in range(2):
        v = c.eigenvectors[:, i]
        assert np.linalg.norm(v) == pytest.approx(1.0, rel=1e-12)
        np.testing.assert_allclose(h @ v, expected[i] * v, atol=1e-9 * abs(expected).max())
    lo, hi = expected
    assert c.indefinite == (lo < 0 < hi)
    assert c.condition == pytest.approx(max(abs(lo), abs(hi)) / min(abs(lo), abs(hi)), rel=1e-10)


def test_batched_points_give_the_closed_form_everywhere():
    rng = np.random.default_rng(3)
    pts = rng.uniform(-2, 2, (4, 5, 2))
    c = curvature_at(get("rosenbrock"), pts)
    expected, _ = _rosenbrock_eigen(pts[..., 0], pts[..., 1])
    assert c.eigenvalues.shape == (4, 5, 2) and c.eigenvectors.shape == (4, 5, 2, 2) and c.condition.shape == (4, 5)
    np.testing.assert_allclose(c.eigenvalues, expected, rtol=1e-10, atol=1e-8)
    assert c.note.shape == (4, 5) and all(isinstance(n, str) for n in c.note.ravel())


def test_saddle_flat_direction_and_undefined_points():
    saddle = curvature_at(get("saddle"), (0.3, -0.2))  # x^2 - y^2: curvatures -2 and 2
    np.testing.assert_allclose(saddle.eigenvalues, [-2.0, 2.0])
    assert saddle.indefinite and saddle.condition == pytest.approx(1.0) and "saddle" in saddle.note
    trough = curvature_at(surfaces.from_formula("x^2 + 0y"), (0.4, 1.0))
    assert trough.condition == np.inf and not trough.indefinite and "flat" in trough.note
    bowl = curvature_at(get("ravine"), (1.0, 1.0))
    assert bowl.condition == pytest.approx(100.0) and "bowl" in bowl.note
    root = curvature_at(surfaces.from_formula("sqrt(x) + y^2"), np.array([[-1.0, 0.0], [1.0, 0.0]]))
    assert np.isnan(root.eigenvalues[0]).all() and np.isnan(root.condition[0])
    np.testing.assert_allclose(root.eigenvalues[1], [-0.25, 2.0])  # d2/dx2 sqrt(x) = -x^(-3/2) / 4


# -- stability ------------------------------------------------------------------------------------


def _diverges(name, start=(-9.0, 1.5), steps=400, **hp):
    """Return True when a real run on the ravine ends farther from the minimum than it started."""
    tr = trace(get("ravine"), optim.make(name, **hp), start, steps)
    return tr.diverged_at is not None or np.linalg.norm(tr.path[-1]) > np.linalg.norm(start)


def test_stability_words_and_numbers():
    s = stability("sgd", {"lr": 0.24}, 10.0)
    assert (s.number, s.limit, s.stable) == (pytest.approx(2.4), 2.0, False)
    assert s.sentence == "lr x curvature = 2.4 > 2: this step overshoots"
    s = stability("sgd", {"lr": 0.1}, 10.0)
    assert s.stable and s.sentence == "lr x curvature = 1 < 2: stable"
    s = stability("momentum", {"lr": 0.5, "beta": 0.9}, 10.0)
    assert s.number == pytest.approx(0.5) and s.limit == pytest.approx(3.8) and s.stable
    hb = stability("momentum", {"lr": 0.05, "beta": 0.9}, 10.0, form="heavy_ball")
    assert hb.number == pytest.approx(s.number) and hb.limit == pytest.approx(s.limit)
    assert stability("sgd", {"lr": 1.0}, -2.0).stable  # no bowl to overshoot
    for name in ("adam", "rmsprop", "adagrad", "adamw", "lion"):
        a = stability(name, {"lr": 0.1}, 10.0)
        assert a.number is None and a.limit is None and "no" in a.sentence and "limit" in a.sentence
    with pytest.raises(CurvatureError):
        stability("newton", {"lr": 0.1}, 1.0)
    with pytest.raises(CurvatureError):
        stability("momentum", {"lr": 0.1, "beta": 0.5}, 1.0, form="nope")


@pytest.mark.parametrize("name,hp", [
    ("sgd", {}),
    ("momentum", {"beta": 0.5}),
    ("momentum", {"beta": 0.9}),
    ("momentum", {"beta": 0.8, "nesterov": True}),
])
def test_stability_verdict_matches_a_real_run_on_the_ravine(name, hp):
    lam = RAVINE_EIGENVALUES[1]
    # the learning rate that puts the stability number exactly on the limit
    edge = 2.0 / lam if name == "sgd" else float(momentum_limit(hp["beta"], "ema", hp.get("nesterov", False))) / lam
    for factor, stable in ((0.97, True), (1.03, False)):
        s = stability(name, {"lr": edge * factor, **hp}, lam)
        assert s.stable is stable
        assert _diverges(name, lr=edge * factor, **hp) is not stable


def test_effective_lr_is_the_per_axis_rate():
    np.testing.assert_allclose(effective_lr(0.1, np.array([4.0, 0.01]), 1e-8), [0.1 / (2 + 1e-8), 0.1 / (0.1 + 1e-8)])


# -- quadratics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bowl", "ravine", "booth", "matyas", "saddle", "line_fit"])
def test_quadratic_surfaces_are_recognised(name):
    assert is_quadratic(get(name))


@pytest.mark.parametrize("formula", ["x^2 y^2", "x^3 + y^2", "exp(x) + y^2", "(x^2 - 1)^2 + y^2"])
def test_non_quadratics_are_not(formula):
    assert not is_quadratic(surfaces.from_formula(formula))


def test_quadratic_eigenvalues():
    np.testing.assert_allclose(quadratic_eigenvalues(get("ravine")), RAVINE_EIGENVALUES)
    # Matyas 0.26(x^2 + y^2) - 0.48xy: Hessian [[0.52, -0.48], [-0.48, 0.52]], eigenvalues 0.04 and 1
    np.testing.assert_allclose(quadratic_eigenvalues(get("matyas")), [0.04, 1.0], atol=1e-14)
    with pytest.raises(CurvatureError):
        quadratic_eigenvalues(get("rosenbrock"))


def _iteration_matrix(kind, lr, beta, lam, form, nesterov):
    """The map (p, v) -> (p', v') of one step on f = lam p^2 / 2, written out from each update rule."""
    if kind == "sgd":
        return np.array([[1 - lr * lam, 0.0], [0.0, 0.0]])
    c = 1 - beta if form == "ema" else 1.0  # ema: v' = beta v + (1 - beta) g; heavy ball: v' = beta v + g
    # v' = beta v + c lam p
    if not nesterov:  # p' = p - lr v'
        return np.array([[1 - lr * c * lam, -lr * beta], [c * lam, beta]])
    # p' = p - lr (beta v' + c g)
    return np.array([[1 - lr * c * lam * (1 + beta), -lr * beta * beta], [c * lam, beta]])


def test_predicted_rate_is_the_spectral_radius_of_the_written_out_iteration():
    rng = np.random.default_rng(0)
    for _ in range(300):
        kind = rng.choice(["sgd", "momentum"])
        form = rng.choice(["ema", "heavy_ball"])
        nesterov = bool(rng.integers(2))
        lr, beta = 10 ** rng.uniform(-3, 0.5), rng.uniform(0, 0.99)
        lams = 10 ** rng.uniform(-2, 1.5, 3)
        expected = max(np.abs(np.linalg.eigvals(_iteration_matrix(kind, lr, beta, lam, form, nesterov))).max()
                       for lam in lams)
        assert predicted_rate(kind, lr, beta, lams, form, nesterov) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_predicted_rate_broadcasts_over_settings():
    lrs, betas = np.array([0.1, 0.2, 0.3]), np.array([[0.0], [0.5]])
    r = predicted_rate("momentum", lrs, betas, RAVINE_EIGENVALUES)
    assert r.shape == (2, 3) and predicted_rate("sgd", lrs, betas, RAVINE_EIGENVALUES).shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert r[i, j] == predicted_rate("momentum", lrs[j], betas[i, 0], RAVINE_EIGENVALUES)


def _late_ratio(path, lo, hi):
    """Return the ratios of consecutive distances to the minimum (0, 0) over steps lo..hi of a path."""
    d = np.linalg.norm(path, axis=-1)
    return d[lo + 1:hi + 1] / d[lo:hi]


@pytest.mark.parametrize("name,hp", [
    ("sgd", {"lr": 0.15}),
    ("sgd", {"lr": 0.19}),
    ("momentum", {"lr": 0.2, "beta": 0.5}),
    ("momentum", {"lr": 0.1, "beta": 0.3}),
    ("momentum", {"lr": 0.2, "beta": 0.5, "nesterov": True}),
])
def test_predicted_rate_equals_the_observed_rate_on_the_ravine(name, hp):
    # settings whose slowest component is a real root, so the distance itself shrinks by the rate each step
    tr = trace(get("ravine"), optim.make(name, **hp), get("ravine").start, 400)
    kind = "sgd" if name == "sgd" else "momentum"
    rate = predicted_rate(kind, hp["lr"], hp.get("beta", 0.0), quadratic_eigenvalues(get("ravine")),
                          "ema", hp.get("nesterov", False))
    np.testing.assert_allclose(_late_ratio(tr.path, 300, 350), rate, atol=1e-6)


def test_swinging_momentum_rate_is_observed_through_the_dominant_mode():
    # both ravine modes have complex roots of modulus sqrt(beta) here; along one eigen-direction the error is
    # c z^t + conj(c z^t), and x_{t+1} x_{t-1} - x_t^2 shrinks by exactly |z|^2 per step
    hp = {"lr": 0.5, "beta": 0.9}
    tr = trace(get("ravine"), optim.make("momentum", **hp), get("ravine").start, 300)
    rate = predicted_rate("momentum", hp["lr"], hp["beta"], RAVINE_EIGENVALUES)
    for axis in (0, 1):
        x = tr.path[:120, axis]
        hankel = x[2:] * x[:-2] - x[1:-1] ** 2
        np.testing.assert_allclose(np.sqrt(hankel[51:101] / hankel[50:100]), rate, atol=1e-6)
    assert phase_diagram(RAVINE_EIGENVALUES, [hp["lr"]], [hp["beta"]]).region[0, 0] == OSCILLATES


def _heavy_ball(grad, p0, lr, beta, steps):
    """PyTorch's momentum written out: v = beta v + g, p -= lr v."""
    p, v = np.array(p0, dtype=float), np.zeros(2)
    out = [p.copy()]
    for _ in range(steps):
        v = beta * v + grad(p)
        p = p - lr * v
        out.append(p.copy())
    return np.array(out)


def _ravine_grad(p):
    return np.array([0.1 * p[0], 10.0 * p[1]])


@pytest.mark.parametrize("lr,beta", [(0.1, 0.5), (0.05, 0.3), (0.02, 0.9)])
def test_heavy_ball_form_is_ema_with_lr_over_one_minus_beta(lr, beta):
    eig = RAVINE_EIGENVALUES
    hb = _heavy_ball(_ravine_grad, get("ravine").start, lr, beta, 400)
    ema = trace(get("ravine"), optim.make("momentum", lr=lr / (1 - beta), beta=beta), get("ravine").start, 400)
    np.testing.assert_allclose(ema.path, hb, rtol=1e-9, atol=1e-12)
    r_hb = predicted_rate("momentum", lr, beta, eig, "heavy_ball")
    assert r_hb == pytest.approx(predicted_rate("momentum", lr / (1 - beta), beta, eig, "ema"), rel=1e-12)
    roots = np.abs(np.roots([1, -(1 + beta - lr * eig[0]), beta]))
    if roots.min() < roots.max() * 0.99:  # a real dominant root: the distance shrinks by the rate each step
        np.testing.assert_allclose(_late_ratio(hb, 300, 350), r_hb, atol=1e-6)


def _final_distance(name, steps, **hp):
    tr = trace(get("ravine"), optim.make(name, **hp), get("ravine").start, steps)
    return np.inf if tr.diverged_at is not None else float(np.linalg.norm(tr.path[-1]))


def test_optimal_gradient_descent_beats_nearby_rates():
    best = optimal_settings(quadratic_eigenvalues(get("ravine")))
    assert best.gd_rate == pytest.approx(predicted_rate("sgd", best.gd_lr, 0, RAVINE_EIGENVALUES), rel=1e-12)
    steps = 300
    d_best = _final_distance("sgd", steps, lr=best.gd_lr)
    for factor in (0.9, 0.95, 0.98, 1.003, 1.006):
        lr = best.gd_lr * factor
        assert predicted_rate("sgd", lr, 0, RAVINE_EIGENVALUES) > best.gd_rate
        assert _final_distance("sgd", steps, lr=lr) > d_best


def test_optimal_momentum_beats_nearby_settings():
    best = optimal_settings(quadratic_eigenvalues(get("ravine")))
    lr, beta = best.momentum_lr_ema, best.momentum_beta
    for form, step in (("ema", lr), ("heavy_ball", best.momentum_lr_heavy_ball)):
        assert predicted_rate("momentum", step, beta, RAVINE_EIGENVALUES, form) == pytest.approx(
            best.momentum_rate, rel=1e-6)
    assert best.momentum_lr("heavy_ball") == pytest.approx(lr * (1 - beta))
    steps = 400
    d_best = _final_distance("momentum", steps, lr=lr, beta=beta)
    # each neighbour moves lr, beta or both by a few percent; in heavy-ball terms too (lr (1 - beta) fixed or not)
    for f_lr, f_beta in ((0.95, 1.0), (1.05, 1.0), (1.0, 0.95), (1.0, 1.03), (0.95, 0.95)):
        b = beta * f_beta
        assert predicted_rate("momentum", lr * f_lr, b, RAVINE_EIGENVALUES) > best.momentum_rate
        assert _final_distance("momentum", steps, lr=lr * f_lr, beta=b) > d_best
    # and momentum at its best is far faster than gradient descent at its best
    assert d_best < 1e-6 * _final_distance("sgd", steps, lr=best.gd_lr)


def test_optimal_settings_need_a_bowl():
    with pytest.raises(CurvatureError):
        optimal_settings([-2.0, 2.0])
    with pytest.raises(CurvatureError):
        optimal_settings([0.0, 2.0])
    round_bowl = optimal_settings([2.0, 2.0])  # k = 1: one step of lr = 1/lambda lands on the minimum
    assert round_bowl.gd_lr == pytest.approx(0.5) and round_bowl.gd_rate == 0 and round_bowl.momentum_beta == 0


# -- phase diagram --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["ema", "heavy_ball"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_phase_boundary_is_the_stability_limit(form, nesterov):
    lam_max = RAVINE_EIGENVALUES[1]
    betas = np.linspace(0.0, 0.95, 20)
    for beta in betas:
        # the boundary curve: lr lambda_max = 2 (1 + beta) (heavy ball), lr (1 - beta) lambda_max = 2 (1 + beta) (ema)
        h_edge = 2 * (1 + beta) / ((1 + 2 * beta) if nesterov else 1)
        edge = h_edge / lam_max / ((1 - beta) if form == "ema" else 1)
        pd = phase_diagram(RAVINE_EIGENVALUES, [edge * 0.999, edge * 1.001], [beta], form, nesterov)
        assert pd.region[0, 0] != DIVERGES and pd.rate[0, 0] < 1
        assert pd.region[0, 1] == DIVERGES and pd.rate[0, 1] > 1


def test_phase_diagram_rejects_settings_without_meaning():
    for lrs, betas in (([0.0, 0.1], [0.5]), ([0.1], [1.0]), ([0.1], [-0.1]), ([[0.1]], [0.5])):
        with pytest.raises(CurvatureError):
            phase_diagram(RAVINE_EIGENVALUES, lrs, betas)


def test_phase_diagram_grid_shape():
    lrs, betas = np.geomspace(0.01, 5, 30), np.linspace(0, 0.95, 12)
    pd = phase_diagram(RAVINE_EIGENVALUES, lrs, betas)
    assert pd.rate.shape == pd.region.shape == (12, 30)
    np.testing.assert_allclose(pd.rate[4, 7], predicted_rate("momentum", lrs[7], betas[4], RAVINE_EIGENVALUES))
    assert {MONOTONE, OSCILLATES, DIVERGES} == set(np.unique(pd.region))


@pytest.mark.parametrize("lr,beta,region", [
    (0.03, 0.0, MONOTONE),
    (0.0855, 0.518, MONOTONE),
    (0.727, 0.69, MONOTONE),  # the steep mode swings (|z| = 0.83) under the slow real root 0.905
    (0.5, 0.9, OSCILLATES),  # complex dominant roots, a swing every ~126 steps
    (0.199, 0.0, OSCILLATES),  # a negative dominant root 1 - 0.199 x 10: a flip every step
])
def test_phase_diagram_labels_match_runs(lr, beta, region):
    assert phase_diagram(RAVINE_EIGENVALUES, [lr], [beta]).region[0, 0] == region
    # the coordinate that dominates late in a real run keeps its sign when monotone, changes it when swinging
    tr = trace(get("ravine"), optim.make("momentum", lr=lr, beta=beta), get("ravine").start, 600)
    late = tr.path[300:600]
    slow = late[:, np.argmax(np.abs(late[-1]))]
    assert (np.sign(slow) != np.sign(slow[0])).any() == (region == OSCILLATES)
    assert np.linalg.norm(tr.path[-1]) < np.linalg.norm(tr.path[0])


# -- recorded state -------------------------------------------------------------------------------


def record_states(surface, optimizer, start, steps, **kw):
    """The internals trace keeps in its own loop when asked (``record=True``)."""
    return trace(surface, optimizer, start, steps, record=True, **kw).internals


def _adam_by_hand(grad, p0, lr, b1, b2, eps, steps):
    p, m, s = np.array(p0, dtype=float), np.zeros(2), np.zeros(2)
    rows = {"path": [p.copy()], "m": [m.copy()], "s": [s.copy()], "m_hat": [np.full(2, np.nan)],
            "s_hat": [np.full(2, np.nan)], "grad": []}
    for t in range(1, steps + 1):
        g = grad(p)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        mh, sh = m / (1 - b1**t), s / (1 - b2**t)
        p = p - lr * mh / (np.sqrt(sh) + eps)
        for k, v in (("path", p), ("m", m), ("s", s), ("m_hat", mh), ("s_hat", sh), ("grad", g)):
            rows[k].append(v.copy())
    return {k: np.array(v) for k, v in rows.items()}


def test_recorded_adam_state_equals_a_hand_computed_run():
    surface = surfaces.from_formula("x^2 + 3y^2 + x y")
    grad = lambda p: np.array([2 * p[0] + p[1], 6 * p[1] + p[0]])  # noqa: E731
    hp = {"lr": 0.1, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3}
    rec = record_states(surface, optim.make("adam", **hp), (1.5, -2.0), 10)
    ref = _adam_by_hand(grad, (1.5, -2.0), hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], 10)
    assert set(rec.states) == {"m", "s"} and set(rec.derived) == {"m_hat", "s_hat", "effective_lr"}
    np.testing.assert_allclose(rec.path, ref["path"], rtol=1e-12)
    np.testing.assert_allclose(rec.grad, ref["grad"], rtol=1e-12)
    for k in ("m", "s"):
        np.testing.assert_allclose(rec.states[k], ref[k], rtol=1e-12)
    for k in ("m_hat", "s_hat"):
        np.testing.assert_allclose(rec.derived[k], ref[k], rtol=1e-12)
    # the step actually taken is the effective rate per axis times m_hat, and it joins consecutive points
    np.testing.assert_allclose(rec.step, rec.derived["effective_lr"][1:] * ref["m_hat"][1:], rtol=1e-12)
    np.testing.assert_allclose(rec.path[:-1] - rec.path[1:], rec.step, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(rec.lr, np.full(10, hp["lr"]))


def test_recorded_rmsprop_and_momentum_state_by_hand():
    s_grad = lambda p: np.array([0.1 * p[0], 10.0 * p[1]])  # noqa: E731
    rec = record_states(get("ravine"), optim.make("rmsprop", lr=0.05, beta=0.9, eps=1e-4), (-9.0, 1.5), 8)
    p, s = np.array([-9.0, 1.5]), np.zeros(2)
    for t in range(1, 9):
        g = s_grad(p)
        s = 0.9 * s + 0.1 * g * g
        np.testing.assert_allclose(rec.states["s"][t], s, rtol=1e-12)
        np.testing.assert_allclose(rec.derived["effective_lr"][t], 0.05 / (np.sqrt(s) + 1e-4), rtol=1e-12)
        p = p - 0.05 * g / (np.sqrt(s) + 1e-4)
    np.testing.assert_allclose(rec.path[-1], p, rtol=1e-12)
    rec = record_states(get("ravine"), optim.make("momentum", lr=0.1, beta=0.7), (-9.0, 1.5), 8)
    p, v = np.array([-9.0, 1.5]), np.zeros(2)
    for t in range(1, 9):
        v = 0.7 * v + 0.3 * s_grad(p)
        p = p - 0.1 * v
        np.testing.assert_allclose(rec.states["v"][t], v, rtol=1e-12)
    assert rec.derived == {} and set(rec.states) == {"v"}


@pytest.mark.parametrize("name,hp", [
    ("sgd", {"lr": 0.001}),
    ("momentum", {"lr": 0.002, "beta": 0.9, "nesterov": True}),
    ("rmsprop", {"lr": 0.01}),
    ("adam", {"lr": 0.05, "schedule": "cosine"}),
    ("adagrad", {"lr": 0.3}),
    ("adamw", {"lr": 0.05}),
    ("lion", {"lr": 0.01, "weight_decay": 0.1}),
])
def test_recorded_path_is_the_trace_path_exactly(name, hp):
    surface = get("rosenbrock")
    opt = optim.make(name, **hp)
    rec = record_states(surface, opt, surface.start, 300, noise=0.5, seed=4)
    tr = trace(surface, opt, surface.start, 300, noise=0.5, seed=4)
    np.testing.assert_array_equal(rec.path, tr.path)
    np.testing.assert_array_equal(rec.lr, tr.lr)
    assert rec.diverged_at == tr.diverged_at
    assert set(rec.states) == set(opt.state_names)
    # the step recorded joins consecutive points of the path, and the recorded gradient is the surface's plus noise
    k = len(rec.step) if tr.diverged_at is None else tr.diverged_at - 1
    np.testing.assert_allclose(rec.path[:k] - rec.path[1:k + 1], rec.step[:k], rtol=1e-9, atol=1e-12)
    noise = np.random.default_rng(4).normal(0.0, 0.5, (300, 2))
    np.testing.assert_allclose(rec.grad[:k], surface.grad(rec.path[:k]) + noise[:k], rtol=1e-9, atol=1e-9)


def test_recorded_divergence_and_array_path_match_trace():
    opt = optim.make("sgd", lr=0.3)  # lr x 10 = 3 > 2 on the ravine
    rec = record_states(get("ravine"), opt, (-9.0, 1.5), 100)
    tr = trace(get("ravine"), opt, (-9.0, 1.5), 100)
    assert rec.diverged_at == tr.diverged_at is not None
    np.testing.assert_array_equal(rec.path, tr.path)
    opt = optim.make("momentum", lr=100.0, beta=0.5)  # leaves the window within a few steps
    rec = record_states(get("ravine"), opt, (-9.0, 1.5), 50)
    d = rec.diverged_at
    assert d == trace(get("ravine"), opt, (-9.0, 1.5), 50).diverged_at and 1 < d < 10
    assert np.isnan(rec.states["v"][d:]).all() and np.isfinite(rec.states["v"][:d]).all()
    assert np.isnan(rec.step[rec.diverged_at - 1:]).all() and np.isfinite(rec.step[:rec.diverged_at - 1]).all()
    # a data surface has no float gradient, so both run on arrays
    data = get("line_fit")
    opt = optim.make("adam", lr=0.1)
    rec = record_states(data, opt, data.start, 50, noise=0.1, seed=2)
    tr = trace(data, opt, data.start, 50, noise=0.1, seed=2)
    np.testing.assert_array_equal(rec.path, tr.path)
    m_hat = rec.derived["m_hat"][1:]
    np.testing.assert_allclose(rec.step, rec.derived["effective_lr"][1:] * m_hat, rtol=1e-12)


def test_record_states_rejects_bad_requests():
    with pytest.raises(surfaces.TraceError):
        record_states(get("bowl"), optim.make("sgd"), [(0, 0), (1, 1)], 10)
    with pytest.raises(surfaces.TraceError):
        record_states(get("bowl"), optim.make("sgd"), (0, 0), -1)
