"""Where a network sweep's trainings run: the local worker pool, or the Dask cluster the deployment names.

The one choice is ``make_executor()``: ``DESCENT_DASK_SCHEDULER=tcp://host:port``
sends every sweep's trainings to that Dask distributed scheduler (so a
department can point every replica at one cluster); without it they run in
this server's own pool of worker processes (at most ``MAX_WORKERS``, each at
lower priority with one BLAS thread, as the single-training engine's
workers). Either way ``surfaces.network.sweep.train_point`` runs each one, so
the same seeds give the same numbers.

``SweepEngine`` keeps at most one sweep per session, runs it in a thread of
its own (the page only reads its progress) and stops it when the session
presses Stop, starts another sweep, or has been gone ``GRACE`` seconds.

Considered and not done: letting Dask run every single training too (an
embedded LocalCluster as the default engine). The training engine
(``app/jobs.py``) streams epochs to the page, shares identical trainings
between sessions and stops a job mid-epoch; Dask's futures return one value
at the end and cannot interrupt a running task, so that would mean two
engines' worth of plumbing on top of Dask rather than one engine.

Nothing here imports Streamlit.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

from surfaces.network.datasets import Dataset
from surfaces.network.sweep import Executor, Outcome, Plan, Result, SweepFailed, code_version, run_sweep

from .jobs import GRACE, _bare_main, _worker_init

log = logging.getLogger(__name__)

SCHEDULER_ENV = "DESCENT_DASK_SCHEDULER"
#: worker processes of the local pool (this machine has two cores; the server keeps its share by their priority)
MAX_WORKERS = int(os.environ.get("DESCENT_SWEEP_WORKERS", "2"))
#: seconds of one core a whole sweep may need by the cost estimate
BUDGET = float(os.environ.get("DESCENT_SWEEP_BUDGET", "300"))
#: seconds to reach a Dask scheduler before the sweep reports that it cannot
CONNECT_TIMEOUT = 10.0

RUNNING, DONE, STOPPED, FAILED = "running", "done", "stopped", "failed"


class LocalPool(Executor):
    """This server's own pool of worker processes (forkserver), lower priority, one BLAS thread each."""

    name = "this server's worker pool"

    def __init__(self, max_workers: int = MAX_WORKERS):
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(method)
        if method == "forkserver":
            self.ctx.set_forkserver_preload(["app.jobs"])  # the training engine's preload: the same fork server
        self.slots = max(1, max_workers)
        self.lock = threading.Lock()
        self.pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.slots, mp_context=self.ctx, initializer=_worker_init)

    def submit(self, fn: Callable, *args):
        """Return the future of ``fn(*args)`` in a worker; a pool broken by a killed worker is replaced first."""
        with self.lock:
            try:
                with _bare_main():  # a new worker must not re-run the page script (see app.jobs)
                    return self.pool.submit(fn, *args)
            except BrokenProcessPool:
                self.pool = self._new_pool()
                with _bare_main():
                    return self.pool.submit(fn, *args)
            except RuntimeError:  # the interpreter is exiting and has shut the pool down
                raise SweepFailed("the server is shutting down; the sweep stopped") from None

    def wait(self, futures: list, timeout: float) -> list:
        """Return the finished futures, waiting at most ``timeout`` seconds for the first."""
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, future) -> Outcome:
        """Return the Outcome; a worker that died takes the pool with it: say so, and start a new pool."""
        try:
            return future.result()
        except BrokenProcessPool:
            with self.lock:
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new_pool()
            raise SweepFailed("a training worker ended unexpectedly (out of memory or killed) and the sweep "
                              "lost its trainings; press Run the sweep to start it again") from None

    def close(self) -> None:
        """End the pool's workers (tests, benchmarks)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskCluster(Executor):
    """The Dask distributed cluster at ``address``; a client connects once and is shared by every sweep."""

    def __init__(self, address: str, connect_timeout: float = CONNECT_TIMEOUT):
        try:
            from distributed import Client  # noqa: PLC0415  only a deployment that names a cluster needs it
        except ImportError:
            raise SweepFailed(f"{SCHEDULER_ENV} names a Dask cluster but the distributed package is not "
                              "installed (pip install -r requirements.txt)") from None
        self.address = address
        self.name = f"the Dask cluster at {address}"
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise SweepFailed(f"cannot reach the Dask scheduler at {address} ({e}); check {SCHEDULER_ENV} or "
                              "start the cluster") from None
        self._check_workers()

    @property
    def slots(self) -> int:
        """Return the cluster's threads now (workers come and go), at least 1."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # noqa: BLE001  a scheduler that went away: the next submit says so
            return 1

    def _check_workers(self) -> None:
        """Raise SweepFailed unless every worker imports this very training code (same fingerprint)."""
        def probe():  # a local function: cloudpickle sends its code, so a worker without Descent can answer
            try:
                from surfaces.network.sweep import code_version as version
            except ImportError as e:
                return f"cannot import Descent ({e})"
            return version()

        try:
            answers = self.client.run(probe)
        except Exception as e:  # noqa: BLE001  whatever the cluster says, the student reads a sentence
            raise SweepFailed(f"the Dask cluster at {self.address} did not answer ({e})") from None
        ours = code_version()
        wrong = {w: v for w, v in answers.items() if v != ours}
        if wrong:
            worker, what = next(iter(wrong.items()))
            raise SweepFailed(f"the Dask worker {worker} runs other training code than this server ({what}); start "
                              "the workers from this version of Descent (PYTHONPATH=<checkout>)")

    def share(self, data: Dataset):
        """Return a handle to the data, sent once to every worker."""
        return self.client.scatter(data, broadcast=True, hash=False)

    def submit(self, fn: Callable, *args):
        """Return the Dask future of ``fn(*args)`` (not pure: a rerun is a new training)."""
        return self.client.submit(fn, *args, pure=False)

    def result(self, future) -> Outcome:
        """Return the Outcome, or raise SweepFailed when the cluster lost the task (its workers died)."""
        try:
            return future.result()
        except Exception as e:  # noqa: BLE001  KilledWorker, CommClosedError...: a sentence for the student
            if isinstance(e, ValueError):
                raise
            raise SweepFailed(f"the Dask cluster at {self.address} lost a training ({type(e).__name__}); "
                              "press Run the sweep to start again") from None

    def close(self) -> None:
        """Disconnect the client (the cluster goes on)."""
        self.client.close()


def make_executor(environ=os.environ) -> Executor:
    """Return the executor the deployment names: the Dask cluster of ``DESCENT_DASK_SCHEDULER``, else the local pool."""
    address = (environ.get(SCHEDULER_ENV) or "").strip()
    return DaskCluster(address) if address else LocalPool()


class SweepRun:
    """One session's sweep, run in a thread: its plan, the outcomes so far, its state and error."""

    def __init__(self, plan: Plan, data: Dataset, executor: Executor, alive: Callable[[], bool]):
        self.plan = plan
        self.executor_name = executor.name
        self.result = Result(plan, [None] * len(plan))
        self.state = RUNNING
        self.error: str | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self._stop = threading.Event()
        self._alive = alive
        self.thread = threading.Thread(target=self._run, args=(executor, data), name="descent-sweep", daemon=True)
        self.thread.start()

    def _run(self, executor: Executor, data: Dataset) -> None:
        def on_result(point, outcome):
            self.result.outcomes[point.index] = outcome

        try:
            res = run_sweep(self.plan, executor, data, on_result, self._should_stop)
            self.result = res
            self.state = STOPPED if res.stopped else DONE
        except (ValueError, SweepFailed) as e:
            self.error, self.state = str(e), FAILED
        except Exception:  # noqa: BLE001  the student reads a sentence, the operator the traceback
            log.exception("network sweep failed")
            self.error, self.state = "the sweep failed unexpectedly; try other settings, or report it to the teacher", FAILED
        self.ended = time.monotonic()

    def _should_stop(self) -> bool:
        return self._stop.is_set() or not self._alive()

    @property
    def done(self) -> bool:
        """Return True once the sweep has ended, whatever the way."""
        return self.state != RUNNING

    @property
    def stopping(self) -> bool:
        """Return True when a stop was asked and the sweep has not ended yet."""
        return self._stop.is_set() and not self.done

    def stop(self) -> None:
        """Ask the sweep to stop: unfinished trainings are cancelled within a poll."""
        self._stop.set()


class SweepEngine:
    """The server's sweeps: one executor shared by all, at most one sweep per session."""

    def __init__(self, executor_factory: Callable[[], Executor] = make_executor, budget: float = BUDGET,
                 session_alive: Callable[[str], bool] | None = None, grace: float = GRACE):
        self._factory = executor_factory
        self._executor: Executor | None = None
        self.budget = budget
        self.session_alive = session_alive or (lambda session: True)
        self.grace = grace
        self.runs: dict[str, SweepRun] = {}
        self.lock = threading.Lock()

    def executor(self) -> Executor:
        """Return the shared executor, made on first use (a Dask cluster is reached only when a sweep starts)."""
        with self.lock:
            if self._executor is None:
                self._executor = self._factory()
            return self._executor

    def start(self, session: str, plan: Plan, data: Dataset) -> SweepRun:
        """Return the session's new running sweep; its previous one stops. Raises SweepFailed for an unusable cluster."""
        self.stop(session)
        executor = self.executor()
        gone: list[float] = []

        def alive() -> bool:
            if self.session_alive(session):
                gone.clear()
                return True
            gone.append(time.monotonic()) if not gone else None
            return time.monotonic() - gone[0] < self.grace

        run = SweepRun(plan, data, executor, alive)
        with self.lock:
            # an ended sweep of a session that has gone is nobody's any more: its results need no keeping
            for other in [s for s, r in self.runs.items() if r.done and not self.session_alive(s)]:
                del self.runs[other]
            self.runs[session] = run
        return run

    def current(self, session: str) -> SweepRun | None:
        """Return the session's sweep (running or ended), if any."""
        return self.runs.get(session)

    def stop(self, session: str) -> None:
        """Stop the session's running sweep, if any (its results so far stay)."""
        run = self.runs.get(session)
        if run is not None and not run.done:
            run.stop()

    def forget(self, session: str) -> None:
        """Stop and drop the session's sweep."""
        self.stop(session)
        with self.lock:
            self.runs.pop(session, None)
