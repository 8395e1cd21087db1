"""Benchmark: our NumPy MLP + optim.Adam against PyTorch CPU on the article-sized network.

Run from the checkout: ``python tests/benchmarks/bench_mlp.py``. Not collected
by pytest (no ``test_`` prefix). Prints, from one process:

1. one training epoch of 259 examples x 12288 inputs -> 100 -> 1, batch 32,
   float32, random data, the same initial weights and the same batches for
   both; the median over repeated epochs of each, and the ratio ours / torch;
2. the wall time of the article's four-optimizer experiment on digits 3-vs-8.

Speed is reported as a ratio to a peer run in the same process, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import optim  # noqa: E402
from surfaces.batches import minibatches  # noqa: E402
from surfaces.experiment import format_table, run_article_experiment  # noqa: E402
from surfaces.mlp import MLP, train  # noqa: E402

M, N, HIDDEN, BATCH = 259, 12288, 100, 32


def epoch_batches(epochs: int, seed: int) -> list[list[np.ndarray]]:
    """Return the index batches of each epoch, drawn once so both sides see the same ones."""
    rng = np.random.default_rng(seed)
    return [list(minibatches(M, BATCH, rng)) for _ in range(epochs)]


def torch_optimizer(name: str, params):
    """Return the torch.optim configuration that equals optim's rule of that name at lr 0.01."""
    import torch

    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01)
    if name == "momentum":  # the moving-average form: see optim/momentum.py
        return torch.optim.SGD(params, lr=0.01 * (1 - 0.9), momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=0.01, alpha=0.9, eps=1e-4)
    return torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8)


def time_ours(X, y, batches, opt_name: str) -> tuple[list[float], list[float], list[float]]:
    """Return per-epoch seconds of our MLP + optim, and per-batch seconds in loss_and_grads and in step."""
    model = MLP(N, [HIDDEN], seed=0, dtype=np.float32)
    opt = optim.make(opt_name, lr=0.01)
    times, t_grad, t_step = [], [], []
    for epoch in batches:
        t0 = time.perf_counter()
        for idx in epoch:
            a = time.perf_counter()
            _, grads = model.loss_and_grads(X[idx], y[idx])
            b = time.perf_counter()
            opt.step(model.params, grads)
            t_grad.append(b - a)
            t_step.append(time.perf_counter() - b)
        times.append(time.perf_counter() - t0)
    return times, t_grad, t_step


def time_torch(X, y, batches, opt_name: str) -> tuple[list[float], list[float], list[float]]:
    """Return the same for nn.Linear layers and torch.optim, from the same weights over the same batches."""
    import torch

    ref = MLP(N, [HIDDEN], seed=0, dtype=np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(N, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))
    with torch.no_grad():
        for layer, (W, b) in zip((net[0], net[2]), zip(ref.params[::2], ref.params[1::2])):
            layer.weight.copy_(torch.from_numpy(W.T.copy()))
            layer.bias.copy_(torch.from_numpy(b))
    opt = torch_optimizer(opt_name, net.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.reshape(-1, 1))
    times, t_grad, t_step = [], [], []
    for epoch in batches:
        t0 = time.perf_counter()
        for idx in epoch:
            it = torch.from_numpy(idx)
            a = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[it]), yt[it])
            loss.backward()
            b = time.perf_counter()
            opt.step()
            t_grad.append(b - a)
            t_step.append(time.perf_counter() - b)
        times.append(time.perf_counter() - t0)
    return times, t_grad, t_step


def time_train_loop(X, y, epochs: int) -> float:
    """Return seconds per epoch of ``surfaces.mlp.train`` itself, full-data loss and accuracy included."""
    model = MLP(N, [HIDDEN], seed=0, dtype=np.float32)
    hist = train(model, optim.make("adam", lr=0.01), X, y, epochs=epochs, batch_size=BATCH, seed=1)
    return hist.wall_time / epochs


def compare(X, y, batches, opt_name: str) -> float:
    """Print one epoch's median time for both sides and where the time goes; return ours/torch."""
    ours, theirs, og, os_, tg, ts = [], [], [], [], [], []
    # Interleave the two sides so drift in a shared machine's load hits both alike.
    for i in range(0, len(batches), 2):
        t, g, s = time_ours(X, y, batches[i:i + 2], opt_name)
        ours += t[1:] if i == 0 else t  # the very first epoch pays for allocation and thread start-up
        og, os_ = og + g, os_ + s
        t, g, s = time_torch(X, y, batches[i:i + 2], opt_name)
        theirs += t[1:] if i == 0 else t
        tg, ts = tg + g, ts + s
    t_ours, t_torch = statistics.median(ours), statistics.median(theirs)
    og, os_, tg, ts = (statistics.median(v) for v in (og, os_, tg, ts))
    print(f"{opt_name}: one epoch, {M}x{N} -> {HIDDEN} -> 1, batch {BATCH}, float32 "
          f"(median of {len(ours)} epochs)")
    print(f"  ours  {t_ours * 1e3:8.2f} ms   torch {t_torch * 1e3:8.2f} ms   ratio ours/torch = {t_ours / t_torch:.2f}")
    print(f"  per batch (median): forward+backward ours {og * 1e3:.2f} ms vs torch {tg * 1e3:.2f} ms "
          f"(ratio {og / tg:.2f}); optimizer step ours {os_ * 1e3:.2f} ms vs torch {ts * 1e3:.2f} ms "
          f"(ratio {os_ / ts:.2f})")
    return t_ours / t_torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=20, help="epochs timed per side (median reported)")
    ap.add_argument("--skip-experiment", action="store_true", help="only the one-epoch comparison")
    ap.add_argument("--threads", type=int, default=0,
                    help="limit both NumPy's BLAS and torch to this many threads (default: leave both as they are)")
    args = ap.parse_args()

    import torch

    if args.threads:
        # A shared, oversubscribed machine punishes spinning BLAS threads; one thread each compares the code.
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)

    from threadpoolctl import threadpool_info

    blas_env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL"))}
    blas = sorted({f"{i['internal_api']} {i.get('architecture', '')} {i['num_threads']} thread(s)"
                   for i in threadpool_info() if i["user_api"] == "blas"})
    print(f"numpy {np.__version__} ({'; '.join(blas)}), torch {torch.__version__} "
          f"({torch.get_num_threads()} thread(s)), BLAS env: {blas_env or 'none set'}")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((M, N), dtype=np.float32)
    y = (rng.random(M) < 0.5).astype(np.float32)
    batches = epoch_batches(args.epochs + 1, seed=1)
    ratios = {name: compare(X, y, batches, name) for name in ("sgd", "momentum", "rmsprop", "adam")}
    print("epoch ratio ours/torch (target <= 1.0): "
          + ", ".join(f"{k} {v:.2f} {'PASS' if v <= 1.0 else 'MISS'}" for k, v in ratios.items()))
    t_loop = time_train_loop(X, y, args.epochs)
    print(f"surfaces.mlp.train with Adam, per epoch incl. full-data loss and accuracy: {t_loop * 1e3:.2f} ms")

    if not args.skip_experiment:
        t0 = time.perf_counter()
        histories = run_article_experiment()
        elapsed = time.perf_counter() - t0
        print()
        print(format_table(histories))
        print(f"four-optimizer article experiment (500 epochs, digits 3 vs 8, float32): {elapsed:.1f} s "
              "(target < 60 s)")


if __name__ == "__main__":
    main()
