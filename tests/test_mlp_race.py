"""The live race: optimizers trained in turn, epoch by epoch, get exactly their solo numbers; Stop is even."""

from __future__ import annotations

import numpy as np
import pytest

from surfaces.network.experiment import LIVE_GRID, Entrant, Experiment, run
from surfaces.network.mlp import MLP, train

RACERS = (Entrant("sgd", (("lr", 0.05),)), Entrant("momentum", (("lr", 0.05),)),
          Entrant("rmsprop", (("lr", 0.01),)), Entrant("adam", (("lr", 0.01),)))


def solo(exp: Experiment, racer: Entrant):
    """Return the History of one racer trained alone by ``train``, the way a single run always did."""
    data = exp.load_data()
    model = MLP(data.n_features, exp.hidden, keep_prob=exp.keep_prob, seed=exp.seed, dtype=exp.dtype)
    return train(model, racer.make(), data.X_train, data.y_train, exp.epochs, exp.batch_size, seed=exp.seed,
                 X_test=data.X_test, y_test=data.y_test), model


@pytest.mark.parametrize("keep_prob", [1.0, 0.7])
def test_the_interleaved_race_gives_each_optimizer_its_solo_history(keep_prob):
    # Dropout on too: each racer's masks must come from its own stream, or the turns would mix them.
    exp = Experiment(dataset="two_moons", hidden=(8, 8), keep_prob=keep_prob, batch_size=16, epochs=6,
                     racers=RACERS, seed=3, dtype="float64")
    race = run(exp, landscape=False)
    assert len(race.runs) == len(RACERS)
    for racer, trained in zip(RACERS, race.runs):
        alone, model = solo(exp, racer)
        for key in ("batch_loss_mean", "batch_loss_last", "train_loss", "train_acc", "test_loss", "test_acc"):
            assert getattr(trained.history, key) == getattr(alone, key), (racer.optimizer, key)
        # And the final weights are the solo run's: the boundary is computed from the same network.
        with np.errstate(all="ignore"):
            p = model.predict_proba(np.stack(np.meshgrid(race.xs, race.ys), -1).reshape(-1, 2))
        np.testing.assert_array_equal(trained.proba.ravel(), p.astype(np.float32))


def test_on_epoch_sees_every_racer_once_per_epoch_in_turn_with_snapshots():
    exp = Experiment(hidden=(8,), epochs=5, batch_size=32, racers=RACERS[:3], seed=1)
    seen = []
    rounds = []
    race = run(exp, lambda i, rec: seen.append((rec["epoch"], i, rec.get("boundary"))), landscape=False,
               on_round=lambda e: rounds.append((e, len(seen))))
    assert [(e, i) for e, i, _ in seen] == [(e, i) for e in range(1, 6) for i in range(3)]
    assert rounds == [(e, 3 * e) for e in range(1, 6)]  # a round ends after every racer's epoch
    assert all(b is not None and b.shape == (LIVE_GRID, LIVE_GRID) and b.dtype == np.uint8 for *_, b in seen)
    for r in race.runs:
        assert [e for e, _ in r.frames] == [0, 1, 2, 3, 4, 5]
        assert r.weight_epochs == [0, 1, 2, 3, 4, 5]


def test_stop_leaves_every_optimizer_at_the_same_epoch():
    exp = Experiment(hidden=(8,), epochs=50, batch_size=16, racers=RACERS, seed=0)
    data = exp.load_data()
    batches_per_epoch = -(-data.n_train // exp.batch_size)
    asked = []

    def should_stop():
        asked.append(1)
        # in the middle of epoch 3 of the third racer: racers 1 and 2 have finished epoch 3 already
        return len(asked) >= batches_per_epoch * (2 * 4 + 2) + batches_per_epoch // 2

    race = run(exp, should_stop=should_stop, landscape=False)
    assert race.stopped and race.epochs_done == 2 and race.epochs == 50
    for racer, r in zip(RACERS, race.runs):
        assert r.history.epochs_run == 2 and r.history.epoch == [1, 2]
        # the weights went back to the end of epoch 2: the boundary is that of a two-epoch solo training
        alone, model = solo(Experiment(hidden=(8,), epochs=2, batch_size=16, seed=0), racer)
        assert r.history.train_loss == alone.train_loss
        with np.errstate(all="ignore"):
            p = model.predict_proba(np.stack(np.meshgrid(race.xs, race.ys), -1).reshape(-1, 2))
        np.testing.assert_array_equal(r.proba.ravel(), p.astype(np.float32))
        assert r.weight_epochs[-1] == 2


def test_stop_before_the_first_epoch_ends_leaves_empty_histories():
    exp = Experiment(hidden=(8,), epochs=5, racers=RACERS[:2])
    race = run(exp, should_stop=lambda: True)
    assert race.stopped and race.epochs_done == 0
    assert all(r.history.epochs_run == 0 for r in race.runs)
    assert race.slices == {} and race.slice_note


def test_a_diverging_racer_ends_alone_and_the_others_go_on():
    racers = (Entrant("sgd", (("lr", 100.0),)), Entrant("adam", (("lr", 0.01),)))
    exp = Experiment(hidden=(8,), epochs=8, racers=racers, seed=0)
    race = run(exp)
    bad, good = race.runs
    assert bad.history.diverged_at is not None and bad.history.epochs_run < 8
    assert good.history.epochs_run == 8 and race.epochs_done == 8
    # the diverged path's non-finite weights stay out of the landscape
    assert all(np.isfinite(w).all() for w in bad.weights)
    assert np.isfinite(race.slices["pca"].loss).all()
