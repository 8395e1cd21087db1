"""Data-defined surfaces: full loss, batch gradients and minima against direct NumPy computations."""

import numpy as np
import pytest

from surfaces import CATALOGUE, DataSurface, SurfaceError, get


def _line_loss(w, b, d, idx=slice(None)):
    x, y = d["xi"][idx], d["yi"][idx]
    return np.mean((np.multiply.outer(w, x) + np.asarray(b)[..., None] - y) ** 2, axis=-1)


def _line_grad(w, b, d, idx):
    x, y = d["xi"][idx], d["yi"][idx]
    r = w * x + b - y
    return np.array([np.mean(2 * r * x), np.mean(2 * r)])


def _logistic_loss(w1, w2, d):
    z = np.multiply.outer(w1, d["x1i"]) + np.multiply.outer(w2, d["x2i"])
    return np.mean(np.log1p(np.exp(-d["yi"] * z)), axis=-1)


def _logistic_grad(w1, w2, d, idx):
    x1, x2, y = d["x1i"][idx], d["x2i"][idx], d["yi"][idx]
    s = 1 / (1 + np.exp(y * (w1 * x1 + w2 * x2)))  # sigmoid(-y z)
    return np.array([np.mean(-y * x1 * s), np.mean(-y * x2 * s)])


def test_data_surfaces_are_flagged_in_the_catalogue():
    for name in ("line_fit", "logistic"):
        entry = CATALOGUE[name]
        s = get(name)
        assert entry.stochastic and s.stochastic
        assert isinstance(s, DataSurface)
        assert s.n_examples == entry.n_examples == len(next(iter(s.columns.values())))
        assert s.float_grad is None


def test_line_fit_full_loss_is_the_mean_squared_error():
    s = get("line_fit")
    assert s.axis_labels == ("w", "b")
    pts = np.array([[0.0, 0.0], [1.5, -2.0], [3.0, 1.0]])
    np.testing.assert_allclose(s.loss(pts), _line_loss(pts[:, 0], pts[:, 1], s.columns), rtol=1e-13)
    grid = np.random.default_rng(0).uniform(-2, 2, (4, 5, 2))
    np.testing.assert_allclose(s.loss(grid), _line_loss(grid[..., 0], grid[..., 1], s.columns), rtol=1e-13)


def test_line_fit_minimum_is_the_least_squares_solution():
    s = get("line_fit")
    d = s.columns
    a = np.column_stack([d["xi"], np.ones(s.n_examples)])
    w, b = np.linalg.lstsq(a, d["yi"], rcond=None)[0]
    assert s.minima[0] == pytest.approx((w, b), abs=1e-10)
    assert s.min_value == pytest.approx(_line_loss(w, b, d), rel=1e-12)


def test_batch_gradients_are_means_over_the_batch():
    idx = np.array([3, 7, 0, 11, 25])
    for name, grad in (("line_fit", _line_grad), ("logistic", _logistic_grad)):
        s = get(name)
        p = np.array([0.7, -0.4])
        np.testing.assert_allclose(s.grad(p, idx), grad(p[0], p[1], s.columns, idx), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s.grad(p), grad(p[0], p[1], s.columns, slice(None)), rtol=1e-12, atol=1e-14)
        batch_of_points = np.array([p, p + 1])
        assert s.grad(batch_of_points, idx).shape == (2, 2)


def test_logistic_full_loss_and_minimum():
    s = get("logistic")
    d = s.columns
    assert set(np.unique(d["yi"])) == {-1.0, 1.0}
    pts = np.array([[0.0, 0.0], [1.0, -1.0], [-1.5, 1.5]])
    np.testing.assert_allclose(s.loss(pts), _logistic_loss(pts[:, 0], pts[:, 1], d), rtol=1e-13)
    assert s.loss(np.zeros(2)) == pytest.approx(np.log(2))
    w = np.array(s.minima[0])
    h = 1e-6
    fd = [(_logistic_loss(*(w + e), d) - _logistic_loss(*(w - e), d)) / (2 * h) for e in np.eye(2) * h]
    np.testing.assert_allclose(fd, 0, atol=1e-8)
    assert s.min_value == pytest.approx(_logistic_loss(w[0], w[1], d), rel=1e-12)


def test_data_hessian_matches_central_differences():
    for name in ("line_fit", "logistic"):
        s = get(name)
        p = np.array([0.3, 0.8])
        h = 1e-6
        fd = np.stack([(s.grad(p + e) - s.grad(p - e)) / (2 * h) for e in np.eye(2) * h], axis=-1)
        np.testing.assert_allclose(s.hessian(p), fd, rtol=1e-6, atol=1e-8)


def test_empty_batch_is_refused():
    with pytest.raises(SurfaceError):
        get("line_fit").grad(np.zeros(2), np.array([], dtype=int))


def test_batch_indices_on_an_analytic_surface_are_refused():
    with pytest.raises(SurfaceError, match="not a mean over examples"):
        get("bowl").grad(np.zeros(2), np.array([0]))
