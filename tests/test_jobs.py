"""The training engine (app/jobs.py) with real worker processes and small experiments on two moons.

Each test states a defect of the old pool (issue 15) and fails on it: a
killed worker broke every later training; a second Train left the first
running; a closed tab's training ran on; one watcher's Stop ended a shared run.
Waits poll the engine's state with a generous timeout; nothing asserts a duration.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import pytest

from app.jobs import DONE, FAILED, LOST, QUEUED, RUNNING, STOPPED, Engine
from surfaces.network.experiment import BudgetError, Entrant, Experiment

ADAM = (Entrant("adam", (("lr", 0.01),)),)
SHORT = Experiment(dataset="two_moons", dataset_params=(("n_samples", 200),), hidden=(8,), epochs=5, racers=ADAM)
# Long enough to be caught mid-training (seconds), well inside the budget.
LONG = replace(SHORT, epochs=2000, batch_size=4)


def wait_until(predicate, timeout: float = 90.0) -> None:
    """Return once ``predicate()`` holds; fail after ``timeout`` seconds (a hang, not a slow machine)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("the engine did not reach the expected state")
        time.sleep(0.05)


class Sessions:
    """A stand-in for Streamlit's runtime: which sessions are still connected."""

    def __init__(self):
        self.closed: set[str] = set()

    def alive(self, session: str) -> bool:
        return session not in self.closed


@pytest.fixture
def sessions():
    return Sessions()


@pytest.fixture
def engine(sessions):
    eng = Engine(max_workers=2, session_alive=sessions.alive, grace=0.3)
    yield eng
    eng.shutdown()


def started(job) -> bool:
    return job.state == RUNNING and job.fraction() > 0


def test_a_worker_killed_mid_training_loses_only_its_job_and_the_next_training_runs(engine):
    job = engine.watch("s1", LONG)
    wait_until(lambda: started(job))
    os.kill(job.process.pid, signal.SIGKILL)
    wait_until(lambda: job.done)
    assert job.state == LOST and job.training is None
    assert "ended unexpectedly" in job.error and "Train" in job.error  # words, not an exception element
    again = engine.watch("s1", SHORT)
    wait_until(lambda: again.done)
    assert again.state == DONE and again.training.runs[0].history.epochs_run == SHORT.epochs
    # the very experiment that was lost runs again from scratch, in another session too
    retry = engine.watch("s2", LONG)
    assert retry is not job
    wait_until(lambda: started(retry))
    engine.unwatch("s2")
    wait_until(lambda: retry.done)


def test_a_second_train_in_one_session_stops_the_first(engine):
    first = engine.watch("s1", LONG)
    wait_until(lambda: started(first))
    assert engine.watch("s1", LONG) is first and not first.stopping  # the same Train again: nothing restarts
    second = engine.watch("s1", SHORT)
    wait_until(lambda: first.done and second.done)
    assert first.state == STOPPED and first.training.stopped
    assert first.training.runs[0].history.epochs_run < LONG.epochs
    assert second.state == DONE and engine.watched("s1") is second


def test_a_closed_sessions_training_is_stopped(engine, sessions):
    job = engine.watch("gone", LONG)
    wait_until(lambda: started(job))
    sessions.closed.add("gone")
    wait_until(lambda: job.done)
    assert job.state == STOPPED and engine.watched("gone") is None


def test_two_sessions_share_a_run_and_one_stop_only_detaches_its_watcher(engine):
    mid = replace(LONG, epochs=600)
    a = engine.watch("s1", mid)
    b = engine.watch("s2", mid)
    assert a is b  # identical experiments: one run, results shared
    wait_until(lambda: started(a))
    engine.unwatch("s1")
    assert not a.stopping and a.watchers == {"s2"}
    wait_until(lambda: a.done)
    assert a.state == DONE and a.training.runs[0].history.epochs_run == mid.epochs
    assert engine.watched("s2") is a and engine.watched("s1") is None
    # the last watcher's Stop does stop it
    c = engine.watch("s3", LONG)
    wait_until(lambda: started(c))
    engine.unwatch("s3")
    wait_until(lambda: c.done)
    assert c.state == STOPPED


def test_one_session_holds_at_most_one_worker_and_the_queue_is_first_come_first_served(sessions):
    eng = Engine(max_workers=1, session_alive=sessions.alive, grace=0.3)
    try:
        hog = eng.watch("hog", LONG)
        wait_until(lambda: started(hog))
        waiting = [eng.watch(s, replace(SHORT, seed=k)) for k, s in enumerate(("s1", "s2"))]
        assert [j.state for j in waiting] == [QUEUED, QUEUED]
        assert [eng.ahead(j) for j in waiting] == [0, 1]
        # the hog's second Train replaces its first; it does not take a second worker, nor jump the queue
        hog2 = eng.watch("hog", replace(LONG, seed=9))
        wait_until(lambda: hog.done and all(j.done for j in waiting) and hog2.started is not None)
        assert hog.state == STOPPED and all(j.state == DONE for j in waiting)
        assert waiting[0].started < waiting[1].started < hog2.started
        eng.unwatch("hog")
    finally:
        eng.shutdown()


def test_a_training_over_the_budget_is_refused_before_it_runs(engine):
    huge = replace(SHORT, dataset_params=(("n_samples", 5000),), hidden=(256,) * 4, batch_size=1, epochs=2000)
    with pytest.raises(BudgetError) as refused:
        engine.check(huge, huge.load_data())
    for words in ("epochs (now 2000)", "batch size (now 1)", "256 x 256 x 256 x 256", "60 s"):
        assert words in str(refused.value)
    assert engine.check(SHORT, SHORT.load_data()) < engine.budget
    job = engine.watch("s1", huge)  # a page that skipped the check still cannot start it
    wait_until(lambda: job.done)
    assert job.state == FAILED and "fewer epochs" in job.error and job.training is None
