"""The training engine: every training runs in a worker process; sessions share results, not control.

- One job is one worker process running ``surfaces.network.experiment.run``.
  A worker that dies (``kill -9``, out of memory) loses its own job only: the
  job is reported in words and the next training starts a fresh process, so
  there is no pool to break.
- At most ``max_workers`` jobs run at once, started first come, first served;
  a session watches at most one job (a new Train leaves the old one), so one
  student holds at most one worker while others wait their turn.
- Identical experiments share one job. A watcher's Stop only detaches that
  watcher; a job stops when no one watches it any more, and a session that
  ended (its tab closed for ``grace`` seconds) stops watching.
- A training estimated to need more than ``budget`` seconds of one core is
  refused before it starts, with the settings to change.

Nothing here imports Streamlit, so a worker process starts light.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import replace

from surfaces.network.experiment import Training, check_budget, run

log = logging.getLogger(__name__)

MAX_WORKERS = int(os.environ.get("DESCENT_TRAIN_WORKERS", "2"))
#: seconds of one core a training may need by the cost estimate
BUDGET = float(os.environ.get("DESCENT_TRAIN_BUDGET", "60"))
#: a running job past this many times its budget in wall time is stopped (the estimate is only an estimate)
OVERRUN = 4.0
#: seconds a session may be gone (a dropped connection) before its job loses it as a watcher
GRACE = 15.0
#: seconds a stopped worker gets to finish its batch before it is ended
KILL_AFTER = 5.0
MAX_JOBS_KEPT = 32
TICK = 0.1  # seconds between the engine's looks at its workers
FLUSH = 0.2  # seconds between a worker's progress reports

QUEUED, RUNNING, DONE, STOPPED, FAILED, LOST = "queued", "running", "done", "stopped", "failed", "lost"
ENDED = (DONE, STOPPED, FAILED, LOST)


def _worker_init() -> None:
    """Make a training worker yield to the server: lower priority, one BLAS thread.

    The server's interpreter answers every student's sliders; a training that
    took both cores through a multi-threaded BLAS would make them all wait.
    """
    try:
        os.nice(10)
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_limits  # optional: without it BLAS keeps its own thread count

        threadpool_limits(1)
    except ImportError:
        pass


def _work(exp, csv_bytes: bytes | None, out, stop, budget: float) -> None:
    """Run ``exp`` in a worker process: epochs go to ``out`` in bundles, then ("done", Training) or ("error", text)."""
    _worker_init()
    bundle: list = []
    last = time.monotonic()

    def on_epoch(idx: int, record: dict) -> None:
        bundle.append((idx, dict(record)))

    def on_round(epoch: int) -> None:
        # Whole rounds only: the page never sees one optimizer an epoch ahead of the others.
        nonlocal last
        if time.monotonic() - last > FLUSH:
            out.put(("epochs", list(bundle)))
            bundle.clear()
            last = time.monotonic()

    try:
        data = exp.load_data() if csv_bytes is None else exp.load_data(csv_bytes)
        training = run(exp, on_epoch, stop.is_set, data=data, budget=budget, on_round=on_round)
    except ValueError as e:  # the project's own errors say what to change
        out.put(("error", str(e)))
        return
    except Exception:  # noqa: BLE001  a student sees a sentence, the operator the traceback
        log.exception("training failed")
        out.put(("error", "the training failed unexpectedly; try other settings, or report it to the teacher"))
        return
    if bundle:
        out.put(("epochs", list(bundle)))
    for r in training.runs:
        r.weights = None  # the landscape is computed: the weight snapshots (megabytes) stay in the worker
    out.put(("done", training))


@contextlib.contextmanager
def _bare_main():
    """Hide the ``__main__`` module's file from a worker being started.

    A new process re-runs the file of ``__main__`` before it runs its task.
    During a Streamlit run ``__main__`` is the page script, so every worker
    would start by importing Streamlit and drawing the app (with a warning
    per call, and a second or so of work). The worker needs nothing from it.
    """
    saved, bare = sys.modules["__main__"], types.ModuleType("__main__")
    sys.modules["__main__"] = bare
    try:
        yield
    finally:
        if sys.modules["__main__"] is bare:  # a script run that began meanwhile installed its own: keep that
            sys.modules["__main__"] = saved


class Job:
    """One training: its experiment, its state, the epochs reported so far and, at the end, its Training.

    ``state`` is queued, running, done, stopped, failed or lost; ``error``
    says in words why a failed or lost job has no result. ``watchers`` are
    the sessions following it.
    """

    _ids = itertools.count(1)

    def __init__(self, key: str, exp, csv_bytes: bytes | None):
        self.id = next(self._ids)
        self.key = key
        self.experiment = exp
        self.csv_bytes = csv_bytes
        self.n_racers = len(exp.racers)
        self.epochs = exp.epochs
        self.state = QUEUED
        self.error: str | None = None
        self.training: Training | None = None
        self.records: dict[int, list[dict]] = {}
        self.watchers: set[str] = set()
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.stop_requested: float | None = None
        self.process = None
        self.out = None
        self.stop = None
        self.lock = threading.Lock()

    @property
    def done(self) -> bool:
        """Return True once the job has ended, whatever the way."""
        return self.state in ENDED

    @property
    def stopping(self) -> bool:
        """Return True when a stop was requested and the worker has not ended yet."""
        return self.stop_requested is not None and not self.done

    def reported(self) -> int:
        """Return how many epochs (all racers together) the worker has reported so far."""
        with self.lock:
            return sum(len(v) for v in self.records.values())

    def fraction(self) -> float:
        """Return the share of all epochs of all racers done so far, 0..1."""
        return min(1.0, self.reported() / max(1, self.n_racers * self.epochs))

    def epochs_done(self) -> int:
        """Return the race's epoch: the worker reports whole rounds, so the newest epoch any racer reported.

        (A racer that diverged stops early; the others' epoch is the race's.)
        """
        with self.lock:
            return max((recs[-1]["epoch"] for recs in self.records.values() if recs), default=0)

    def curves(self, key: str = "batch_loss_mean") -> dict[int, tuple[list, list]]:
        """Return racer index -> (epochs, values of ``key``) from the progress so far (records without it skipped)."""
        with self.lock:
            return {i: ([r["epoch"] for r in recs if r.get(key) is not None],
                        [r[key] for r in recs if r.get(key) is not None]) for i, recs in self.records.items()}

    def records_so_far(self) -> dict[int, list[dict]]:
        """Return racer index -> a copy of its list of epoch records so far (shared dicts: read, do not change)."""
        with self.lock:
            return {i: list(recs) for i, recs in self.records.items()}

    def latest_boundaries(self) -> dict[int, tuple[int, object]]:
        """Return racer index -> (epoch, boundary snapshot) of the newest snapshot each racer has sent."""
        with self.lock:
            out = {}
            for i, recs in self.records.items():
                for r in reversed(recs):
                    if r.get("boundary") is not None:
                        out[i] = (r["epoch"], r["boundary"])
                        break
            return out


def experiment_key(exp, csv_bytes: bytes | None) -> str:
    """Return the identity of a training: identical experiments (title aside) share one job."""
    h = hashlib.sha1(repr(replace(exp, title="") if hasattr(exp, "title") else exp).encode())
    if csv_bytes:
        h.update(csv_bytes)
    return h.hexdigest()[:20]


class Engine:
    """The server's trainings: a FIFO queue, at most ``max_workers`` running, one watched job per session.

    ``session_alive(session)`` says whether a session still exists (the app
    asks Streamlit's runtime); a background thread looks after the workers
    every ``TICK`` seconds, so jobs stop even when no page is polling.
    """

    def __init__(self, max_workers: int = MAX_WORKERS, budget: float = BUDGET,
                 session_alive: Callable[[str], bool] | None = None, grace: float = GRACE):
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(method)
        if method == "forkserver":
            # Workers fork from a server that has numpy, scikit-learn and the network loaded: a job starts in ms.
            self.ctx.set_forkserver_preload(["app.jobs"])
        self.max_workers = max_workers
        self.budget = budget
        self.session_alive = session_alive or (lambda session: True)
        self.grace = grace
        self.jobs: dict[int, Job] = {}  # every job kept, by id, oldest first
        self.latest: dict[str, int] = {}  # experiment key -> the id of its newest job
        self.watching: dict[str, int] = {}  # session -> the id of the job it watches
        self.gone_since: dict[str, float] = {}
        self.lock = threading.RLock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="training-engine", daemon=True)
        self.thread.start()

    # -- what a page does --------------------------------------------------------------
    def check(self, exp, data) -> float:
        """Return the estimated seconds of ``exp`` on ``data``; raise BudgetError over the budget."""
        return check_budget(exp, data, self.budget)

    def watch(self, session: str, exp, csv_bytes: bytes | None = None) -> Job:
        """Return the job ``session`` now follows for ``exp``: a running or finished identical one, else a new one.

        The session stops following its previous job first (which stops if no one else follows it).
        """
        key = experiment_key(exp, csv_bytes)
        with self.lock:
            job = self.jobs.get(self.latest.get(key, 0))
            usable = job is not None and job.state not in (STOPPED, FAILED, LOST) and not job.stopping
            if not (usable and self.watching.get(session) == job.id):  # Train twice: keep following, no restart
                self._detach(session)
            if not usable:
                job = Job(key, exp, csv_bytes)
                self.jobs[job.id] = job
                self.latest[key] = job.id
            job.watchers.add(session)
            self.watching[session] = job.id
            return job  # the engine's thread starts it, in turn, within a TICK

    def unwatch(self, session: str) -> None:
        """Stop following: the session's job stops only if no other session follows it."""
        with self.lock:
            self._detach(session)

    def job(self, job_id: int | None) -> Job | None:
        """Return a kept job by id."""
        return self.jobs.get(job_id or 0)

    def watched(self, session: str) -> Job | None:
        """Return the job ``session`` follows, if any."""
        return self.jobs.get(self.watching.get(session, 0))

    def ahead(self, job: Job) -> int:
        """Return how many queued jobs start before ``job``."""
        with self.lock:
            return sum(j.state == QUEUED and j.id < job.id for j in self.jobs.values())

    def running(self) -> list[Job]:
        """Return the jobs whose worker is running."""
        with self.lock:
            return [j for j in self.jobs.values() if j.state == RUNNING]

    def shutdown(self) -> None:
        """End every worker and the engine's thread (tests and the command line)."""
        self.closed.set()
        self.thread.join(timeout=5)
        with self.lock:
            for job in self.jobs.values():
                if job.process is not None and job.process.is_alive():
                    job.process.kill()
                    job.process.join(timeout=5)

    # -- the engine's own work ------------------------------------------------------------
    def _detach(self, session: str) -> None:
        job = self.jobs.get(self.watching.pop(session, 0))
        self.gone_since.pop(session, None)
        if job is None:
            return
        job.watchers.discard(session)
        if not job.watchers and not job.done:
            self._stop(job)

    def _stop(self, job: Job) -> None:
        if job.state == QUEUED:
            job.state = STOPPED
        elif job.stop_requested is None:
            job.stop_requested = time.monotonic()
            job.stop.set()

    def _loop(self) -> None:
        if self.ctx.get_start_method() == "forkserver":
            # Boot the fork server (seconds: it imports numpy, scikit-learn, the network) before the first Train.
            from multiprocessing import forkserver  # the stdlib's module, used only with this start method

            forkserver.ensure_running()
        while not self.closed.wait(TICK):
            try:
                self.tick()
            except Exception:  # noqa: BLE001  the engine must outlive any one bad tick
                log.exception("training engine tick failed")

    def tick(self) -> None:
        """Collect progress, notice ended workers and sessions, start queued jobs (called every TICK)."""
        with self.lock:
            now = time.monotonic()
            for job in list(self.jobs.values()):
                if job.state == RUNNING:
                    self._collect(job, now)
            for session in list(self.watching):
                if self.session_alive(session):
                    self.gone_since.pop(session, None)
                elif now - self.gone_since.setdefault(session, now) >= self.grace:
                    self._detach(session)
            self._schedule()
            self._evict()

    def _collect(self, job: Job, now: float) -> None:
        """Move a worker's reports into its job; end the job when its worker has ended."""
        alive = job.process.is_alive()
        final = None
        while True:
            try:
                kind, payload = job.out.get_nowait()
            except (queue.Empty, EOFError, OSError):
                break
            if kind == "epochs":
                with job.lock:
                    for idx, rec in payload:
                        job.records.setdefault(idx, []).append(rec)
            else:
                final = (kind, payload)
        if final is not None:
            kind, payload = final
            if kind == "done":
                job.training = payload
                job.state = STOPPED if payload.stopped else DONE
            else:
                job.state, job.error = FAILED, payload
            job.process.join(timeout=1)
        elif not alive:
            code = job.process.exitcode
            job.state = STOPPED if job.stop_requested is not None else LOST
            job.error = (f"the training worker ended unexpectedly (exit code {code}) and its training was lost; "
                         "press Train to run it again")
        elif job.stop_requested is not None and now - job.stop_requested > KILL_AFTER:
            job.process.kill()
        elif job.stop_requested is None and now - job.started > OVERRUN * self.budget:
            job.error = f"stopped after {now - job.started:.0f} s, far past the estimate; use smaller settings"
            self._stop(job)

    def _schedule(self) -> None:
        """Start queued jobs, oldest first, while fewer than ``max_workers`` run."""
        running = sum(j.state == RUNNING for j in self.jobs.values())
        for job in self.jobs.values():
            if running >= self.max_workers:
                break
            if job.state != QUEUED:
                continue
            job.out, job.stop = self.ctx.Queue(), self.ctx.Event()
            job.process = self.ctx.Process(target=_work, args=(job.experiment, job.csv_bytes, job.out, job.stop,
                                                               self.budget), daemon=True, name=f"training-{job.id}")
            with _bare_main():
                job.process.start()
            job.csv_bytes = None  # the worker has its copy; an uploaded file is not kept once per job
            job.state, job.started = RUNNING, time.monotonic()
            running += 1

    def _evict(self) -> None:
        """Forget the oldest ended jobs nobody follows beyond ``MAX_JOBS_KEPT``."""
        followed = set(self.watching.values())
        for job_id in list(self.jobs):
            if len(self.jobs) <= MAX_JOBS_KEPT:
                break
            job = self.jobs[job_id]
            if job.done and job_id not in followed:
                del self.jobs[job_id]
                if self.latest.get(job.key) == job_id:
                    del self.latest[job.key]
