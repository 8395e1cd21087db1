"""Training runs outside the server's interpreter, in a bounded pool of worker processes.

One student's training never holds the interpreter that answers everyone's
sliders: the page submits an Experiment, polls its progress, and may stop it.
Identical experiments started while one runs share that run. Nothing here
imports Streamlit, so a worker process starts light.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

MAX_WORKERS = int(os.environ.get("DESCENT_TRAIN_WORKERS", "2"))
MAX_JOBS_KEPT = 32
GRID = 120  # decision-boundary grid resolution per axis


def load_dataset(exp, csv_bytes: bytes | None = None):
    """Return the Dataset an Experiment names (raises a ValueError subclass on bad input)."""
    from surfaces import datasets

    if exp.dataset == "csv":
        return datasets.from_csv(csv_bytes or b"", exp.csv_label, seed=exp.seed)
    return datasets.load(exp.dataset, **dict(exp.dataset_params))


def run_experiment(exp, csv_bytes: bytes | None, progress, stop) -> dict:
    """Return every racer's history (as dicts) and, for 2-D data, its decision-boundary grid.

    Runs in a worker process. ``progress.put((racer_index, [records...]))``
    reports epochs in small bundles; ``stop.is_set()`` ends training cleanly.
    """
    from surfaces.mlp import MLP, train

    data = load_dataset(exp, csv_bytes)
    start = MLP(data.n_features, exp.hidden, keep_prob=exp.keep_prob, seed=exp.seed, dtype=exp.dtype)
    out: dict = {"runs": [], "dataset": data.description or data.name, "n_train": data.n_train,
                 "n_test": data.n_test, "is_2d": bool(data.is_2d)}
    if data.is_2d:
        X = np.concatenate([data.X_train, data.X_test])
        lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        xs, ys = np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID)
        out.update(xs=xs.tolist(), ys=ys.tolist(), X=data.X_train.tolist(), y=data.y_train.tolist())
    for idx, racer in enumerate(exp.racers):
        model = MLP(data.n_features, exp.hidden, keep_prob=exp.keep_prob, seed=exp.seed, dtype=exp.dtype)
        model.copy_params_from(start)  # every optimizer starts from identical weights
        bundle: list = []
        last_flush = [time.monotonic()]

        def report(epoch, record, _idx=idx, _bundle=bundle, _last=last_flush):
            _bundle.append(dict(record))
            now = time.monotonic()
            if now - _last[0] > 0.2:
                progress.put((_idx, list(_bundle)))
                _bundle.clear()
                _last[0] = now

        hist = train(model, racer.make(), data.X_train, data.y_train, exp.epochs, exp.batch_size, seed=exp.seed,
                     X_test=data.X_test, y_test=data.y_test, callback=report, should_stop=stop.is_set)
        if bundle:
            progress.put((idx, list(bundle)))
        run = {"label": racer.label(), "color": racer.color, "history": hist.to_dict()}
        if data.is_2d:
            gx, gy = np.meshgrid(xs, ys)
            with np.errstate(all="ignore"):
                proba = model.predict_proba(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(GRID, GRID)
            run["proba"] = np.nan_to_num(proba, nan=0.5).astype(np.float32).tolist()
        out["runs"].append(run)
        if hist.stopped:
            out["stopped"] = True
            break
    return out


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
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


@dataclass
class Job:
    """One submitted experiment: its future, its progress so far, and its stop switch."""

    key: str
    n_racers: int
    epochs: int
    future: Future
    progress: object
    stop: object
    started: float = field(default_factory=time.time)
    records: dict = field(default_factory=dict)  # racer index -> list of epoch records
    lock: threading.Lock = field(default_factory=threading.Lock)

    def poll(self) -> None:
        """Move whatever progress the worker reported into ``records``."""
        with self.lock:
            while True:
                try:
                    idx, recs = self.progress.get_nowait()
                except (queue.Empty, EOFError, OSError):
                    break
                self.records.setdefault(idx, []).extend(recs)

    def fraction(self) -> float:
        """Return the share of all epochs of all racers done so far, 0..1."""
        done = sum(len(v) for v in self.records.values())
        return min(1.0, done / max(1, self.n_racers * self.epochs))

    @property
    def done(self) -> bool:
        return self.future.done()


class Trainer:
    """The bounded worker pool and the table of recent jobs; one per server process."""

    def __init__(self, max_workers: int = MAX_WORKERS):
        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        self.pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=ctx, initializer=_worker_init)
        self.manager = ctx.Manager()
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def key_of(exp, csv_bytes: bytes | None) -> str:
        """Return the identity of an experiment run (identical ones share a job)."""
        h = hashlib.sha1(repr(exp).encode())
        if csv_bytes:
            h.update(csv_bytes)
        return h.hexdigest()[:20]

    def submit(self, exp, csv_bytes: bytes | None = None) -> Job:
        """Return the job running ``exp``: a running or finished identical one, else a new one."""
        key = self.key_of(exp, csv_bytes)
        with self.lock:
            job = self.jobs.get(key)
            if job is not None and not (job.done and (job.future.exception() or job.stop.is_set())):
                self.jobs.move_to_end(key)
                return job
            progress, stop = self.manager.Queue(), self.manager.Event()
            fut = self.pool.submit(run_experiment, exp, csv_bytes, progress, stop)
            job = Job(key, len(exp.racers), exp.epochs, fut, progress, stop)
            self.jobs[key] = job
            while len(self.jobs) > MAX_JOBS_KEPT:
                old_key, old = next(iter(self.jobs.items()))
                if not old.done:
                    break
                del self.jobs[old_key]
            return job

    def get(self, key: str) -> Job | None:
        """Return a job by key, if still kept."""
        return self.jobs.get(key)

    def shutdown(self) -> None:
        """Stop every job and the pool (used by tests and the command line)."""
        for job in self.jobs.values():
            job.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.manager.shutdown()
