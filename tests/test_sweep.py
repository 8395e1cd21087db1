"""Sweeps and outcome maps against single races, closed forms and hand classification."""

import math

import numpy as np
import pytest

import optim
import surfaces
from surfaces import sweep, trace


def _hand_outcome(tr_path, diverged, minima, tol):
    """Classify one single trace by hand: the minimum its end lies within tol of, -1 elsewhere, -2 diverged."""
    if diverged is not None:
        return sweep.DIVERGED
    for k, m in enumerate(minima):
        if math.dist(tr_path[-1], m) <= tol:
            return k
    return sweep.ELSEWHERE


def test_a_sweep_point_at_rate_r_is_the_race_at_rate_r():
    s = surfaces.get("himmelblau")
    starts = np.array([[-4.0, 4.0], [1.0, -1.0], [0.2, 0.3]])
    seeds = (3, 4)
    opt = optim.make("adam", lr=0.05, beta1=0.8, schedule="cosine")
    rates = sweep.default_rates(opt)
    runs = sweep.run_settings(s, opt, starts, 200, rates, noise=0.5, seeds=seeds, tol=0.1)
    for a in (5, 20, 28, 33, 40):
        race_opt = optim.make("adam", lr=float(rates[a]), beta1=0.8, schedule="cosine")
        for b, seed in enumerate(seeds):
            tr = trace(s, race_opt, starts, 200, noise=0.5, seed=seed, compiled=False)
            for c in range(len(starts)):
                d = tr.diverged_at[c]
                assert (None if runs.diverged_at[a, b, c] < 0 else runs.diverged_at[a, b, c]) == d
                if d is None:
                    np.testing.assert_allclose(runs.end[a, b, c], tr.path[-1, c], rtol=1e-12, atol=1e-12)
                    assert runs.loss[a, b, c] == pytest.approx(tr.loss[-1, c], rel=1e-12, abs=1e-12)
                    assert runs.minimum[a, b, c] == _hand_outcome(tr.path[:, c], d, s.minima, 0.1)


def test_best_rate_for_gradient_descent_on_the_bowl_is_one_over_the_curvature():
    # x^2 + y^2 has curvature lambda = 2 in every direction; GD lands on the minimum in one step at lr = 1/lambda
    s = surfaces.get("bowl")
    opt = optim.make("sgd")
    (sens,) = sweep.lr_sweep(s, [("GD", opt)], [(-2.5, 2.0)], 5)
    step = math.log10(sens.rates[1] / sens.rates[0])
    assert abs(math.log10(sens.best_rate) - math.log10(0.5)) <= step + 1e-12
    # above 2 / lambda = 1 every run diverges or grows: the gap there is worse than at the start
    assert all(sens.gap[sens.rates > 1.05] > 2.5**2 + 2.0**2 - 1e-9)


def test_band_is_the_run_of_rates_within_ten_times_the_best():
    rates = np.logspace(-3, 0, 7)
    loss = np.array([1.0, 0.5, 0.04, 0.01, 0.08, 0.2, np.nan]).reshape(7, 1, 1)
    div = np.array([-1, -1, -1, -1, -1, -1, 12]).reshape(7, 1, 1)
    runs = sweep.Runs(np.zeros((7, 1, 1, 2)), loss, div, np.full((7, 1, 1), -1), np.full((7, 1, 1), -1))
    sens = sweep.summarize("x", rates, runs, 0.0)
    assert sens.best == 3 and sens.band == (2, 4)  # 0.04 and 0.08 are within 10 x 0.01; 0.2 is not
    assert sens.band_decades == pytest.approx(1.0)  # from rate 10^-2 to 10^-1
    assert sens.diverged[6] == 1.0 and math.isinf(sens.gap[6])


def test_outcome_map_pixels_agree_with_single_traces():
    s = surfaces.get("himmelblau")
    opt = optim.make("momentum", lr=0.01, beta=0.9)
    n, steps, tol = 48, 300, 0.1
    m = sweep.outcome_map(s, "m", opt, s.window, n, steps, tol)
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, n, (15, 2)):
        tr = trace(s, opt, (m.xs[j], m.ys[i]), steps, compiled=False)
        assert m.outcome[i, j] == _hand_outcome(tr.path, tr.diverged_at, s.minima, tol), (i, j)


def test_outcome_map_reports_its_progress_block_by_block():
    """0 before any work, then the share of starts done after each block of 512 (NumPy path), then 1."""
    s = surfaces.get("logistic")  # a mean over data: no compiled engine, the slow path a bar is for
    opt = optim.make("sgd", lr=0.1)
    heard: list[float] = []
    n = 40  # 1600 starts: blocks of 512 end at 512, 1024, 1536
    m = sweep.outcome_map(s, "sgd", opt, s.window, n, 20, 0.1, progress=heard.append)
    assert heard == [0.0, 512 / 1600, 1024 / 1600, 1536 / 1600, 1.0]
    # the blocks change nothing: every pixel as its own trace ends
    rng = np.random.default_rng(1)
    for i, j in rng.integers(0, n, (6, 2)):
        tr = trace(s, opt, (m.xs[j], m.ys[i]), 20, compiled=False)
        assert m.outcome[i, j] == _hand_outcome(tr.path, tr.diverged_at, s.minima, 0.1), (i, j)


def test_outcome_map_on_himmelblau_has_four_basins_coloured_as_their_minima():
    s = surfaces.get("himmelblau")
    racers = [("sgd", {"lr": 0.01}), ("momentum", {"lr": 0.01}), ("rmsprop", {"lr": 0.01}), ("adam", {"lr": 0.05})]
    n = 64
    for name, hp in racers:
        m = sweep.outcome_map(s, name, optim.make(name, **hp), s.window, n, 600, 0.1)
        for k, (mx, my) in enumerate(s.minima):
            # the pixel holding minimum k starts there and stays: it must carry minimum k's colour
            j = int((mx - s.window[0][0]) / (s.window[0][1] - s.window[0][0]) * n)
            i = int((my - s.window[1][0]) / (s.window[1][1] - s.window[1][0]) * n)
            assert m.outcome[i, j] == k, (name, k)
            assert (m.outcome == k).mean() > 0.05, (name, k)


def test_beta_map_cell_is_the_race_at_that_lr_and_beta():
    s = surfaces.get("rosenbrock")
    opt = optim.make("momentum", lr=0.001)
    rates, betas = np.logspace(-4, -2, 5), np.array([0.0, 0.5, 0.9])
    bm = sweep.beta_sweep(s, "m", opt, [(-1.2, 1.0)], 300, rates=rates, betas=betas)
    for b, beta in enumerate(betas):
        for a, rate in enumerate(rates):
            tr = trace(s, optim.make("momentum", lr=float(rate), beta=float(beta)), (-1.2, 1.0), 300, compiled=False)
            expected = math.inf if tr.diverged_at is not None else max(tr.loss[-1], sweep.GAP_FLOOR)
            assert bm.gap[b, a] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(sweep.SweepError):
        sweep.beta_sweep(s, "s", optim.make("sgd"), [(-1.2, 1.0)], 10)
