"""Benchmark: a network sweep on the local worker pool against a Dask cluster of two local workers.

Run from the checkout: ``python tests/benchmarks/bench_mlp_sweep.py``. Not
collected by pytest. Sweeps 4 optimizers (SGD, momentum, RMSProp, Adam) x 7
learning rates x 3 seeds on two moons, 300 epochs each (84 trainings), first
on ``app.sweep_engine.LocalPool`` (two worker processes, one BLAS thread
each, lower priority), then on a Dask cluster this script starts with the
``dask`` command line on loopback (a scheduler and two single-threaded
workers), and prints both wall times, their ratio, and whether the numbers
are identical. ``--epochs``, ``--rates``, ``--seeds`` change the sweep;
``--scheduler tcp://host:port`` uses a running cluster instead; ``--nice 10``
starts the Dask workers at the local pool's priority (compare like with like
on a busy machine). The load average is printed before and after.

Speed is reported as figures and a ratio, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import astuple
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support import local_dask_cluster  # noqa: E402

from app.sweep_engine import DaskCluster, LocalPool  # noqa: E402
from surfaces.network.experiment import Entrant, Experiment, estimated_seconds  # noqa: E402
from surfaces.network.sweep import estimated_seconds as sweep_estimate  # noqa: E402
from surfaces.network.sweep import plan, run_sweep  # noqa: E402

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def timed(p, executor, data) -> tuple[float, list]:
    """Return the wall time of the sweep on ``executor`` and its outcomes."""
    t0 = time.perf_counter()
    res = run_sweep(p, executor, data)
    return time.perf_counter() - t0, res.outcomes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--rates", type=int, default=7)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--nice", type=int, default=0,
                    help="start the Dask workers at this nice level (the local pool's run at 10): on a busy "
                         "machine the lower priority alone makes the local pool look slower")
    ap.add_argument("--scheduler", default="", help="a running Dask scheduler to use instead of starting one")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()[0]
    exp = Experiment(dataset="two_moons", epochs=args.epochs,
                     racers=tuple(Entrant(n, (("lr", 0.01),)) for n in OPTIMIZERS))
    data = exp.load_data()
    p = plan(exp, args.rates, args.seeds)
    one = estimated_seconds(Experiment(dataset="two_moons", epochs=args.epochs, racers=exp.racers[:1]),
                            data.n_train, data.n_test, data.n_features)
    print(f"sweep: {len(OPTIMIZERS)} optimizers x {args.rates} rates x {args.seeds} seeds = {len(p)} trainings, "
          f"two moons ({data.n_train} + {data.n_test} points), hidden {list(exp.hidden)}, {args.epochs} epochs, "
          f"batch {exp.batch_size}; cost estimate {sweep_estimate(p, data):.1f} s of one core "
          f"({one:.2f} s per training); {os.cpu_count()} cores")

    pool = LocalPool(args.workers)
    try:
        timed(plan(exp, 1, 1), pool, data)  # start the pool's processes: not the sweep's time
        local_s, local_out = timed(p, pool, data)
    finally:
        pool.close()
    print(f"local pool, {args.workers} workers:   {local_s:7.2f} s wall  ({len(p) / local_s:.1f} trainings/s)")

    address = args.scheduler
    with contextlib.ExitStack() as stack:
        if not address:
            t0 = time.perf_counter()
            address = stack.enter_context(local_dask_cluster(args.workers, args.nice))
            print(f"dask cluster started in {time.perf_counter() - t0:.1f} s (scheduler + {args.workers} workers "
                  f"at nice {args.nice}; the local pool's workers run at nice 10)")
        cluster = DaskCluster(address)
        try:
            timed(plan(exp, 1, 1), cluster, data)  # the workers import the training code once
            dask_s, dask_out = timed(p, cluster, data)
        finally:
            cluster.close()
    print(f"dask, {args.workers} local workers:   {dask_s:7.2f} s wall  ({len(p) / dask_s:.1f} trainings/s)")
    print(f"ratio dask / local pool: {dask_s / local_s:.2f}")
    same = [astuple(a) == astuple(b) or repr(astuple(a)) == repr(astuple(b)) for a, b in zip(local_out, dask_out)]
    print(f"identical numbers for the same seeds: {sum(same)} of {len(same)} trainings")
    print(f"load average (1 min) before {load0:.1f}, after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
