"""Each update rule against hand-computed steps, never against its own output."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optim
from optim import OPTIMIZERS, HyperparameterError, make


def run(name, grad_fn, p0, steps, **hp):
    """Return the list of iterates of optimizer ``name`` on a 1-D problem (array path)."""
    opt = make(name, **hp)
    p = np.array(p0, dtype=float)
    out = [p.copy()]
    for _ in range(steps):
        opt.step([p], [grad_fn(p)])
        out.append(p.copy())
    return out


def quad_grad(p):
    return 2.0 * p


# -- hand-computed steps ------------------------------------------------------

def test_sgd_closed_form_on_quadratic():
    # p_t = (1 - 2 lr)^t p_0 for f(p) = p^2
    lr = 0.1
    path = run("sgd", quad_grad, [1.0, -3.0], 25, lr=lr)
    for t, p in enumerate(path):
        np.testing.assert_allclose(p, (1 - 2 * lr) ** t * np.array([1.0, -3.0]), rtol=1e-12)


def test_momentum_hand_steps():
    lr, b = 0.1, 0.9
    g = [2.0, 1.0, -1.0]  # gradients fed in order, independent of p
    opt = make("momentum", lr=lr, beta=b)
    p = np.array([1.0])
    # by hand: v1 = 0.1*2 = 0.2 ; p1 = 1 - 0.02 = 0.98
    #          v2 = 0.9*0.2 + 0.1*1 = 0.28 ; p2 = 0.98 - 0.028 = 0.952
    #          v3 = 0.9*0.28 + 0.1*(-1) = 0.152 ; p3 = 0.952 - 0.0152 = 0.9368
    expected = [0.98, 0.952, 0.9368]
    for gi, e in zip(g, expected):
        opt.step([p], [np.array([gi])])
        assert p[0] == pytest.approx(e, abs=1e-12)


def test_nesterov_hand_steps():
    lr, b = 0.1, 0.9
    opt = make("momentum", lr=lr, beta=b, nesterov=True)
    p = np.array([1.0])
    # v1 = 0.2 ; step = lr*(0.9*0.2 + 0.1*2) = 0.1*0.38 = 0.038 -> 0.962
    opt.step([p], [np.array([2.0])])
    assert p[0] == pytest.approx(0.962, abs=1e-12)
    # v2 = 0.9*0.2 + 0.1*1 = 0.28 ; step = 0.1*(0.9*0.28 + 0.1*1) = 0.0352 -> 0.9268
    opt.step([p], [np.array([1.0])])
    assert p[0] == pytest.approx(0.9268, abs=1e-12)


def test_heavy_ball_hand_steps():
    lr, b = 0.1, 0.9
    opt = make("heavy_ball", lr=lr, beta=b)
    p = np.array([1.0])
    # by hand: v1 = 2 ; p1 = 1 - 0.2 = 0.8
    #          v2 = 0.9*2 + 1 = 2.8 ; p2 = 0.8 - 0.28 = 0.52
    #          v3 = 0.9*2.8 - 1 = 1.52 ; p3 = 0.52 - 0.152 = 0.368
    for gi, e in zip([2.0, 1.0, -1.0], [0.8, 0.52, 0.368]):
        opt.step([p], [np.array([gi])])
        assert p[0] == pytest.approx(e, abs=1e-12)


def test_heavy_ball_nesterov_hand_steps():
    opt = make("heavy_ball", lr=0.1, beta=0.9, nesterov=True)
    p = np.array([1.0])
    # v1 = 2 ; step = 0.1*(2 + 0.9*2) = 0.38 -> 0.62
    opt.step([p], [np.array([2.0])])
    assert p[0] == pytest.approx(0.62, abs=1e-12)
    # v2 = 0.9*2 + 1 = 2.8 ; step = 0.1*(1 + 0.9*2.8) = 0.352 -> 0.268
    opt.step([p], [np.array([1.0])])
    assert p[0] == pytest.approx(0.268, abs=1e-12)


@pytest.mark.parametrize("b", [0.5, 0.9, 0.99])
def test_heavy_ball_steps_are_up_to_one_over_one_minus_beta_larger(b):
    # On a constant gradient g the t-th step is lr g (1 - b^t) for the moving average and
    # lr g (1 - b^t) / (1 - b) for the heavy ball (geometric sums): the ratio is 1/(1 - b) from step 1.
    lr, g, steps = 0.01, 3.0, 400
    ema, hb = make("momentum", lr=lr, beta=b), make("heavy_ball", lr=lr, beta=b)
    pe, ph = np.array([0.0]), np.array([0.0])
    for t in range(1, steps + 1):
        before_e, before_h = pe[0], ph[0]
        ema.step([pe], [np.array([g])])
        hb.step([ph], [np.array([g])])
        assert before_e - pe[0] == pytest.approx(lr * g * (1 - b**t), rel=1e-9)
        assert before_h - ph[0] == pytest.approx(lr * g * (1 - b**t) / (1 - b), rel=1e-9)


@pytest.mark.parametrize("nesterov", [False, True])
def test_heavy_ball_is_the_moving_average_at_lr_over_one_minus_beta(nesterov):
    # the heavy ball's v is the moving average's v divided by (1 - beta), so the iterates agree when lr is too
    b, lr = 0.8, 0.03
    hb = run("heavy_ball", quad_grad, [1.5, -0.5], 40, lr=lr, beta=b, nesterov=nesterov)
    ema = run("momentum", quad_grad, [1.5, -0.5], 40, lr=lr / (1 - b), beta=b, nesterov=nesterov)
    np.testing.assert_allclose(hb, ema, rtol=1e-12, atol=1e-15)


def test_momentum_doc_and_rule_state_the_difference_between_the_forms():
    for cls in (OPTIMIZERS["momentum"], OPTIMIZERS["heavy_ball"]):
        assert r"\tfrac{1}{1-\beta}" in cls.rule_latex and "1/(1-beta) times larger" in " ".join(cls.__doc__.split())
        assert "1/(1 - beta)" in cls.note and "on top of each other" in cls.note
    assert optim.OVERLAP_NOTE == OPTIMIZERS["momentum"].note


def test_rmsprop_hand_steps():
    lr, b, eps = 0.01, 0.9, 1e-4
    opt = make("rmsprop", lr=lr, beta=b, eps=eps)
    p = np.array([1.0])
    # s1 = 0.1*4 = 0.4 ; p1 = 1 - 0.01*2/(sqrt(0.4)+1e-4)
    p1 = 1 - 0.01 * 2 / (math.sqrt(0.4) + 1e-4)
    opt.step([p], [np.array([2.0])])
    assert p[0] == pytest.approx(p1, abs=1e-14)
    # s2 = 0.9*0.4 + 0.1*9 = 1.26 ; p2 = p1 - 0.01*3/(sqrt(1.26)+1e-4)
    opt.step([p], [np.array([3.0])])
    assert p[0] == pytest.approx(p1 - 0.03 / (math.sqrt(1.26) + 1e-4), abs=1e-14)


def test_adam_hand_steps():
    lr = 0.1
    opt = make("adam", lr=lr, beta1=0.9, beta2=0.999, eps=1e-8)
    p = np.array([0.0])
    # step 1: m = 0.1*g, s = 0.001*g^2, m^ = g, s^ = g^2 -> step = lr*g/(|g|+eps)
    opt.step([p], [np.array([4.0])])
    assert p[0] == pytest.approx(-0.1 * 4 / (4 + 1e-8), abs=1e-14)
    # step 2 with g = 2: m = 0.9*0.4 + 0.2 = 0.56 ; s = 0.999*0.016 + 0.001*4 = 0.019984
    # m^ = 0.56/0.19 ; s^ = 0.019984/0.001999
    m_hat = 0.56 / (1 - 0.9**2)
    s_hat = 0.019984 / (1 - 0.999**2)
    expected = -0.1 * 4 / (4 + 1e-8) - 0.1 * m_hat / (math.sqrt(s_hat) + 1e-8)
    opt.step([p], [np.array([2.0])])
    assert p[0] == pytest.approx(expected, abs=1e-13)


def test_adam_bias_correction_uses_step_count_not_epoch():
    # Defect 2 of the article: correction by epoch. Here the 3rd step must use t = 3.
    opt = make("adam", lr=1.0, eps=0.0)
    p = np.array([0.0])
    for _ in range(3):
        opt.step([p], [np.array([1.0])])
    # constant gradient: m^ = 1 and s^ = 1 at every t when corrected with t, so each step is exactly 1
    assert p[0] == pytest.approx(-3.0, abs=1e-12)


def test_adagrad_hand_steps():
    opt = make("adagrad", lr=0.5, eps=1e-10)
    p = np.array([1.0])
    opt.step([p], [np.array([3.0])])  # s = 9 -> step 0.5*3/3 = 0.5
    assert p[0] == pytest.approx(0.5, abs=1e-9)
    opt.step([p], [np.array([4.0])])  # s = 25 -> step 0.5*4/5 = 0.4
    assert p[0] == pytest.approx(0.1, abs=1e-9)


def test_adamw_decays_weights_decoupled():
    # zero gradient: moments stay zero so only the decay acts: p_t = (1 - lr*wd)^t p_0
    opt = make("adamw", lr=0.1, weight_decay=0.5, eps=1e-8)
    p = np.array([2.0, -1.0])
    for _ in range(5):
        opt.step([p], [np.zeros(2)])
    np.testing.assert_allclose(p, (1 - 0.05) ** 5 * np.array([2.0, -1.0]), rtol=1e-12)


def test_lion_hand_steps():
    opt = make("lion", lr=0.1, beta1=0.9, beta2=0.99)
    p = np.array([1.0, -1.0])
    # c1 = 0.1 * g -> sign(c1) = sign(g); m1 = 0.01 * g
    opt.step([p], [np.array([2.0, 0.5])])
    np.testing.assert_allclose(p, [0.9, -1.1], atol=1e-15)
    # g2 = (-1, 0.5): c2 = 0.9*0.02 + 0.1*(-1) = -0.082 -> -1 ; c2' = 0.9*0.005 + 0.05 > 0 -> +1
    opt.step([p], [np.array([-1.0, 0.5])])
    np.testing.assert_allclose(p, [1.0, -1.2], atol=1e-15)
    np.testing.assert_allclose(opt.state[0][0], [0.99 * 0.02 - 0.01, 0.99 * 0.005 + 0.005], atol=1e-15)


def test_lion_weight_decay_is_decoupled():
    # zero gradient: sign(0) = 0, so only the decay acts: p_t = (1 - lr*wd)^t p_0
    opt = make("lion", lr=0.1, weight_decay=0.5)
    p = np.array([2.0])
    for _ in range(3):
        opt.step([p], [np.zeros(1)])
    assert p[0] == pytest.approx(2.0 * 0.95**3, abs=1e-14)


# -- documented equivalences ---------------------------------------------------

def test_momentum_with_beta_zero_is_sgd():
    a = run("momentum", quad_grad, [1.5, -0.5], 30, lr=0.07, beta=0.0)
    b = run("sgd", quad_grad, [1.5, -0.5], 30, lr=0.07)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
    c = run("heavy_ball", quad_grad, [1.5, -0.5], 30, lr=0.07, beta=0.0)
    np.testing.assert_allclose(c, b, rtol=0, atol=1e-15)


def test_adamw_with_zero_decay_is_adam():
    a = run("adamw", quad_grad, [1.5, -0.5], 30, lr=0.07, weight_decay=0.0)
    b = run("adam", quad_grad, [1.5, -0.5], 30, lr=0.07)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_rmsprop_beta_zero_is_sign_like():
    # beta = 0, eps = 0: s = g^2 so every step is lr * sign(g)
    path = run("rmsprop", quad_grad, [1.0, -2.0], 3, lr=0.1, beta=0.0, eps=0.0)
    np.testing.assert_allclose(path[3], [0.7, -1.7], atol=1e-12)


# -- state and shapes ------------------------------------------------------------

@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_is_kept_per_array_of_any_shape(name):
    # Three arrays of different shapes stepped together must equal each stepped alone.
    rng = np.random.default_rng(1)
    shapes = [(2,), (3, 4), ()]
    init = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(6)]
    together = [np.array(a) for a in init]
    opt = make(name, lr=0.05)
    for gs in grads:
        opt.step(together, gs)
    for i in range(3):
        alone = [np.array(init[i])]
        o = make(name, lr=0.05)
        for gs in grads:
            o.step(alone, [gs[i]])
        np.testing.assert_allclose(together[i], alone[0], rtol=0, atol=0)
    assert opt.t == 6


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_batch_of_points_equals_points_one_by_one(name):
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(5, 2))
    batch = pts.copy()
    opt = make(name, lr=0.02)
    for _ in range(10):
        opt.step([batch], [np.sin(batch) + batch**2])
    for k in range(5):
        one = pts[k].copy()
        o = make(name, lr=0.02)
        for _ in range(10):
            o.step([one], [np.sin(one) + one**2])
        np.testing.assert_allclose(batch[k], one, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float_path_equals_array_path(name):
    # update() must run on plain Python floats (the fast 2-D path) with the same result.
    opt = make(name, lr=0.03)
    p_arr = np.array([0.7])
    p = 0.7
    state = opt.init(p)
    for t in range(1, 20):
        g = 2 * p + math.sin(p)
        delta, state = opt.update(g, state, p, opt.lr_at(t), t)
        p -= delta
        assert isinstance(p, float)
        opt.step([p_arr], [2 * p_arr + np.sin(p_arr)])
        assert p_arr[0] == pytest.approx(p, rel=1e-13, abs=1e-15)


def test_step_checks_shapes_and_counts():
    opt = make("adam")
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.zeros(2)], [np.zeros(3)])
    opt = make("adam")
    opt.step([np.zeros(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="holds state for 1"):
        opt.step([np.zeros(2), np.zeros(2)], [np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="gradients"):
        opt.step([np.zeros(2)], [])


def test_reset_forgets_state():
    a = run("adam", quad_grad, [1.0], 5, lr=0.1)
    opt = make("adam", lr=0.1)
    p = np.array([9.0])
    for _ in range(3):
        opt.step([p], [quad_grad(p)])
    opt.reset()
    p = np.array([1.0])
    for _ in range(5):
        opt.step([p], [quad_grad(p)])
    np.testing.assert_allclose(p, a[-1], rtol=0, atol=0)


# -- declarations and validation -----------------------------------------------

@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_declarations_are_complete(name):
    cls = OPTIMIZERS[name]
    assert cls.name == name and cls.title and cls.rule_latex
    assert cls.hyperparameters[0].name == "lr"
    names = [h.name for h in cls.hyperparameters]
    assert len(names) == len(set(names))
    for h in cls.hyperparameters:
        assert h.doc and h.symbol
        assert h.validate(h.default) == h.default  # every default is valid
    # the rule's LaTeX uses every numeric hyperparameter's symbol
    for h in cls.hyperparameters:
        if h.kind is float:
            assert h.symbol in cls.rule_latex, (name, h.name)


BAD_VALUES = {
    "lr": [0.0, -0.1, float("nan"), float("inf"), 1e6, "fast"],
    "beta": [-0.1, 1.0, 1.5, float("nan")],
    "beta1": [-0.01, 1.0, float("inf")],
    "beta2": [1.0, -1.0, float("nan")],
    "eps": [-1e-8, float("nan"), float("inf")],
    "weight_decay": [-0.1, float("nan")],
    "nesterov": ["maybe", 2],
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_invalid_hyperparameter_is_rejected_with_its_value(name):
    cls = OPTIMIZERS[name]
    checked = 0
    for h in cls.hyperparameters:
        for bad in BAD_VALUES[h.name]:
            with pytest.raises(HyperparameterError) as err:
                make(name, **{h.name: bad})
            assert h.name in str(err.value)
            assert repr(bad) in str(err.value) or str(bad) in str(err.value)
            checked += 1
    assert checked >= 2


def test_unknown_names_are_rejected():
    with pytest.raises(HyperparameterError, match="unknown optimizer 'adom'"):
        make("adom")
    with pytest.raises(HyperparameterError, match="no hyperparameter 'momentum'"):
        make("sgd", momentum=0.9)
    assert issubclass(HyperparameterError, ValueError)


def test_boundary_values_are_accepted():
    make("momentum", beta=0.0)
    make("rmsprop", eps=0.0)
    make("adam", beta1=0.999999, beta2=0.0)
    make("sgd", lr=100.0)


# -- schedules -------------------------------------------------------------------

def test_schedule_factors_closed_form():
    s = optim.make_schedule("step", step_size=3, gamma=0.5)
    assert [s.factor(t) for t in range(1, 8)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    s = optim.make_schedule("exponential", gamma=0.9)
    assert s.factor(1) == 1 and s.factor(3) == pytest.approx(0.81)
    s = optim.make_schedule("cosine", total_steps=10, lr_min_ratio=0.0)
    assert s.factor(1) == pytest.approx(1) and s.factor(6) == pytest.approx(0.5) and s.factor(11) == pytest.approx(0)
    s = optim.make_schedule("cosine", total_steps=10, lr_min_ratio=0.2)
    assert s.factor(11) == pytest.approx(0.2)
    s = optim.make_schedule("inverse_time", decay=0.5)
    assert s.factor(1) == 1 and s.factor(5) == pytest.approx(1 / 3)
    assert optim.make_schedule().factor(1000) == 1


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_schedule_sets_the_effective_lr_of_each_step(name):
    # with an exponential schedule, step t must equal a constant-lr optimizer
    # whose lr is lr*gamma^(t-1), checked through SGD-like first steps of fresh state:
    opt = make(name, lr=0.1, schedule="exponential", schedule_params={"gamma": 0.5})
    assert [opt.lr_at(t) for t in (1, 2, 3)] == pytest.approx([0.1, 0.05, 0.025])
    if name == "sgd":
        p = np.array([1.0])
        for _ in range(3):
            opt.step([p], [np.array([1.0])])
        assert p[0] == pytest.approx(1 - 0.1 - 0.05 - 0.025)


def test_bad_schedule_is_rejected():
    with pytest.raises(HyperparameterError, match="unknown learning-rate schedule"):
        make("sgd", schedule="linear")
    with pytest.raises(HyperparameterError, match="gamma"):
        make("sgd", schedule="step", schedule_params={"gamma": 2.0})
    with pytest.raises(HyperparameterError, match="step_size"):
        make("sgd", schedule="step", schedule_params={"step_size": 0})


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_large_arrays_stepped_in_slices_equal_small_ones(name):
    # A weight matrix big enough to be stepped slice by slice must get exactly the numbers
    # each of its elements would get alone (the rules are elementwise).
    from optim.base import CHUNK

    rng = np.random.default_rng(3)
    n = 2 * CHUNK + 123
    p0 = rng.normal(size=n).astype(np.float32)
    grads = [rng.normal(size=n).astype(np.float32) for _ in range(4)]
    big = p0.copy().reshape(-1, 1)
    opt = make(name, lr=0.01)
    for gr in grads:
        opt.step([big], [gr.reshape(-1, 1)])
    idx = [0, CHUNK - 1, CHUNK, n - 1]
    small = p0[idx].copy()
    o = make(name, lr=0.01)
    for gr in grads:
        o.step([small], [gr[idx]])
    np.testing.assert_array_equal(big[idx, 0], small)
