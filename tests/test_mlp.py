"""The MLP's loss and gradients against independent references, and the training loop's contract."""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest

import optim
from surfaces.network.mlp import MLP, History, MLPError, first_epoch_reaching, train


def reference_loss(params, X, y):
    """Mean BCE of a ReLU net written from the textbook formulas, independently of surfaces.network.mlp."""
    a = X
    for W, b in zip(params[0:-2:2], params[1:-2:2]):
        a = np.maximum(a @ W + b, 0.0)
    z = (a @ params[-2] + params[-1])[:, 0]
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def central_differences(f, params, h=1e-6):
    """Return d f / d params by central differences, one entry at a time."""
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = f()
            p[i] = old - h
            down = f()
            p[i] = old
            g[i] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def small_problem(m=7, n=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    y = (rng.random(m) < 0.5).astype(np.float64)
    y[:2] = [0.0, 1.0]
    return X, y


@pytest.mark.parametrize("hidden", [[], [3], [4, 3], [3, 2, 2]])
def test_loss_matches_textbook_forward(hidden):
    X, y = small_problem()
    net = MLP(4, hidden, seed=1, dtype=np.float64)
    for b in net.params[1::2]:
        b[:] = np.random.default_rng(2).normal(0, 0.3, b.shape)
    assert net.loss(X, y) == pytest.approx(reference_loss(net.params, X, y), rel=1e-12)
    assert net.loss_and_grads(X, y)[0] == pytest.approx(reference_loss(net.params, X, y), rel=1e-12)


@pytest.mark.parametrize("hidden", [[], [3], [4, 3], [3, 2, 2]])
@pytest.mark.parametrize("keep_prob", [1.0, 0.6])
def test_gradients_match_central_differences(hidden, keep_prob):
    X, y = small_problem()
    net = MLP(4, hidden, keep_prob=keep_prob, seed=3, dtype=np.float64)
    # Non-zero biases so that db is exercised away from the initial point.
    for b in net.params[1::2]:
        b[:] = np.random.default_rng(4).normal(0, 0.2, b.shape)
    # The same rng seed on both sides gives the same dropout mask in every evaluation.
    _, grads = net.loss_and_grads(X, y, np.random.default_rng(11))
    numeric = central_differences(lambda: net.loss_and_grads(X, y, np.random.default_rng(11))[0], net.params)
    for g, n in zip(grads, numeric):
        assert g.shape == n.shape
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-8)


def test_dropout_gradient_differs_from_no_dropout():
    """A sanity check that the dropout case above really drew a mask."""
    X, y = small_problem()
    net = MLP(4, [6], keep_prob=0.5, seed=0, dtype=np.float64)
    g_drop = net.loss_and_grads(X, y, np.random.default_rng(0))[1]
    plain = MLP(4, [6], keep_prob=1.0, seed=0, dtype=np.float64)
    g_plain = plain.loss_and_grads(X, y)[1]
    assert not np.allclose(g_drop[0], g_plain[0])


def test_keep_prob_one_draws_nothing_and_drops_nothing():
    X, y = small_problem(m=50)
    net = MLP(4, [30, 20], keep_prob=1.0, seed=0, dtype=np.float64)
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    l1, g1 = net.loss_and_grads(X, y, rng)
    assert rng.bit_generator.state == before
    l2, g2 = net.loss_and_grads(X, y, np.random.default_rng(99))
    assert l1 == l2
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)
    assert l1 == pytest.approx(reference_loss(net.params, X, y), rel=1e-12)


def test_dropout_keeps_expected_fraction_and_scales():
    keep = 0.7
    net = MLP(10, [1000, 500], keep_prob=keep, seed=0, dtype=np.float64)
    X = np.random.default_rng(0).standard_normal((200, 10))
    _, _, masks = net._forward(net._inputs(X), np.random.default_rng(1), True)
    for mask in masks:
        kept = mask != 0
        # 100 000+ Bernoulli(0.7) draws: the fraction is within 0.01 of 0.7 with overwhelming probability.
        assert kept.mean() == pytest.approx(keep, abs=0.01)
        np.testing.assert_allclose(mask[kept], 1 / keep)
        assert mask.mean() == pytest.approx(1.0, abs=0.015)


def test_he_initial_scale_per_layer_and_zero_biases():
    net = MLP(3000, [1000, 400], seed=0, dtype=np.float64)
    fan_ins = [3000, 1000, 400]
    for W, b, fan_in in zip(net.params[0::2], net.params[1::2], fan_ins):
        target = math.sqrt(2.0 / fan_in)
        # Relative standard error of a sample std over k draws is about 1/sqrt(2k).
        tol = 5 / math.sqrt(2 * W.size)
        assert W.std() == pytest.approx(target, rel=max(tol, 1e-3))
        assert abs(W.mean()) < 5 * target / math.sqrt(W.size)
        assert W.shape[0] == fan_in
        assert not b.any()
    assert [p.shape for p in net.params] == [(3000, 1000), (1000,), (1000, 400), (400,), (400, 1), (1,)]


def test_same_seed_same_weights_and_dtypes_agree():
    a = MLP(20, [8, 5], seed=7)
    b = MLP(20, [8, 5], seed=7)
    c = MLP(20, [8, 5], seed=8)
    d = MLP(20, [8, 5], seed=7, dtype=np.float64)
    for pa, pb, pd in zip(a.params, b.params, d.params):
        np.testing.assert_array_equal(pa, pb)
        assert pa.dtype == np.float32 and pd.dtype == np.float64
        np.testing.assert_allclose(pa, pd, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(a.params[0], c.params[0])
    # Turning dropout on must not move the starting point.
    np.testing.assert_array_equal(MLP(20, [8, 5], keep_prob=0.5, seed=7).params[0], a.params[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_at_saturated_logits(dtype):
    net = MLP(2, [], seed=0, dtype=dtype)
    net.params[0][:] = 0
    X = np.ones((4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for logit in (100.0, -1000.0):
            net.params[1][:] = logit
            # Closed form: BCE(z, y=0) = log(1 + e^z), BCE(z, y=1) = log(1 + e^-z).
            wrong = 0.0 if logit > 0 else 1.0
            loss, grads = net.loss_and_grads(X, np.full(4, wrong))
            assert loss == pytest.approx(abs(logit), rel=1e-6)
            assert all(np.isfinite(g).all() for g in grads)
            # dz = sigmoid(z) - y = +-1 exactly for the wrong label
            assert grads[1][0] == pytest.approx(1.0 if wrong == 0 else -1.0)
            right, _ = net.loss_and_grads(X, np.full(4, 1.0 - wrong))
            assert 0.0 <= right < 1e-30
            p = net.predict_proba(X)
            assert np.all(p == (1.0 if logit > 0 else 0.0))
            np.testing.assert_array_equal(net.predict(X), [int(logit > 0)] * 4)


def test_saturated_outputs_give_no_subnormal_gradients():
    """Gradients below float32's smallest normal number are flushed to zero; larger ones are kept.

    A confident right answer at z = -90 has sigmoid(z) - y = e^-90 / (1 + e^-90), about 8e-40:
    subnormal in float32, where a matrix product with it runs several times slower.
    """
    tiny = np.finfo(np.float32).tiny
    nets = {}
    for dtype in (np.float32, np.float64):
        net = MLP(2, [3], seed=0, dtype=dtype)
        net.params[0][:] = [[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]]
        net.params[1][:] = 0.0
        net.params[2][:] = [[-30.0], [-30.0], [-30.0]]
        net.params[3][:] = 0.0
        nets[dtype] = net
    saturated = np.array([[1.0, 1.0], [1.0, 1.2], [2.0, 2.0]])  # hidden sums 3, 3.3, 6 -> z = -90, -99, -180
    _, g32 = nets[np.float32].loss_and_grads(saturated, np.zeros(3))
    _, g64 = nets[np.float64].loss_and_grads(saturated, np.zeros(3))
    # the float64 reference: every gradient entry is nonzero and below float32's normal range
    assert all(np.all((a != 0) & (np.abs(a) < tiny)) for a in g64)
    for a in g32:
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, 0.0)
    # add one unsaturated example (z = -4.5): its gradient is normal, kept, and agrees with float64
    X = np.vstack([saturated, [[0.1, 0.0]]])
    _, g32 = nets[np.float32].loss_and_grads(X, np.zeros(4))
    _, g64 = nets[np.float64].loss_and_grads(X, np.zeros(4))
    for a32, a64 in zip(g32, g64):
        assert np.all((a32 == 0) | (np.abs(a32) >= tiny)), "a subnormal gradient entry survived"
        np.testing.assert_allclose(a32, a64, rtol=1e-5, atol=4 * tiny)
    assert g32[3][0] > 1e-3


def test_float32_stays_float32_through_training():
    X, y = small_problem(m=40)
    for name in optim.OPTIMIZERS:
        net = MLP(4, [5, 3], keep_prob=0.8, seed=0, dtype=np.float32)
        loss, grads = net.loss_and_grads(X, y)
        assert isinstance(loss, float)
        assert all(g.dtype == np.float32 for g in grads)
        train(net, optim.make(name), X, y, epochs=2, batch_size=16)
        assert all(p.dtype == np.float32 for p in net.params), name
        assert net.predict_proba(X).dtype == np.float32


def easy_problem(m=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(m // 2), np.ones(m - m // 2)]
    X = rng.standard_normal((m, 2)) * 0.6 + np.where(y[:, None] == 1, 1.5, -1.5)
    return X, y


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_training_lowers_the_loss_for_every_optimizer(name):
    X, y = easy_problem()
    net = MLP(2, [8], seed=0)
    start = reference_loss([p.astype(np.float64) for p in net.params], X, y)
    lr = 0.01 if name == "lion" else 0.05  # Lion moves every weight by lr: it wants a smaller rate
    hist = train(net, optim.make(name, lr=lr), X, y, epochs=15, batch_size=16, X_test=X, y_test=y)
    end = reference_loss([p.astype(np.float64) for p in net.params], X, y)
    assert end < 0.5 * start
    assert hist.train_loss[-1] == pytest.approx(end, rel=1e-4)
    assert hist.train_acc[-1] >= 0.95
    assert hist.epochs_run == 15 and hist.diverged_at is None and not hist.stopped
    assert len(hist.test_acc) == 15


class CountingSGD:
    """An optimizer honouring the public interface that counts its steps and batch sizes."""

    name = "counting"

    def __init__(self):
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        for p, g in zip(params, grads):
            p -= 0.01 * g


def test_one_step_per_minibatch_with_leftovers():
    X, y = easy_problem(m=10)
    opt = CountingSGD()
    hist = train(MLP(2, [3]), opt, X, y, epochs=4, batch_size=4)
    assert opt.t == 4 * 3  # batches of 4, 4, 2 per epoch
    assert hist.epoch == [1, 2, 3, 4]
    assert hist.test_loss == [] and hist.test_acc == []


def test_records_and_callback():
    X, y = easy_problem(m=30)
    seen = []
    hist = train(MLP(2, [4]), optim.make("sgd", lr=0.1), X, y, epochs=3, batch_size=7,
                 callback=lambda e, r: seen.append((e, dict(r))))
    assert [e for e, _ in seen] == [1, 2, 3]
    for (e, r), row in zip(seen, hist.records()):
        assert r["epoch"] == e
        assert r["train_loss"] == row["train_loss"] and r["batch_loss_last"] == row["batch_loss_last"]
        assert row["test_acc"] is None
    assert all(0.0 <= a <= 1.0 for a in hist.train_acc)


def test_should_stop_ends_after_the_current_batch():
    X, y = easy_problem(m=100)
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    opt = CountingSGD()
    hist = train(MLP(2, [4]), opt, X, y, epochs=50, batch_size=10, should_stop=should_stop)
    assert opt.t == 3
    assert hist.stopped and hist.epochs_run == 1 and hist.diverged_at is None
    assert math.isfinite(hist.train_loss[0])


def test_divergence_is_detected_and_stops():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)) * 100
    y = (X[:, 0] > 0).astype(float)
    hist = train(MLP(5, [20]), optim.make("sgd", lr=100.0), X, y, epochs=50, batch_size=16)
    assert hist.diverged_at is not None
    assert hist.epochs_run == hist.diverged_at < 50
    assert not math.isfinite(hist.train_loss[-1]) or not math.isfinite(hist.batch_loss_last[-1])


def test_dropout_training_is_reproducible_from_the_seed():
    X, y = easy_problem(m=40)
    runs = []
    for _ in range(2):
        net = MLP(2, [6], keep_prob=0.5, seed=3)
        train(net, optim.make("adam"), X, y, epochs=3, batch_size=8, seed=5)
        runs.append(net.params)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_history_round_trip_is_plain_json():
    h = History(epoch=[1, 2], batch_loss_mean=[0.5, math.nan], batch_loss_last=[0.4, math.inf],
                train_loss=[0.3, math.nan], train_acc=[0.75, 0.5], test_loss=[0.35, math.nan],
                test_acc=[0.7, 0.5], wall_time=1.25, stopped=False, diverged_at=2, epochs_run=2,
                meta={"optimizer": "sgd", "hyperparameters": {"lr": 0.01}})
    text = json.dumps(h.to_dict(), allow_nan=False)
    back = History.from_dict(json.loads(text))
    assert back.epoch == [1, 2] and back.diverged_at == 2 and back.wall_time == 1.25
    assert back.meta == h.meta and back.epochs_run == 2
    assert back.train_acc == [0.75, 0.5] and back.batch_loss_mean[0] == 0.5
    assert math.isnan(back.batch_loss_mean[1]) and math.isnan(back.batch_loss_last[1])


def test_history_from_training_round_trips():
    X, y = easy_problem(m=30)
    h = train(MLP(2, [4]), optim.make("momentum"), X, y, epochs=2, batch_size=8, X_test=X, y_test=y)
    back = History.from_dict(json.loads(json.dumps(h.to_dict(), allow_nan=False)))
    assert back == h


def test_first_epoch_reaching():
    h = History(epoch=[1, 2, 3, 4], train_acc=[0.5, 0.98, 0.99, 1.0], train_loss=[0.9, 0.5, 0.1, 0.05])
    assert first_epoch_reaching(h, 0.99) == 3
    assert first_epoch_reaching(h, 0.6) == 2
    assert first_epoch_reaching(h, 1.01) is None
    assert first_epoch_reaching(h, 0.1, key="train_loss") == 3
    with pytest.raises(ValueError):
        first_epoch_reaching(h, 0.5, key="nonsense")


@pytest.mark.parametrize("kwargs, words", [
    ({"n_inputs": 0, "hidden": [3]}, "inputs"),
    ({"n_inputs": 2, "hidden": [0]}, "between 1 and 1024"),
    ({"n_inputs": 2, "hidden": [1025]}, "between 1 and 1024"),
    ({"n_inputs": 2, "hidden": [4] * 7}, "at most 6 hidden layers"),
    ({"n_inputs": 2, "hidden": [2.5]}, "whole number"),
    ({"n_inputs": 2, "hidden": "big"}, "whole number"),
    ({"n_inputs": 2, "keep_prob": 0.0}, "keep_prob"),
    ({"n_inputs": 2, "keep_prob": 1.5}, "keep_prob"),
    ({"n_inputs": 2, "dtype": "int32"}, "float32 or float64"),
    ({"n_inputs": 100_000, "hidden": [1024]}, "parameters"),
])
def test_bad_settings_have_clear_messages(kwargs, words):
    with pytest.raises(MLPError, match=words):
        MLP(**kwargs)


def test_bad_inputs_have_clear_messages():
    net = MLP(3, [2])
    with pytest.raises(MLPError, match=r"shape \(examples, 3\)"):
        net.loss(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(MLPError, match="one label per example"):
        net.loss(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(MLPError, match="0 or 1"):
        train(net, CountingSGD(), np.zeros((4, 3)), np.array([0, 1, 2, 1]), epochs=1, batch_size=2)
    with pytest.raises(MLPError, match="epochs"):
        train(net, CountingSGD(), np.zeros((4, 3)), np.array([0, 1, 0, 1]), epochs=0, batch_size=2)
    assert issubclass(MLPError, ValueError)


def test_article_experiment_same_start_for_every_racer(capsys):
    from surfaces.network.experiment import ARTICLE_TRAIN_ACC, main, run_article_experiment

    seen = []
    both = run_article_experiment(epochs=2, hidden=[8], optimizers=["adam", "sgd"],
                                  callback=lambda name, e, r: seen.append((name, e)))
    alone = run_article_experiment(epochs=2, hidden=[8], optimizers=["sgd"])
    assert seen == [("adam", 1), ("sgd", 1), ("adam", 2), ("sgd", 2)]  # a race: epoch by epoch, in turn
    # SGD's run does not depend on who raced before it: same weights, same batches.
    assert both["sgd"].train_loss == alone["sgd"].train_loss
    assert both["sgd"].test_acc == alone["sgd"].test_acc
    assert main(["--epochs", "1", "--hidden", "4", "--optimizers", "sgd", "adam"]) == 0
    out = capsys.readouterr().out
    assert "adam" in out and f"{ARTICLE_TRAIN_ACC['adam']:.3f}" in out
    assert main(["--epochs", "1", "--lr", "-1"]) == 2
    assert "learning rate" in capsys.readouterr().err


@pytest.mark.parametrize("hidden, batch_size, epochs", [((16, 16), 1, 3), ((128, 128), 32, 30)])
def test_cost_estimate_is_within_a_factor_of_three_of_a_measured_run(hidden, batch_size, epochs, capsys):
    """The budget's estimate against the CPU time of a real run: batch-bound and flop-bound, one BLAS thread.

    A loose ratio, not a timed assert: the estimate only has to tell a
    minute from an hour. The measured ratio is printed (pytest -s).
    """
    from threadpoolctl import threadpool_limits

    from surfaces.network.experiment import Entrant, Experiment, estimated_seconds, run

    exp = Experiment(dataset="two_moons", dataset_params=(("n_samples", 1000),), hidden=hidden,
                     batch_size=batch_size, epochs=epochs, racers=(Entrant("adam", (("lr", 0.01),)),))
    data = exp.load_data()
    with threadpool_limits(1):
        start = time.process_time()
        run(exp, data=data, landscape=False)  # the training's estimate; the landscape has its own bound
        spent = time.process_time() - start
    ratio = estimated_seconds(exp, data.n_train, data.n_test, data.n_features) / spent
    with capsys.disabled():
        print(f"\nestimate / measured CPU time for hidden {list(hidden)}, batch {batch_size}: {ratio:.2f}")
    assert 1 / 3 < ratio < 3
