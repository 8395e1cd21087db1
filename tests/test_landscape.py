"""The network's loss landscape (slices through weight space, paths on them) and its sharpness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surfaces.network.datasets import load
from surfaces.network.landscape import (
    Evaluator,
    filter_normalized_directions,
    flatten,
    make_slice,
    pca_directions,
    project,
    top_eigenvalue,
    unflatten,
)
from surfaces.network.mlp import MLP


@pytest.fixture(scope="module")
def setup():
    data = load("two_moons", n_samples=200)
    net = MLP(2, (16, 16), seed=4, dtype=np.float64)
    return net, data, Evaluator(net, data.X_train, data.y_train), flatten(net.params)


def independent_loss(params, X, y) -> float:
    """Return the mean cross-entropy by a forward pass written out here, from the formula."""
    a = X
    for i in range(0, len(params) - 2, 2):
        a = np.maximum(a @ params[i] + params[i + 1], 0)
    z = (a @ params[-2] + params[-1])[:, 0]
    s = 1 / (1 + np.exp(-z))
    return float(-np.mean(y * np.log(s) + (1 - y) * np.log(1 - s)))


def test_the_slice_at_its_origin_is_the_loss_at_the_initial_weights(setup):
    net, data, ev, w0 = setup
    d1, d2 = filter_normalized_directions(net.params, seed=1)
    path = [w0 + 0.1 * d1, w0 + 0.2 * d1 + 0.1 * d2]
    s = make_slice("random", ev, w0, [("a", "", [0, 1, 2], np.vstack([w0, *path]))], net.params, grid=41)
    j, i = np.argmin(np.abs(s.b)), np.argmin(np.abs(s.a))
    # the grid need not pass through 0 exactly: evaluate the origin through the plane's own formula
    assert s.a[i] == pytest.approx(0, abs=0.1) and s.b[j] == pytest.approx(0, abs=0.1)
    origin_loss = ev.losses(np.array([w0]))[0]
    assert origin_loss == pytest.approx(independent_loss(net.params, data.X_train, data.y_train), rel=1e-12)
    grid_point = w0 + s.a[i] * d1 + s.b[j] * d2
    assert s.loss[j, i] == pytest.approx(independent_loss(unflatten(grid_point, net.params), data.X_train,
                                                          data.y_train), rel=1e-10)


def test_a_grid_through_zero_holds_the_initial_loss_at_its_centre(setup):
    net, data, ev, w0 = setup
    from surfaces.network.landscape import loss_slice

    d1, d2 = filter_normalized_directions(net.params, seed=2)
    a = np.linspace(-1, 1, 41)
    L = loss_slice(ev, w0, d1, d2, a, a)
    assert L[20, 20] == pytest.approx(independent_loss(net.params, data.X_train, data.y_train), rel=1e-12)


def test_a_path_in_the_plane_has_its_own_loss_at_every_projected_point(setup):
    net, data, ev, w0 = setup
    rng = np.random.default_rng(0)
    u = rng.standard_normal(w0.size)
    v = rng.standard_normal(w0.size)
    # a curved path inside span(u, v) through w0
    t = np.linspace(0, 1, 12)[:, None]
    path = w0 + 0.3 * t * u + 0.2 * np.sin(3 * t) * v
    s = make_slice("pca", ev, w0, [("in plane", "", list(range(12)), path)], net.params)
    (p,) = s.paths
    assert p.explained == pytest.approx(1.0, abs=1e-12)
    for w, real, proj in zip(path, p.path_loss, p.plane_loss):
        expected = independent_loss(unflatten(w, net.params), data.X_train, data.y_train)
        assert real == pytest.approx(expected, rel=1e-10) and proj == pytest.approx(expected, rel=1e-9)


def test_the_pca_plane_of_a_path_along_two_known_directions_recovers_them():
    rng = np.random.default_rng(1)
    P = 300
    q, _ = np.linalg.qr(rng.standard_normal((P, 2)))
    e1, e2 = q[:, 0], q[:, 1]
    origin = rng.standard_normal(P)
    t = np.linspace(0, 1, 40)
    # most of the movement along e1, less along e2 (uncorrelated with it about the origin), none elsewhere
    c1 = 5 * t
    c2 = np.sin(4 * t)
    c2 -= c1 * (c1 @ c2) / (c1 @ c1)
    path = origin + np.outer(c1, e1) + np.outer(c2, e2)
    d1, d2, share = pca_directions([path], origin)
    assert share == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(np.outer(d1, d1) + np.outer(d2, d2), np.outer(e1, e1) + np.outer(e2, e2), atol=1e-10)
    assert abs(d1 @ e1) == pytest.approx(1.0, abs=1e-10)
    assert abs(d2 @ e2) == pytest.approx(1.0, abs=1e-10)
    coords, explained = project(path, origin, d1, d2)
    assert explained == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(np.abs(coords[:, 0]), 5 * t, atol=1e-9)


def test_projection_reports_the_share_of_movement_outside_the_plane():
    origin = np.zeros(3)
    path = np.array([[0, 0, 0], [1, 0, 1], [2, 0, 2]], dtype=float)
    coords, explained = project(path, origin, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    assert explained == pytest.approx(0.5)  # half of every step's squared length is along the third axis
    np.testing.assert_allclose(coords, [[0, 0], [1, 0], [2, 0]])


def test_filter_normalised_directions_match_each_units_weight_norm():
    net = MLP(5, (7, 3), seed=0)
    d1, _ = filter_normalized_directions(net.params, seed=0)
    for p, d in zip(net.params, unflatten(d1, net.params)):
        if p.ndim == 2:
            np.testing.assert_allclose(np.linalg.norm(d, axis=0), np.linalg.norm(p, axis=0), rtol=1e-6)
        else:
            assert not d.any()  # biases: no direction, as in Li et al.


# -- sharpness -----------------------------------------------------------------------------

def test_power_iteration_finds_the_closed_form_hessian_of_a_linear_least_squares_model():
    # One linear layer with squared loss L(w) = |Xw - y|^2 / (2m): H = X^T X / m exactly.
    rng = np.random.default_rng(0)
    m, n = 60, 12
    X = rng.standard_normal((m, n)) * np.linspace(0.3, 3, n)
    y = rng.standard_normal(m)

    def grad(w):
        return X.T @ (X @ w - y) / m

    lam, v = top_eigenvalue(grad, rng.standard_normal(n), iters=2000, tol=1e-14, eps=0.5)
    exact = np.linalg.eigvalsh(X.T @ X / m)[-1]
    assert lam == pytest.approx(exact, rel=1e-6)
    H = X.T @ X / m
    np.testing.assert_allclose(H @ v, exact * v, atol=1e-6 * exact)


def test_sharpness_of_the_network_matches_the_largest_eigenvalue_of_its_finite_difference_hessian():
    data = load("xor", n_samples=60)
    net = MLP(2, (3,), seed=2, dtype=np.float64)
    ev = Evaluator(net, data.X_train, data.y_train)
    w = flatten(net.params)
    # the full Hessian, column by column, from central differences of the gradient (independent of power iteration)
    h = 1e-5
    H = np.stack([(ev.grad(w + h * e) - ev.grad(w - h * e)) / (2 * h) for e in np.eye(w.size)], axis=1)
    H = (H + H.T) / 2
    eig = np.linalg.eigvalsh(H)
    top = eig[np.argmax(np.abs(eig))]
    lam, _ = top_eigenvalue(ev.grad, w, iters=3000, tol=1e-12, eps=1e-5)
    assert lam == pytest.approx(top, rel=1e-4)


def test_warm_start_from_the_eigenvector_converges_at_once():
    A = np.diag([5.0, 1.0, 0.5])
    lam, v = top_eigenvalue(lambda w: A @ w, np.zeros(3), v0=np.array([1.0, 0, 0]), iters=1)
    assert lam == pytest.approx(5.0) and abs(v[0]) == pytest.approx(1.0)
    assert math.isfinite(lam)
