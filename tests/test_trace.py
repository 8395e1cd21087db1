"""Trajectories against closed forms and plain reference loops; divergence, batches of starts, noise, mini-batches."""

import numpy as np
import pytest

import optim
import surfaces
from surfaces import TraceError, get, trace
from surfaces.batches import minibatches


def test_sgd_on_a_quadratic_follows_the_closed_form():
    # f = a x^2 + b y^2, so p_t = (1 - 2 a lr)^t p_0 per coordinate
    s = surfaces.from_formula("0.5x^2 + 2y^2")
    lr, steps = 0.1, 30
    tr = trace(s, optim.make("sgd", lr=lr), (2.0, -1.5), steps)
    t = np.arange(steps + 1)
    np.testing.assert_allclose(tr.path[:, 0], 2.0 * (1 - 2 * 0.5 * lr) ** t, rtol=1e-12)
    np.testing.assert_allclose(tr.path[:, 1], -1.5 * (1 - 2 * 2 * lr) ** t, rtol=1e-12)
    np.testing.assert_allclose(tr.loss, 0.5 * tr.path[:, 0] ** 2 + 2 * tr.path[:, 1] ** 2, rtol=1e-12)
    np.testing.assert_array_equal(tr.lr, np.full(steps, lr))
    assert tr.diverged_at is None
    assert tr.path.shape == (steps + 1, 2) and tr.loss.shape == (steps + 1,) and tr.lr.shape == (steps,)


def test_adam_first_step_by_hand():
    # bowl x^2 + y^2 from (1, -2): g = (2, -4), m_hat = g, s_hat = g^2, step = lr * g / (|g| + eps)
    tr = trace(get("bowl"), optim.make("adam", lr=0.1), (1.0, -2.0), 1)
    assert tr.path[1, 0] == pytest.approx(1.0 - 0.1 * 2 / (2 + 1e-8), rel=1e-14)
    assert tr.path[1, 1] == pytest.approx(-2.0 + 0.1 * 4 / (4 + 1e-8), rel=1e-14)


def _reference(surface_grad, rule, p0, steps, lr, **hp):
    """A plain loop with each update rule written out, independent of optim/."""
    p = np.array(p0, dtype=float)
    m = np.zeros(2)
    s = np.zeros(2)
    out = [p.copy()]
    for t in range(1, steps + 1):
        g = surface_grad(p)
        if rule == "sgd":
            p = p - lr * g
        elif rule == "momentum":
            m = hp["beta"] * m + (1 - hp["beta"]) * g
            p = p - lr * m
        elif rule == "rmsprop":
            s = hp["beta"] * s + (1 - hp["beta"]) * g * g
            p = p - lr * g / (np.sqrt(s) + hp["eps"])
        elif rule == "adam":
            m = hp["beta1"] * m + (1 - hp["beta1"]) * g
            s = hp["beta2"] * s + (1 - hp["beta2"]) * g * g
            mh = m / (1 - hp["beta1"] ** t)
            sh = s / (1 - hp["beta2"] ** t)
            p = p - lr * mh / (np.sqrt(sh) + hp["eps"])
        out.append(p.copy())
    return np.array(out)


def _himmelblau_grad(p):
    x, y = p
    a, b = x * x + y - 11, x + y * y - 7
    return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])


@pytest.mark.parametrize(("rule", "hp"), [
    ("sgd", {}),
    ("momentum", {"beta": 0.9}),
    ("rmsprop", {"beta": 0.9, "eps": 1e-4}),
    ("adam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
])
def test_trace_matches_a_reference_loop_on_himmelblau(rule, hp):
    lr, steps, start = 0.005, 200, (-0.3, -0.9)
    ref = _reference(_himmelblau_grad, rule, start, steps, lr, **hp)
    tr = trace(get("himmelblau"), optim.make(rule, lr=lr, **hp), start, steps)
    np.testing.assert_allclose(tr.path, ref, rtol=1e-9, atol=1e-12)


def test_sgd_diverges_at_the_step_the_closed_form_gives():
    # lr 1.5 on x^2 + y^2: p_t = (1 - 3)^t p_0 = (-2)^t (1, 1); 2^19 < 1e6 < 2^20
    tr = trace(get("bowl"), optim.make("sgd", lr=1.5), (1.0, 1.0), 40)
    assert tr.diverged_at == 20
    t = np.arange(20)
    np.testing.assert_allclose(tr.path[:20, 0], (-2.0) ** t)
    assert np.isnan(tr.path[20:]).all() and np.isnan(tr.loss[20:]).all()
    assert np.isfinite(tr.loss[:20]).all()
    batch = trace(get("bowl"), optim.make("sgd", lr=1.5), [(1.0, 1.0), (0.1, 0.1)], 40)
    assert batch.diverged_at == [20, 24]  # 0.1 * 2^24 > 1e6 > 0.1 * 2^23


def test_leaving_the_domain_counts_as_divergence():
    # x^(4/3) is undefined (complex) for x < 0; the jump from 0.5 lands at x < 0 at step 1
    s = surfaces.from_formula("x^(4/3) + y^2")
    single = trace(s, optim.make("sgd", lr=1.0), (0.5, 0.5), 10)
    batch = trace(s, optim.make("sgd", lr=1.0), [(0.5, 0.5)], 10)
    assert single.diverged_at == 1 and batch.diverged_at == [1]
    assert np.isnan(single.path[1:]).all()
    s = surfaces.from_formula("sqrt(x) + y^2")
    assert trace(s, optim.make("sgd", lr=2.0), (0.5, 0.5), 10).diverged_at == 1


def test_a_batch_of_starts_equals_the_starts_run_one_by_one():
    s = get("himmelblau")
    starts = np.array([[-0.3, -0.9], [4.0, 4.0], [-4.5, 0.5], [1.0, -4.0], [3.1, 2.1]])
    # chaotic runs (a learning rate just at the edge of stability) would amplify the last-bit
    # differences between NumPy and math arithmetic, so each run here either settles or flies off fast
    runs = (("adam", {"lr": 0.05}), ("rmsprop", {"lr": 0.005}), ("sgd", {"lr": 0.01}), ("sgd", {"lr": 0.06}))
    for name, hp in runs:
        opt = optim.make(name, **hp)
        batch = trace(s, opt, starts, 150)
        assert batch.path.shape == (151, 5, 2) and batch.loss.shape == (151, 5)
        for i, p in enumerate(starts):
            one = trace(s, opt, p, 150)
            np.testing.assert_allclose(batch.path[:, i], one.path, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(batch.loss[:, i], one.loss, rtol=1e-9, atol=1e-12)
            assert batch.diverged_at[i] == one.diverged_at
    assert batch.diverged_at == [8, 3, 4, 4, 6]


def test_a_diverging_start_does_not_poison_the_others():
    # x^4 + y^2 curves more the further out a start is: lr 0.1 is stable from x = 0.5, not from x = 3
    s = surfaces.from_formula("x^4 + y^2")
    for name in ("sgd", "adam", "momentum"):
        opt = optim.make(name, lr=0.1)
        batch = trace(s, opt, [(0.5, 1.0), (3.0, 1.0)], 100)
        alone = trace(s, opt, (0.5, 1.0), 100)
        np.testing.assert_allclose(batch.path[:, 0], alone.path, rtol=1e-12, atol=1e-15)
        assert batch.diverged_at[0] is None
        if name == "sgd":
            assert batch.diverged_at[1] is not None
            assert np.isnan(batch.path[batch.diverged_at[1]:, 1]).all()


def test_noise_follows_the_documented_stream():
    # SGD on x^2 + y^2 with noise: p_t = p_{t-1} - lr (2 p_{t-1} + n_t), n ~ default_rng(seed).normal(0, sd)
    lr, sd, steps, seed = 0.1, 0.3, 25, 11
    n = np.random.default_rng(seed).normal(0.0, sd, (steps, 2))
    p = np.array([1.0, -1.0])
    ref = [p]
    for t in range(steps):
        p = p - lr * (2 * p + n[t])
        ref.append(p)
    tr = trace(get("bowl"), optim.make("sgd", lr=lr), (1.0, -1.0), steps, noise=sd, seed=seed)
    np.testing.assert_allclose(tr.path, np.array(ref), rtol=1e-12, atol=1e-15)
    batch = trace(get("bowl"), optim.make("sgd", lr=lr), [(1.0, -1.0)], steps, noise=sd, seed=seed)
    np.testing.assert_allclose(batch.path[:, 0], tr.path, rtol=1e-12, atol=1e-15)


def test_noise_is_reproducible_and_depends_on_the_seed():
    s, opt = get("rosenbrock"), optim.make("adam", lr=0.01)
    a = trace(s, opt, s.start, 50, noise=1.0, seed=1)
    b = trace(s, opt, s.start, 50, noise=1.0, seed=1)
    c = trace(s, opt, s.start, 50, noise=1.0, seed=2)
    clean = trace(s, opt, s.start, 50)
    np.testing.assert_array_equal(a.path, b.path)
    assert not np.allclose(a.path, c.path)
    assert not np.allclose(a.path, clean.path)
    np.testing.assert_array_equal(trace(s, opt, s.start, 50, noise=0.0, seed=5).path, clean.path)


def test_mini_batches_follow_the_article_sampler():
    s = get("line_fit")
    d = s.columns
    lr, batch_size, steps, seed = 0.05, 8, 23, 3  # 40 examples: 5 batches an epoch, 23 steps span 5 epochs
    rng = np.random.default_rng([seed, 1])
    batches = []
    while len(batches) < steps:
        batches.extend(minibatches(s.n_examples, batch_size, rng))
    p = np.array([-0.5, 1.5])
    ref = [p]
    for idx in batches[:steps]:
        r = p[0] * d["xi"][idx] + p[1] - d["yi"][idx]
        p = p - lr * np.array([np.mean(2 * r * d["xi"][idx]), np.mean(2 * r)])
        ref.append(p)
    ref = np.array(ref)
    tr = trace(s, optim.make("sgd", lr=lr), (-0.5, 1.5), steps, seed=seed, batch_size=batch_size)
    np.testing.assert_allclose(tr.path, ref, rtol=1e-12, atol=1e-14)
    full = np.mean((np.multiply.outer(ref[:, 0], d["xi"]) + ref[:, 1:2] - d["yi"]) ** 2, axis=1)
    np.testing.assert_allclose(tr.loss, full, rtol=1e-12)


def test_mini_batches_differ_from_full_batch_and_a_whole_batch_does_not():
    s, opt = get("logistic"), optim.make("sgd", lr=0.5)
    full = trace(s, opt, s.start, 30)
    whole = trace(s, opt, s.start, 30, batch_size=s.n_examples)
    small = trace(s, opt, s.start, 30, batch_size=4)
    np.testing.assert_allclose(whole.path, full.path, rtol=1e-10)
    assert not np.allclose(small.path, full.path)
    batch = trace(s, opt, [s.start, (0.0, 0.0)], 30, batch_size=4)
    np.testing.assert_allclose(batch.path[:, 0], small.path, rtol=1e-12)


def test_batch_size_on_a_formula_surface_is_refused():
    with pytest.raises(TraceError, match="not a mean over examples"):
        trace(get("rosenbrock"), optim.make("sgd"), (0.0, 0.0), 10, batch_size=4)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"steps": 20001}, "steps"),
    ({"steps": -1}, "steps"),
    ({"steps": 2.5}, "whole number"),
    ({"start": np.zeros((40001, 2)), "steps": 1}, "start points"),
    ({"start": np.zeros((10000, 2)), "steps": 2000}, "too much"),
    ({"start": (1.0, 2.0, 3.0)}, "shape"),
    ({"start": (np.nan, 0.0)}, "finite"),
    ({"start": "ab"}, "start"),
    ({"noise": -1.0}, "noise"),
    ({"noise": float("inf")}, "noise"),
    ({"seed": -3}, "seed"),
])
def test_bad_requests_raise_trace_error(kwargs, match):
    args = {"start": (0.0, 0.0), "steps": 10} | kwargs
    with pytest.raises(TraceError, match=match) as info:
        trace(get("bowl"), optim.make("sgd"), **args)
    assert isinstance(info.value, ValueError)


def test_trace_resets_the_optimizer_and_uses_its_learning_rate_schedule():
    opt = optim.make("sgd", lr=0.2, schedule="step", schedule_params={"step_size": 3, "gamma": 0.5})
    opt.step([np.ones(2)], [np.ones(2)])  # leave state behind; trace must start afresh
    tr = trace(get("bowl"), opt, (1.0, 0.0), 9)
    lrs = 0.2 * 0.5 ** (np.arange(9) // 3)
    np.testing.assert_allclose(tr.lr, lrs)
    np.testing.assert_allclose(tr.path[1:, 0], np.cumprod(1 - 2 * lrs))


def test_any_object_with_the_optimizer_interface_can_race():
    class HalfStep:
        """A student's rule: move half the gradient, counting its calls."""

        def __init__(self):
            self.calls = 0

        def reset(self):
            self.calls = 0

        def init(self, p):
            return ()

        def lr_at(self, t):
            return 0.5

        def update(self, g, state, p, lr, t):
            self.calls += 1
            return lr * g * 0.5, state

    opt = HalfStep()
    tr = trace(get("bowl"), opt, (1.0, 2.0), 4)
    np.testing.assert_allclose(tr.path[:, 1], 2.0 * 0.5 ** np.arange(5))
    assert opt.calls == 8  # one call per coordinate per step on the float path


def test_results_are_read_only_and_steps_zero_is_the_start():
    tr = trace(get("bowl"), optim.make("adam"), (1.0, 1.0), 0)
    assert tr.path.shape == (1, 2) and tr.lr.shape == (0,)
    with pytest.raises(ValueError):
        tr.path[0, 0] = 5.0
