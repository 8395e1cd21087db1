"""Network sweeps: the plan, the aggregation, and the same numbers from the local pool and a real Dask cluster.

The Dask cluster is the one ``DESCENT_DASK_SCHEDULER`` names (``.ci/run`` starts
a scheduler and two workers with the ``dask`` command line); without it the
test starts its own the same way on loopback, so it runs everywhere.
"""

from __future__ import annotations

import math
import os
from dataclasses import astuple

import numpy as np
import pytest

from app.sweep_engine import SCHEDULER_ENV, DaskCluster, LocalPool, SweepEngine
from surfaces.network import experiment as network
from surfaces.network.experiment import Entrant, Experiment
from surfaces.network.sweep import (
    LIMITS,
    SweepBudgetError,
    SweepError,
    SweepFailed,
    check_budget,
    plan,
    rate_grid,
    run_sweep,
    with_rate,
)
from tests.support import free_port, local_dask_cluster, wait_for_dask_workers

#: 2 optimizers x 2 rates x 2 seeds, a few epochs: small enough for CI, enough to tell seeds and rates apart
SMALL = Experiment(dataset="two_moons", hidden=(8,), batch_size=32, epochs=15,
                   racers=(Entrant("sgd", (("lr", 0.1),)), Entrant("adam", (("lr", 0.01),))), seed=3)


@pytest.fixture(scope="module")
def data():
    return SMALL.load_data()


@pytest.fixture(scope="module")
def small_plan():
    return plan(SMALL, n_rates=2, n_seeds=2, decades=2)


@pytest.fixture(scope="module")
def local_result(small_plan, data):
    pool = LocalPool(max_workers=2)
    try:
        yield run_sweep(small_plan, pool, data)
    finally:
        pool.close()


@pytest.fixture(scope="module")
def dask_address():
    """Return the scheduler DESCENT_DASK_SCHEDULER names, else one started here with the dask command line."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if address:
        wait_for_dask_workers(address, 2)  # .ci/run starts two
        yield address
        return
    with local_dask_cluster(2) as address:
        yield address


def _rows(result):
    return [astuple(o) for o in result.outcomes]


def _same(a, b) -> bool:
    """Return True when two outcome rows are equal number for number (NaN equal to NaN)."""
    return all((x == y) or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b))


def test_dask_cluster_gives_exactly_the_local_pools_numbers(small_plan, data, local_result, dask_address):
    cluster = DaskCluster(dask_address)
    try:
        assert cluster.slots >= 2
        remote = run_sweep(small_plan, cluster, data)
    finally:
        cluster.close()
    assert len(small_plan) == 8 and remote.done_count == 8 and not remote.stopped
    for a, b in zip(_rows(local_result), _rows(remote)):
        assert _same(a, b), (a, b)


def test_a_sweep_point_is_the_race_at_that_rate_and_seed(small_plan, data, local_result):
    """Reference: ``run`` on the whole experiment (both racers racing), the swept racer's lr and the seed set."""
    for point in (small_plan.points[0], small_plan.points[-1]):
        race = network.run(with_rate(SMALL, point.racer, point.lr, point.seed), data=data, landscape=False)
        h = race.runs[point.racer].history
        got = local_result.outcomes[point.index]
        assert got.train_loss == h.train_loss[-1] and got.test_loss == h.test_loss[-1]
        assert got.train_acc == h.train_acc[-1] and got.test_acc == h.test_acc[-1]
        assert got.epochs_run == SMALL.epochs


def test_seeds_spread_and_rates_differ(local_result):
    for racer in range(2):
        v = local_result.values(racer, "train_loss")
        assert v.shape == (2, 2) and np.isfinite(v).all()
        assert (v[:, 0] != v[:, 1]).all()  # another seed: other initial weights and batches
        mean, low, high = local_result.summary(racer, "train_loss")
        assert (low < high).all() and (low <= mean).all() and (mean <= high).all()


def test_best_rate_is_the_one_with_the_lowest_mean_final_loss(small_plan, local_result):
    for racer in range(2):
        by_rate: dict[float, list[float]] = {}
        for p in small_plan.points:
            if p.racer == racer:
                by_rate.setdefault(p.lr, []).append(local_result.outcomes[p.index].train_loss)
        means = {lr: sum(v) / len(v) for lr, v in by_rate.items()}
        assert local_result.best_rate(racer) == min(means, key=means.get)


def test_plan_has_every_racer_rate_and_seed_once():
    p = plan(SMALL, n_rates=3, n_seeds=2, decades=2)
    assert len(p) == 2 * 3 * 2 and p.seeds == (3, 4)
    keys = {(pt.racer, pt.lr, pt.seed) for pt in p.points}
    assert len(keys) == len(p)
    for pt in p.points:
        (only,) = pt.experiment.racers
        assert dict(only.hp)["lr"] == pt.lr and pt.experiment.seed == pt.seed
        assert only.optimizer == SMALL.racers[pt.racer].optimizer


def test_rate_grid_is_centred_on_the_racers_rate_and_stays_in_the_declared_range():
    import optim

    grid = rate_grid(optim.make("adam"), 0.01, 5, 4)
    assert np.allclose(grid, [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    top = rate_grid(optim.make("sgd"), 50.0, 7, 4)  # lr's declared top is 100: the grid is shifted down to it
    assert top[-1] == 100.0 and np.isclose(top[0], 0.01) and len(top) == 7
    assert (np.diff(np.log10(top)) > 0).all()


@pytest.mark.parametrize("kwargs, words", [
    (dict(n_rates=0), "1 to 15 learning rates"),
    (dict(n_rates=16), "1 to 15 learning rates"),
    (dict(n_seeds=0), "1 to 10 seeds"),
    (dict(decades=0.0), "decades"),
    (dict(decades=float("nan")), "decades"),
])
def test_bad_sweep_settings_say_what_to_change(kwargs, words):
    with pytest.raises(SweepError, match=words) as e:
        plan(SMALL, **kwargs)
    assert isinstance(e.value, ValueError)


def test_a_too_big_sweep_is_refused_with_the_settings_to_change(data):
    hi_rates, hi_seeds = LIMITS["rates"][1], LIMITS["seeds"][1]
    big = plan(SMALL.__class__(**{**SMALL.__dict__, "epochs": 2000}), n_rates=hi_rates, n_seeds=hi_seeds)
    with pytest.raises(SweepBudgetError) as e:
        check_budget(big, data, budget=60)
    text = str(e.value)
    assert isinstance(e.value, ValueError)
    for part in (f"{len(big)} trainings", f"fewer learning rates (now {hi_rates})", f"fewer seeds (now {hi_seeds})",
                 "fewer epochs (now 2000)", "fewer optimizers (now 2)"):
        assert part in text


def test_a_stop_ends_the_sweep_with_what_finished(data):
    p = plan(SMALL, n_rates=3, n_seeds=3, decades=2)
    pool = LocalPool(max_workers=1)
    seen = []
    try:
        res = run_sweep(p, pool, data, on_result=lambda pt, o: seen.append(pt.index), should_stop=lambda: bool(seen))
    finally:
        pool.close()
    assert res.stopped and 1 <= res.done_count < len(p)
    assert sorted(seen) == [i for i, o in enumerate(res.outcomes) if o is not None]


def test_an_unreachable_cluster_is_said_in_words():
    with pytest.raises(SweepFailed, match="cannot reach the Dask scheduler"):
        DaskCluster(f"tcp://127.0.0.1:{free_port()}", connect_timeout=1.0)


def test_the_engine_keeps_one_sweep_per_session(data):
    pool = LocalPool(max_workers=1)
    eng = SweepEngine(lambda: pool)
    try:
        first = eng.start("s", plan(SMALL, n_rates=3, n_seeds=3), data)
        second = eng.start("s", plan(SMALL, n_rates=1, n_seeds=1), data)
        first.thread.join(30)
        second.thread.join(60)
        assert first.state == "stopped" and second.state == "done"
        assert eng.current("s") is second and second.result.done_count == 2
    finally:
        pool.close()
