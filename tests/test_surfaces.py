"""Catalogue surfaces: derivatives against central differences, minima against published values, shapes."""

import pickle

import numpy as np
import pytest

import surfaces
from surfaces import CATALOGUE, SurfaceError, get

NAMES = list(CATALOGUE)
ANALYTIC = [n for n in NAMES if not CATALOGUE[n].stochastic]

# Published global minima (location, value): Jamil & Yang 2013; Surjanovic & Bingham, VLSE.
PUBLISHED = {
    "rosenbrock": ([(1, 1)], 0.0),
    "himmelblau": ([(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)], 0.0),
    "beale": ([(3, 0.5)], 0.0),
    "booth": ([(1, 3)], 0.0),
    "rastrigin": ([(0, 0)], 0.0),
    "ackley": ([(0, 0)], 0.0),
    "goldstein_price": ([(0, -1)], 3.0),
    "six_hump_camel": ([(0.0898, -0.7126), (-0.0898, 0.7126)], -1.0316),
    "matyas": ([(0, 0)], 0.0),
    "bowl": ([(0, 0)], 0.0),
    "ravine": ([(0, 0)], 0.0),
    "plateau": ([(0, 0)], 0.0),
}


def _random_points(surface, n=12, seed=0):
    (x0, x1), (y0, y1) = surface.window
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])


def _central_grad(f, pts, h):
    e = np.array([[h, 0.0], [0.0, h]])
    return np.stack([(f(pts + e[i]) - f(pts - e[i])) / (2 * h) for i in range(2)], axis=-1)


def test_catalogue_has_the_required_surfaces():
    required = {"rosenbrock", "himmelblau", "beale", "booth", "rastrigin", "ackley", "goldstein_price",
                "six_hump_camel", "matyas", "saddle", "ravine", "plateau"}
    assert required <= set(CATALOGUE)
    assert len(CATALOGUE) >= 12
    assert sum(e.stochastic for e in CATALOGUE.values()) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete_and_start_inside_window(name):
    s = get(name)
    assert s.name == name and s.title and s.latex
    assert s.lesson and "\n" not in s.lesson
    (x0, x1), (y0, y1) = s.window
    assert x0 < s.start[0] < x1 and y0 < s.start[1] < y1
    for m in s.minima:
        assert x0 <= m[0] <= x1 and y0 <= m[1] <= y1
    assert np.isfinite(s.loss(np.array(s.start)))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    s = get(name)
    pts = _random_points(s)
    h = 1e-6 * max(1.0, np.abs(np.array(s.window)).max())
    fd = _central_grad(s.loss, pts, h)
    g = s.grad(pts)
    scale = 1.0 + np.abs(s.loss(pts))[:, None] + np.abs(g)
    assert np.all(np.abs(g - fd) <= 1e-6 * scale), (g, fd)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_central_differences_of_the_gradient(name):
    s = get(name)
    pts = _random_points(s, seed=1)
    h = 1e-6 * max(1.0, np.abs(np.array(s.window)).max())
    e = np.array([[h, 0.0], [0.0, h]])
    fd = np.stack([(s.grad(pts + e[j]) - s.grad(pts - e[j])) / (2 * h) for j in range(2)], axis=-1)
    hess = s.hessian(pts)
    scale = 1.0 + np.abs(s.grad(pts))[..., None] + np.abs(hess)
    assert np.all(np.abs(hess - fd) <= 1e-5 * scale)
    np.testing.assert_allclose(hess[:, 0, 1], hess[:, 1, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_minima_are_the_published_ones(name):
    s = get(name)
    where, value = PUBLISHED[name]
    assert len(s.minima) == len(where)
    for published in where:
        nearest = min(s.minima, key=lambda m: np.hypot(m[0] - published[0], m[1] - published[1]))
        assert nearest == pytest.approx(published, abs=1e-4)
    assert s.min_value == pytest.approx(value, abs=1e-4)
    np.testing.assert_allclose(s.loss(np.array(s.minima)), s.min_value, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_every_minimum_has_zero_gradient_and_is_lowest_around_it(name):
    s = get(name)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = np.column_stack([np.cos(angles), np.sin(angles)])
    for m in s.minima:
        p = np.array(m)
        # Ackley's minimum is the tip of a cone: its gradient there is the subgradient 0
        g = s.grad(p)
        assert np.all(np.abs(g) < 1e-8), g
        for r in (1e-3, 1e-2):
            assert np.all(s.loss(p + r * ring) > s.loss(p))


@pytest.mark.parametrize("name", [n for n in NAMES if get(n).minima])
def test_no_grid_point_is_below_the_declared_global_minimum(name):
    s = get(name)
    _, _, z = s.grid(300)
    assert np.nanmin(z) >= s.min_value - 1e-9


def test_saddle_has_no_minimum():
    s = get("saddle")
    assert s.minima == [] and s.min_value is None
    np.testing.assert_allclose(s.hessian(np.zeros(2)), [[2, 0], [0, -2]])


def test_ravine_is_ill_conditioned():
    eig = np.linalg.eigvalsh(get("ravine").hessian(np.zeros(2)))
    assert eig.max() / eig.min() >= 50


def test_plateau_gradient_vanishes_at_the_start():
    s = get("plateau")
    assert np.abs(s.grad(np.array(s.start))).max() < 1e-3


def test_shapes_follow_the_points():
    s = get("himmelblau")
    pts = np.zeros((3, 4, 2))
    assert s.loss(pts).shape == (3, 4)
    assert s.grad(pts).shape == (3, 4, 2)
    assert s.hessian(pts).shape == (3, 4, 2, 2)
    assert s.loss([1.0, 2.0]).shape == ()
    assert s.grad([1.0, 2.0]).shape == (2,)
    assert s.hessian([1.0, 2.0]).shape == (2, 2)
    with pytest.raises(SurfaceError):
        s.loss(np.zeros((4, 3)))


def test_constant_derivatives_broadcast_to_the_points():
    s = surfaces.from_formula("3x + y^2")
    pts = np.zeros((5, 2))
    np.testing.assert_array_equal(s.grad(pts)[:, 0], np.full(5, 3.0))
    np.testing.assert_array_equal(s.hessian(pts), np.broadcast_to([[0.0, 0.0], [0.0, 2.0]], (5, 2, 2)))


def test_grid_covers_the_window():
    s = get("booth")
    gx, gy, z = s.grid(50)
    assert gx.shape == gy.shape == z.shape == (50, 50)
    assert (gx.min(), gx.max(), gy.min(), gy.max()) == (-10, 10, -10, 10)
    assert z[0, 0] == pytest.approx((-10 + 2 * -10 - 7) ** 2 + (2 * -10 - 10 - 5) ** 2)
    for bad in (1, 5000, 2.5, True):
        with pytest.raises(SurfaceError):
            s.grid(bad)


def test_get_caches_and_rejects_unknown_names():
    assert get("rosenbrock") is get("rosenbrock")
    with pytest.raises(SurfaceError, match="unknown surface"):
        get("nope")


def test_surfaces_pickle_by_recipe():
    assert pickle.loads(pickle.dumps(get("beale"))) is get("beale")
    s = surfaces.from_formula("x^2 + sin(y)")
    t = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(t.loss(np.ones(2)), s.loss(np.ones(2)))


def test_rosenbrock_by_hand():
    s = get("rosenbrock")
    p = np.array([-1.2, 1.0])
    assert s.loss(p) == pytest.approx(24.2)
    np.testing.assert_allclose(s.grad(p), [-215.6, -88.0])
    np.testing.assert_allclose(s.hessian(np.array([1.0, 1.0])), [[802, -400], [-400, 200]])


def test_load_gives_a_catalogue_surface_or_a_formulas():
    assert surfaces.load("bowl") is get("bowl")
    custom = surfaces.load(surfaces.CUSTOM, "x^2 + 3y^2")
    assert float(custom.loss(np.array([1.0, 2.0]))) == pytest.approx(1 + 3 * 4)
    with pytest.raises(SurfaceError, match="unknown surface"):
        surfaces.load("nowhere")
    with pytest.raises(surfaces.FormulaError):
        surfaces.load(surfaces.CUSTOM, "__import__('os')")
