"""Every preset's lesson is a claim: each test runs the preset's race and checks what its caption says.

The numbers a caption states are written once here as constants, checked to
appear in the caption, and compared with the race. Where a closed form exists
(SGD on a quadratic) the race is also compared with it, so a test fails if
either the caption or the race is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

import surfaces
from app import presets
from app.race import run_race


@dataclass(frozen=True)
class Run:
    """One racer of a preset's race: arrays over (seed, step, start)."""

    label: str
    path: np.ndarray  # (n_seeds, steps + 1, n_starts, 2), NaN after divergence
    loss: np.ndarray  # (n_seeds, steps + 1, n_starts)
    diverged_at: list  # per seed, per start: int or None


def race_of(name: str):
    """Return (lesson, window ((x0, x1), (y0, y1)), starts (k, 2), runs) of preset ``name``, run by the app.

    """
    scene = presets.get(name)
    race = run_race(scene)
    window = scene.window if scene.window is not None else tuple(map(tuple, surfaces.get(scene.surface).window))
    runs = [Run(r.label, np.asarray(r.path), np.asarray(r.loss), r.diverged_at) for r in race.runs]
    return scene.lesson, window, np.asarray(race.starts, dtype=float), runs


def says(lesson: str, *phrases: str) -> None:
    """Fail unless the caption states every phrase (the numbers the test then checks)."""
    text = " ".join(lesson.split())
    for phrase in phrases:
        assert phrase in text, f"the caption no longer says {phrase!r}: {text}"


def diagonal(window) -> float:
    (x0, x1), (y0, y1) = window
    return math.hypot(x1 - x0, y1 - y0)


def first_within(path: np.ndarray, point, radius: float) -> int | None:
    """Return the first step whose point lies within ``radius`` of ``point``, or None."""
    d = np.hypot(path[:, 0] - point[0], path[:, 1] - point[1])
    hit = np.flatnonzero(d <= radius)
    return int(hit[0]) if hit.size else None


def crossings(y: np.ndarray, floor: float) -> np.ndarray:
    """Return the steps at which y changes sign, counting only points farther than ``floor`` from 0 (visible swings)."""
    steps = np.flatnonzero(np.abs(y) > floor)
    signs = np.sign(y[steps])
    return steps[1:][signs[1:] != signs[:-1]]


def path_length(path: np.ndarray) -> float:
    return float(np.nansum(np.hypot(*np.diff(path, axis=0).T)))


def directed_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Return the largest distance from a point of path ``a`` to path ``b`` (0 when ``b`` covers ``a``)."""
    d = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    return float(d.min(axis=1).max())


def by_label(runs, prefix: str) -> Run:
    (run,) = [r for r in runs if r.label.startswith(prefix)]
    return run


# -- one test per preset -----------------------------------------------------------

def test_ravine_sgd_zigzags_and_crawls_momentum_swings_less_and_arrives_in_a_third():
    # 0.05x^2 + 5y^2: curvature 0.1 along the valley, 10 across; SGD is stable for lr < 2/10
    lesson, window, starts, runs = race_of("ravine")
    sgd_lr, sgd_crossings, sgd_steps, mom_swings, mom_steps = 0.19, 30, 200, 10, 60
    says(lesson, "lr = 0.19", "limit of 0.2", f"about {sgd_crossings} times", f"after about {sgd_steps} steps",
         "lr = 0.5, beta = 0.8", f"about {mom_swings} slower swings", f"in about {mom_steps} steps", "under a third")
    sgd, mom = by_label(runs, "SGD"), by_label(runs, "Momentum")
    assert sgd_lr >= 0.9 * 2 / 10  # near the stability limit
    tol = 0.01 * diagonal(window)  # the app's "reached the minimum"
    floor = 0.01 * (window[1][1] - window[1][0])  # a swing smaller than 1 % of the height is not seen

    # SGD against its closed form: each coordinate is multiplied by (1 - lr * curvature) every step
    t = np.arange(sgd.path.shape[1])
    x, y = starts[0, 0] * (1 - 0.1 * sgd_lr) ** t, starts[0, 1] * (1 - 10 * sgd_lr) ** t
    np.testing.assert_allclose(sgd.path[0, :, 0], np.stack([x, y], axis=1), atol=1e-9)
    sgd_cross = crossings(sgd.path[0, :, 0, 1], floor)
    sgd_hit = first_within(sgd.path[0, :, 0], (0, 0), tol)
    assert len(sgd_cross) == len(crossings(y, floor)) and sgd_hit == first_within(np.stack([x, y], 1), (0, 0), tol)
    assert abs(len(sgd_cross) - sgd_crossings) <= 3 and np.all(np.diff(sgd_cross) == 1)  # a zig-zag: every step
    assert sgd_hit is not None and abs(sgd_hit - sgd_steps) <= 10
    # crawling: after 100 steps SGD has covered less than 90 % of the floor's length
    assert abs(sgd.path[0, 100, 0, 0]) > 0.1 * abs(starts[0, 0])

    mom_cross = crossings(mom.path[0, :, 0, 1], floor)
    mom_hit = first_within(mom.path[0, :, 0], (0, 0), tol)
    assert abs(len(mom_cross) - mom_swings) <= 2 and len(mom_cross) < len(sgd_cross) / 2
    assert np.mean(np.diff(mom_cross)) >= 2.5  # slower swings: SGD crosses every step
    assert mom_hit is not None and abs(mom_hit - mom_steps) <= 6 and mom_hit < sgd_hit / 3
    assert np.all(mom.path[0, :, 0, 0] < tol)  # glides: never overshoots the minimum along the floor
    assert all(r.diverged_at == [[None]] for r in runs)


def test_rosenbrock_sgd_and_momentum_overlap_heavy_ball_then_adam_arrive():
    lesson, window, starts, runs = race_of("rosenbrock_race")
    says(lesson, "within 0.02 of each other", "about 0.55 from (1, 1) after 2000 steps", "RMSProp ends about 0.1",
         "Adam reaches the minimum at step 1135", "steps up to 10 times larger", "arrives first, at step 617")
    tol = 0.01 * diagonal(window)
    end = {r.label.split(" (")[0]: r.path[0, -1, 0] for r in runs}
    hit = {r.label.split(" (")[0]: first_within(r.path[0, :, 0], (1, 1), tol) for r in runs}
    assert np.hypot(*(end["SGD"] - end["Momentum"])) < 0.02
    for name in ("SGD", "Momentum"):
        assert abs(np.hypot(*(end[name] - 1)) - 0.55) < 0.03 and hit[name] is None
    assert abs(np.hypot(*(end["RMSProp"] - 1)) - 0.1) < 0.02 and hit["RMSProp"] is None
    assert hit["Adam"] is not None and abs(hit["Adam"] - 1135) <= 0.05 * 1135
    assert hit["Heavy-ball momentum"] is not None and abs(hit["Heavy-ball momentum"] - 617) <= 0.05 * 617
    assert hit["Heavy-ball momentum"] < hit["Adam"]
    # the same lr and beta for both momentum forms: only the form differs
    assert by_label(runs, "Momentum").label[len("Momentum"):] == by_label(runs, "Heavy-ball momentum").label[len("Heavy-ball momentum"):]


def test_saddle_sgd_lingers_momentum_leaves_last_adaptive_methods_never_come_close():
    lesson, window, starts, runs = race_of("saddle_escape")
    near, sgd_near, mom_near, adaptive_leave = 0.2, 160, 220, 20
    says(lesson, f"about {sgd_near} steps within {near}", f"lingers about {mom_near} steps and leaves last",
         f"leave the ridge within {adaptive_leave} steps")

    def steps_near(path):
        return int(np.sum(np.hypot(path[:, 0], path[:, 1]) < near))

    def leaves(path):  # first step off the ridge y = 0
        return int(np.flatnonzero(np.abs(path[:, 1]) > near)[0])

    sgd = by_label(runs, "SGD").path[0, :, 0]
    # x^2 - y^2 under SGD: x shrinks by (1 - 2 lr), y grows by (1 + 2 lr) every step
    t = np.arange(len(sgd))
    closed = np.stack([starts[0, 0] * 0.98**t, starts[0, 1] * 1.02**t], axis=1)
    np.testing.assert_allclose(sgd, closed, rtol=1e-9)
    assert steps_near(sgd) == steps_near(closed) and abs(steps_near(sgd) - sgd_near) <= 10
    mom = by_label(runs, "Momentum").path[0, :, 0]
    assert abs(steps_near(mom) - mom_near) <= 10
    assert leaves(mom) == max(leaves(r.path[0, :, 0]) for r in runs)
    for name in ("RMSProp", "Adam"):
        path = by_label(runs, name).path[0, :, 0]
        assert steps_near(path) == 0 and leaves(path) <= adaptive_leave


def _rastrigin_grad(p):
    # d/dx (x^2 - 10 cos(2 pi x)) = 2x + 20 pi sin(2 pi x), by hand
    return 2 * p + 20 * math.pi * np.sin(2 * math.pi * p)


def test_rastrigin_every_method_stops_in_its_own_dimple_on_visible_distinct_paths():
    lesson, window, starts, runs = race_of("rastrigin_traps")
    says(lesson, "stops in the dimple it starts in", "Momentum rolls back and forth", "SGD slides straight", "reaches the global minimum at (0, 0), 1 of 4")
    assert len(starts) == 4
    width = window[0][1] - window[0][0]
    tol = 0.01 * diagonal(window)
    for run in runs:
        for k, start in enumerate(starts):
            path = run.path[0, :, k]
            end = path[-1]
            # a local minimum (zero gradient) in the dimple around the start's nearest lattice point
            assert np.all(np.abs(_rastrigin_grad(end)) < 1e-3), (run.label, k)
            assert np.array_equal(np.round(end), np.round(start)), (run.label, k)
            assert (first_within(path, (0, 0), tol) is not None) == (k == 3)
            # visible: the path spans at least 8 % of the window (about 50 px on a 600 px map)
            assert np.hypot(*(np.nanmax(path, 0) - np.nanmin(path, 0))) >= 0.08 * width, (run.label, k)
    sgd, adam, mom = by_label(runs, "SGD"), by_label(runs, "Adam"), by_label(runs, "Momentum")
    for k, start in enumerate(starts):
        # no racer hidden: racers are drawn in order, later ones on top, so some point of each path
        # lies at least 2 % of the window (about 12 px) away from every path drawn over it
        paths = [r.path[0, :, k] for r in runs]
        for i in range(len(paths) - 1):
            assert directed_distance(paths[i], np.concatenate(paths[i + 1:])) >= 0.02 * width, (runs[i].label, k)
        straight = np.hypot(*(sgd.path[0, -1, k] - start))
        assert path_length(sgd.path[0, :, k]) < 1.05 * straight  # slides straight in
        assert path_length(adam.path[0, :, k]) > 1.5 * straight  # overshoots and curls
        assert path_length(mom.path[0, :, k]) > 5 * straight  # rolls back and forth


def _himmelblau_grad(p):
    # (x^2 + y - 11)^2 + (x + y^2 - 7)^2 differentiated by hand
    x, y = p[..., 0], p[..., 1]
    a, b = x * x + y - 11, x + y * y - 7
    return np.stack([4 * x * a + 2 * b, 2 * a + 4 * y * b], axis=-1)


def _gradient_flow_end(p, time=20.0, dt=1e-3):
    """Return where the gradient flow dp/dt = -grad f(p) from each point ends (classical Runge-Kutta)."""
    p = np.array(p, dtype=float)
    for _ in range(int(time / dt)):
        k1 = -_himmelblau_grad(p)
        k2 = -_himmelblau_grad(p + dt / 2 * k1)
        k3 = -_himmelblau_grad(p + dt / 2 * k2)
        k4 = -_himmelblau_grad(p + dt * k3)
        p += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return p


def test_himmelblau_sgd_ends_in_the_start_basin_adam_crosses_from_two_starts():
    lesson, window, starts, runs = race_of("himmelblau_basins")
    says(lesson, "from all 12 starts", "different minimum from 2 of the 12, the first start among them")
    assert len(starts) == 12
    minima = np.array([[3, 2], [-2.805118, 3.131313], [-3.779310, -3.283186], [3.584428, -1.848127]])

    def which(points):
        return [int(np.argmin(np.hypot(*(minima - q).T))) for q in points]

    basin = which(_gradient_flow_end(starts))
    assert sorted(set(basin)) == [0, 1, 2, 3]  # the starts cover all four basins
    for run in runs:
        ends = run.path[0, -1]
        assert np.all(np.hypot(*(ends - minima[which(ends)]).T) < 1e-4), run.label  # every run ends at a minimum
    assert which(by_label(runs, "SGD").path[0, -1]) == basin
    moved = [k for k, (a, b) in enumerate(zip(which(by_label(runs, "Adam").path[0, -1]), basin)) if a != b]
    assert len(moved) == 2 and 0 in moved


def test_lr_too_large_converges_smoothly_oscillates_then_diverges_as_the_factor_says():
    lesson, window, starts, runs = race_of("lr_too_large")
    says(lesson, "|1 - 2 lr|", "lr = 0.3 (x 0.4) reaches the minimum in 4 steps",
         "lr = 0.9 (x 0.8) overshoots back and forth and needs 17", "lr = 1.2 (x 1.4)",
         "leaves the map after 1 step", "past a million at step 39")
    tol = 0.01 * diagonal(window)
    r0 = float(np.hypot(*starts[0]))
    for run, lr in zip(runs, (0.3, 0.9, 1.2)):
        factor = 1 - 2 * lr
        path = run.path[0, :, 0]
        # closed form: the minimum is reached at the first t with r0 |factor|^t <= tol
        if abs(factor) < 1:
            assert first_within(path, (0, 0), tol) == math.ceil(math.log(r0 / tol) / -math.log(abs(factor)))
            assert run.diverged_at == [[None]]
        sane = path[np.isfinite(path[:, 0])]
        np.testing.assert_allclose(sane, starts[0] * factor ** np.arange(len(sane))[:, None], rtol=1e-12)
    assert [first_within(r.path[0, :, 0], (0, 0), tol) for r in runs[:2]] == [4, 17]
    big = runs[2].path[0, :, 0]
    (x0, x1), (y0, y1) = window
    assert not (x0 <= big[1, 0] <= x1 and y0 <= big[1, 1] <= y1)  # off the map after one step
    # past a million: the first t with max |coordinate| * 1.4^t > 1e6
    t_million = math.floor(math.log(1e6 / np.abs(starts[0]).max()) / math.log(1.4)) + 1
    assert runs[2].diverged_at == [[t_million]] and t_million == 39


def test_noise_floor_constant_rate_jitters_at_the_closed_form_level_decay_goes_below():
    lesson, window, starts, runs = race_of("noise_floor")
    lr, noise = 0.1, 2.0
    says(lesson, "lr noise^2 / (2 (1 - lr)) = 0.22", "averages about 0.004", "more than 50 times lower")
    # SGD on x^2 + y^2 with gradient noise N(0, noise^2) per coordinate: p <- (1 - 2 lr) p - lr noise e, whose
    # stationary variance per coordinate is lr^2 noise^2 / (1 - (1 - 2 lr)^2); the loss is the sum over 2 coordinates
    floor = 2 * lr**2 * noise**2 / (1 - (1 - 2 * lr) ** 2)
    assert floor == pytest.approx(lr * noise**2 / (2 * (1 - lr))) and round(floor, 2) == 0.22
    constant, decayed = by_label(runs, "SGD (lr=0.1)"), by_label(runs, "SGD (lr=0.1, 1/t")
    assert constant.loss.shape[0] == 3  # three noise seeds
    settled = constant.loss[:, 300:, 0].mean()  # long after the 1/(1 - 0.8^t) transient
    assert settled == pytest.approx(floor, rel=0.2)
    assert constant.loss[:, -100:, 0].mean() == pytest.approx(floor, rel=0.2)  # it never settles below
    late = decayed.loss[:, -100:, 0].mean()
    assert 0.002 < late < 0.006 and late < constant.loss[:, -100:, 0].mean() / 50


def test_every_preset_has_its_lesson_test():
    tested = {"ravine", "rosenbrock_race", "saddle_escape", "rastrigin_traps", "himmelblau_basins",
              "lr_too_large", "noise_floor"}
    assert set(presets.presets()) == tested
