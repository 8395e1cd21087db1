"""The compiled engine against the NumPy path and closed forms: same numbers, same divergence, same rule text."""

import numpy as np
import pytest

import optim
import surfaces
from surfaces import engine, trace

pytestmark = pytest.mark.skipif(not engine.available(), reason="numba is not installed")

STEPS = 500

# every optimizer with settings that exercise each branch of its rule (Nesterov, weight decay)
SETTINGS = [
    ("sgd", {"lr": 1e-3}),
    ("momentum", {"lr": 1e-3, "beta": 0.9}),
    ("momentum", {"lr": 1e-3, "beta": 0.8, "nesterov": True}),
    ("heavy_ball", {"lr": 2e-4, "beta": 0.9}),
    ("heavy_ball", {"lr": 2e-4, "beta": 0.9, "nesterov": True}),
    ("rmsprop", {"lr": 1e-2, "beta": 0.9}),
    ("adagrad", {"lr": 0.3}),
    ("adam", {"lr": 2e-2}),
    ("adamw", {"lr": 2e-2, "weight_decay": 0.1}),
    ("lion", {"lr": 3e-3}),
    ("lion", {"lr": 3e-3, "weight_decay": 0.5}),
]


def _starts(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)])


def _assert_same(a, b):
    assert a.diverged_at == b.diverged_at
    np.testing.assert_array_equal(np.isnan(a.path), np.isnan(b.path))
    np.testing.assert_allclose(a.path, b.path, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name,hp", SETTINGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SETTINGS)])
def test_compiled_equals_numpy_for_every_optimizer(name, hp):
    s = surfaces.get("rosenbrock")
    p0 = _starts()
    a = trace(s, optim.make(name, **hp), p0, STEPS, compiled=True)
    b = trace(s, optim.make(name, **hp), p0, STEPS, compiled=False)
    _assert_same(a, b)


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_compiled_equals_numpy_through_divergence(name):
    # plain and momentum descent: a rate far above Rosenbrock's stability limit, starts leave at different steps;
    # adaptive rules take bounded steps, so they leave by jumping out of log's domain (a NaN loss cuts the path);
    # the gradient 2x + 1/(x + 3) is plain arithmetic, correctly rounded alike in NumPy and compiled code, so
    # chaotic bouncing at lr = 3 cannot magnify a last-bit difference of a library function
    # (NumPy's vectorised pow and libm's may differ in the last bit)
    p0 = _starts(30, seed=1)
    if name in ("sgd", "momentum", "heavy_ball"):
        s, lr = surfaces.get("rosenbrock"), 0.5
    else:
        s, lr = surfaces.from_formula("x^2 + y^2 + log(x + 3)", ((-2.9, 3), (-3, 3))), 3.0
        p0 = p0 - [0, 1]
    a = trace(s, optim.make(name, lr=lr), p0, STEPS, compiled=True)
    b = trace(s, optim.make(name, lr=lr), p0, STEPS, compiled=False)
    assert any(d is not None for d in b.diverged_at), "the reference must diverge somewhere for this test to mean anything"
    _assert_same(a, b)


@pytest.mark.parametrize("name,lr", [("momentum", 0.5), ("adam", 0.05)])
def test_many_blocks_and_slices_equal_numpy(name, lr):
    # more starts than one block (engine.BLOCK) and not a multiple of it, so the pool runs several slices,
    # the last block is short, and starts diverge in different blocks; noise is read per start across blocks
    n = 2 * engine.BLOCK + engine.BLOCK // 3 + 1
    p0 = _starts(n, seed=4) * [1.2, 1.0]
    s = surfaces.get("rosenbrock")
    a = trace(s, optim.make(name, lr=lr), p0, 200, noise=0.3, seed=7, compiled=True)
    b = trace(s, optim.make(name, lr=lr), p0, 200, noise=0.3, seed=7, compiled=False)
    if name == "momentum":
        blocks = {i // engine.BLOCK for i, d in enumerate(b.diverged_at) if d is not None}
        assert len(blocks) > 1, "starts must diverge in more than one block for this test to mean anything"
    _assert_same(a, b)


def test_a_path_large_enough_to_be_faulted_in_first_equals_numpy():
    # from engine.PREFAULT_BYTES on, the recorded arrays' pages get a 0.0 written first; the kernel must overwrite
    # every one of them (points, losses, and the NaNs after a divergence)
    n = 1500
    steps = engine.PREFAULT_BYTES // (16 * n) + 10
    p0 = _starts(n, seed=6)
    s = surfaces.get("rosenbrock")
    a = trace(s, optim.make("momentum", lr=0.02), p0, steps, compiled=True)
    assert a.path.nbytes >= engine.PREFAULT_BYTES
    b = trace(s, optim.make("momentum", lr=0.02), p0, steps, compiled=False)
    assert any(d is not None for d in b.diverged_at) and any(d is None for d in b.diverged_at)
    _assert_same(a, b)


def test_compiled_equals_numpy_with_noise_and_a_schedule():
    s = surfaces.get("himmelblau")
    p0 = _starts(25, seed=2)
    make = lambda: optim.make("adam", lr=0.05, schedule="cosine")  # noqa: E731
    a = trace(s, make(), p0, STEPS, noise=0.7, seed=5, compiled=True)
    b = trace(s, make(), p0, STEPS, noise=0.7, seed=5, compiled=False)
    _assert_same(a, b)
    np.testing.assert_array_equal(a.lr, b.lr)


def test_a_loss_undefined_outside_its_domain_diverges_at_the_same_step():
    # log(x): the step that leaves x > 0 makes the loss NaN; both paths cut there
    s = surfaces.from_formula("log(x)^2 + y^2", ((0.1, 3), (-2, 2)))
    p0 = np.array([[0.5, 1.0], [2.0, -1.0], [0.3, 0.2]])
    a = trace(s, optim.make("sgd", lr=0.9), p0, 50, compiled=True)
    b = trace(s, optim.make("sgd", lr=0.9), p0, 50, compiled=False)
    _assert_same(a, b)


def test_gradient_descent_on_the_bowl_follows_the_closed_form():
    # x^2 + y^2: p_t = (1 - 2 lr)^t p_0, independent of both paths
    lr, steps = 0.15, 60
    p0 = _starts(10)
    tr = trace(surfaces.get("bowl"), optim.make("sgd", lr=lr), p0, steps, compiled=True)
    expected = (1 - 2 * lr) ** np.arange(steps + 1)[:, None, None] * p0[None]
    np.testing.assert_allclose(tr.path, expected, rtol=1e-12, atol=1e-300)


def test_the_compiled_rule_is_the_optimizers_own_code():
    for name, cls in optim.OPTIMIZERS.items():
        rule = engine.compiled_rule(cls())
        assert rule.update.py_func.__code__ is cls.update.__code__, name
    # Adam's helper is compiled from adam_direction's own code too
    from optim import adam
    adam_rule = engine.compiled_rule(optim.make("adam"))
    helper = adam_rule.update.py_func.__globals__["adam_direction"]
    assert helper.py_func.__code__ is adam.adam_direction.__code__


def test_mini_batches_fall_back_to_numpy():
    s = surfaces.get("logistic")
    opt = optim.make("sgd", lr=0.1)
    p0 = np.array([[0.5, 0.5], [-0.5, 1.0]])
    tr = trace(s, opt, p0, 20, batch_size=4)
    assert tr.path.shape == (21, 2, 2)
    with pytest.raises(surfaces.TraceError):
        trace(s, opt, p0, 20, batch_size=4, compiled=True)


def test_outcome_without_paths_matches_the_recorded_path():
    s = surfaces.get("himmelblau")
    opt = optim.make("adam", lr=0.1)
    p0 = _starts(engine.BLOCK + 50, seed=3) * 2  # two blocks, the second short
    eng = engine.engine_for(s, opt)
    out = eng.run(opt, p0, np.ones(STEPS), check_loss=True, targets=s.minima, tol=0.1)
    tr = trace(s, opt, p0, STEPS, compiled=False)
    for i in range(len(p0)):
        d = tr.diverged_at[i]
        assert (out.diverged_at[i] if out.diverged_at[i] >= 0 else None) == d
        if d is None:
            np.testing.assert_allclose(out.end[i], tr.path[-1, i], rtol=1e-12)
            dist = np.linalg.norm(tr.path[:, i, None, :] - np.asarray(s.minima)[None], axis=-1)
            inside = dist.min(axis=1) <= 0.1
            if inside[-1]:
                assert out.which[i] == int(np.argmin(dist[-1]))
                # the step from which the path stayed within the tolerance
                assert out.reached_at[i] == (np.flatnonzero(~inside)[-1] + 1 if (~inside).any() else 0)
            else:
                assert out.which[i] == -1 and out.reached_at[i] == -1
