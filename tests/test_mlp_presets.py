"""The MLP page's Experiment in the URL (round trip, hostile links) and the lessons its presets teach."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.experiment import Experiment, from_query, presets, to_query
from app.racer import Racer
from surfaces.network.experiment import run
from surfaces.network.mlp import MLP


def test_an_experiment_survives_its_url():
    exp = Experiment(dataset="spiral", dataset_params=(("n_samples", 300), ("noise", 0.1)),
                     hidden=(32, 8), keep_prob=0.8, batch_size=64, epochs=250, seed=7, dtype="float64",
                     sharpness_every=5,
                     racers=(Racer("adam", (("lr", 0.003),), color="#009E73"),
                             Racer("momentum", (("lr", 0.05), ("beta", 0.8)), schedule="cosine",
                                   schedule_hp=(("total_steps", 100),), color="#000000")))
    back, notes = from_query(to_query(exp))
    assert notes == []
    assert back == exp


@pytest.mark.parametrize("params, part", [
    ({"d": "__import__('os')"}, "data set"),
    ({"dp": "noise=1e999"}, "data-set settings"),
    ({"dp": "n_samples=abc"}, "data-set settings"),
    ({"h": "16,<script>"}, "hidden layers"),
    ({"h": "9999"}, "hidden layers"),
    ({"ep": "1e9"}, "epochs"),
    ({"ep": "-3"}, "epochs"),
    ({"kp": "nan"}, "keep prob"),
    ({"kp": "2"}, "keep prob"),
    ({"b": "0x10"}, "batch size"),
    ({"sh": "99999"}, "sharpness every"),
    ({"dt": "float16"}, "dtype"),
    ({"r": ["adam(lr=-1)", "sgd(lr=0.1)"]}, "optimizer 1"),
    ({"r": "exec(print)"}, "optimizer 1"),
])
def test_a_hostile_link_falls_back_part_by_part_with_a_note(params, part):
    good = {"ep": "77", "seed": "5"}
    exp, notes = from_query({**good, **params})
    assert any(part in n for n in notes), notes
    # the good parts of the link survive the bad one
    assert exp.epochs == (77 if "ep" not in params else Experiment().epochs) and exp.seed == 5
    exp.check()


def test_too_many_racers_are_cut_with_a_note():
    exp, notes = from_query({"r": ["sgd(lr=0.1)"] * 12})
    assert len(exp.racers) == 8 and notes


# -- presets: each lesson, with numbers -----------------------------------------------------

def test_every_preset_is_a_valid_experiment_within_the_budget():
    from surfaces.network.experiment import check_budget

    for p in presets().values():
        p.experiment.check()
        check_budget(p.experiment, p.experiment.load_data(), 60)
        assert p.lesson and p.title


def test_article_preset_adaptive_optimizers_reach_99_percent_first():
    exp = presets()["article"].experiment
    epochs = 8
    seen = []
    # The race, stopped after epoch 8 (all four optimizers advance together): the preset itself, not a copy.
    t = run(exp, lambda i, r: seen.append(r["epoch"]), should_stop=lambda: len(seen) >= 4 * epochs,
            landscape=False)
    acc = {r.history.meta["optimizer"]: r.history.train_acc for r in t.runs}
    assert all(len(a) == epochs for a in acc.values())
    first = {k: next((e + 1 for e, v in enumerate(a) if v >= 0.99), None) for k, a in acc.items()}
    assert first["rmsprop"] is not None and first["adam"] is not None
    assert first["sgd"] is None and first["momentum"] is None  # not within 8 epochs
    assert max(acc["rmsprop"][0], acc["adam"][0]) > max(acc["sgd"][0], acc["momentum"][0])


def test_dropout_preset_narrows_the_train_test_gap():
    exp = presets()["dropout"].experiment
    assert exp.keep_prob < 1

    def gap(e):
        h = run(e, landscape=False).runs[0].history
        return h.train_acc[-1] - h.test_acc[-1], h.train_loss[-1], h.test_loss[-1]

    with_dropout, without = gap(exp), gap(replace(exp, keep_prob=1.0))
    assert without[0] >= 0.1  # without dropout the small noisy set is memorised
    assert with_dropout[0] < without[0] / 2
    assert with_dropout[2] - with_dropout[1] < without[2] - without[1]  # the loss gap too


def test_too_large_lr_preset_loss_rises_while_the_small_one_falls():
    exp = presets()["too_large_lr"].experiment
    data = exp.load_data()
    start = MLP(data.n_features, exp.hidden, seed=exp.seed, dtype=exp.dtype).loss(data.X_train, data.y_train)
    small, large = run(exp, landscape=False).runs
    assert small.history.train_loss[-1] < 0.5 * start
    assert large.history.diverged_at is not None or large.history.train_loss[-1] > 2 * start
    assert large.history.train_loss[0] > start  # the very first epoch already goes uphill


def test_edge_of_stability_preset_sharpness_rises_to_two_over_lr_without_passing_it_then_falls_back():
    exp = presets()["edge_of_stability"].experiment
    data = exp.load_data()
    assert exp.batch_size >= data.n_train  # full-batch gradient descent
    (r,) = run(exp, landscape=False).runs
    edge = 2 / r.lr
    epochs, sharp = map(np.array, zip(*r.sharpness))
    assert np.median(sharp[epochs <= 100]) < 0.5 * edge  # starts well below the edge
    peak = int(np.argmax(sharp))
    assert epochs[peak] >= 200  # rises for hundreds of epochs
    assert 0.85 * edge <= sharp[peak] <= edge  # nears 2/lr without passing it (no spike anywhere either)
    assert sharp[-1] < 0.85 * sharp[peak]  # then falls back
    loss = np.asarray(r.history.train_loss)
    assert loss[-1] < 0.1 * loss[0]  # while the loss falls
