"""Benchmark: the loss-landscape slice after a training, and what tracking the sharpness costs.

Run from the checkout: ``python tests/benchmarks/bench_landscape.py``. Not
collected by pytest. Prints, from one process with one BLAS thread (as a
training worker has):

1. the time of each landscape slice (and of the article's digits network's) (41 x 41 grid, two moons, network
   [16, 16], every training example) after a four-optimizer training, CPU and
   wall seconds: the issue asks for it within 2 s of the training's end;
2. a four-optimizer training on two moons with the sharpness measured every
   ``DEFAULT_SHARPNESS_EVERY`` epochs against the same training without it,
   CPU seconds, and the ratio (the issue asks for at most 25 % more);
3. the same for the edge-of-stability preset (full-batch, every 10 epochs).

Speed is reported, never asserted.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from surfaces.network.experiment import (  # noqa: E402
    ARTICLE,
    DEFAULT_SHARPNESS_EVERY,
    Experiment,
    _slices,
    run,
)
from surfaces.network.mlp import MLP  # noqa: E402


def one_thread() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        print("(threadpoolctl missing: BLAS keeps its own threads)")


def timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def main() -> None:
    one_thread()
    exp = Experiment(dataset="two_moons", hidden=(16, 16), epochs=200, batch_size=32, seed=0)
    data = exp.load_data()
    training = run(exp, landscape=False)
    start = MLP(data.n_features, exp.hidden, seed=exp.seed, dtype=exp.dtype)
    print(f"two moons, {data.n_train} training examples, [16, 16] ({start.n_parameters} weights), "
          f"{len(exp.racers)} optimizers x {exp.epochs} epochs")
    for _ in range(3):
        training.slices = {}
        _, cpu, wall = timed(lambda: _slices(training, training.runs, start, data, exp.seed))
        parts = ", ".join(f"{k} {s.seconds:.2f} s" for k, s in training.slices.items())
        print(f"  landscape, both slices 41x41 with the paths: {cpu:.2f} s CPU, {wall:.2f} s wall ({parts})")
    article = replace(ARTICLE, epochs=100)
    adata = article.load_data()
    atraining = run(article, landscape=False)
    astart = MLP(adata.n_features, article.hidden, seed=article.seed, dtype=article.dtype)
    _, cpu, wall = timed(lambda: _slices(atraining, atraining.runs, astart, adata, article.seed))
    print(f"  the article's network (digits, [100], {astart.n_parameters} weights, {adata.n_train} examples, "
          f"4 x 100 epochs): both slices {cpu:.2f} s CPU, {wall:.2f} s wall {atraining.slice_note}")
    for name, e in (("two moons, batch 32, 4 optimizers, 200 epochs", exp),
                    ("edge-of-stability preset (full batch, 600 epochs)", None)):
        if e is None:
            from app.experiment import presets

            e = replace(presets()["edge_of_stability"].experiment, sharpness_every=0)
        every = DEFAULT_SHARPNESS_EVERY
        plain, tracked = e, replace(e, sharpness_every=every)
        base = min(timed(lambda x=plain: run(x, landscape=False))[1] for _ in range(2))
        sharp = min(timed(lambda x=tracked: run(x, landscape=False))[1] for _ in range(2))
        print(f"  {name}: {base:.2f} s CPU without sharpness, {sharp:.2f} s with it every {every} epochs: "
              f"+{(sharp / base - 1):.0%}")


if __name__ == "__main__":
    main()
