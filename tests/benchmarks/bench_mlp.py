"""Benchmark: our NumPy MLP + optim against PyTorch CPU on the article-sized network.

Run from the checkout: ``python tests/benchmarks/bench_mlp.py``. Not collected
by pytest (no ``test_`` prefix). Prints, from one process:

1. one training epoch of 259 examples x 12288 inputs -> 100 -> 1, batch 32,
   float32, random data, the same initial weights and the same batches for
   both, for SGD, momentum, RMSProp and Adam: the median over repeated epochs
   in the steady state, and the ratio ours / torch; first with both libraries'
   default threads (all cores), then with one thread each;
2. for SGD, a floor: the same epoch reduced to the calls no NumPy version can
   avoid (the gather, the first layer's two products and its step), against
   torch's whole epoch;
3. the wall time of the article's four-optimizer experiment on digits 3-vs-8.

``--calibrate`` instead times 14 small Adam trainings (one BLAS thread, CPU
time) and fits the training budget's cost rates (``SECONDS_PER_*`` in
``surfaces/network/experiment.py``) by least squares on the relative error,
printing the fitted rates and each run's estimate / measured ratio.

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
from surfaces.network.experiment import format_table, run_article_experiment  # noqa: E402
from surfaces.network.mlp import MLP, train  # noqa: E402

M, N, HIDDEN, BATCH = 259, 12288, 100, 32
#: blocks each side runs in turn, and the pause (s) before each block for the other side's threads to sleep
ROUNDS, PAUSE = 4, 0.5


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


class Ours:
    """Our MLP and optimizer, built once; ``epoch`` runs one epoch and returns its timings."""

    def __init__(self, X, y, opt_name: str):
        self.X, self.y = X, y
        self.model = MLP(N, [HIDDEN], seed=0, dtype=np.float32)
        self.opt = optim.make(opt_name, lr=0.01)

    def epoch(self, batches) -> tuple[float, list[float], list[float]]:
        """Return the epoch's seconds and per-batch seconds in loss_and_grads and in step."""
        t_grad, t_step = [], []
        t0 = time.perf_counter()
        for idx in batches:
            a = time.perf_counter()
            _, grads = self.model.loss_and_grads(self.X[idx], self.y[idx])
            b = time.perf_counter()
            self.opt.step(self.model.params, grads)
            t_grad.append(b - a)
            t_step.append(time.perf_counter() - b)
        return time.perf_counter() - t0, t_grad, t_step


class Torch:
    """nn.Linear layers and torch.optim from the same initial weights, built once."""

    def __init__(self, X, y, opt_name: str):
        import torch

        ref = MLP(N, [HIDDEN], seed=0, dtype=np.float32)
        self.net = torch.nn.Sequential(torch.nn.Linear(N, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))
        with torch.no_grad():
            for layer, (W, b) in zip((self.net[0], self.net[2]), zip(ref.params[::2], ref.params[1::2])):
                layer.weight.copy_(torch.from_numpy(W.T.copy()))
                layer.bias.copy_(torch.from_numpy(b))
        self.opt = torch_optimizer(opt_name, self.net.parameters())
        self.loss_fn = torch.nn.BCEWithLogitsLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y.reshape(-1, 1))
        self.from_numpy = torch.from_numpy

    def epoch(self, batches) -> tuple[float, list[float], list[float]]:
        t_grad, t_step = [], []
        t0 = time.perf_counter()
        for idx in batches:
            it = self.from_numpy(idx)
            a = time.perf_counter()
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.net(self.X[it]), self.y[it])
            loss.backward()
            b = time.perf_counter()
            self.opt.step()
            t_grad.append(b - a)
            t_step.append(time.perf_counter() - b)
        return time.perf_counter() - t0, t_grad, t_step


#: the calls no SGD epoch can avoid, in the order a batch makes them (see Floor)
FLOOR_CALLS = ("gather the batch", "first layer's forward product", "its weight-gradient product",
               "its SGD step")


class Floor:
    """Only the calls no SGD epoch can avoid: the gather, the first layer's two products, its step.

    Everything else a real epoch does (the second layer, ReLU, the loss,
    biases, Python) is left out. ``Floor(X)`` makes these calls with NumPy,
    the way ``surfaces.network.mlp`` lays its arrays out (weights ``inputs x units``);
    ``Floor(X, torch=True)`` makes the same four with torch, the way
    ``nn.Linear`` lays them out (weights ``units x inputs``). Each batch's
    four calls are timed one by one, so the two libraries can be compared
    call by call as well as in total.
    """

    def __init__(self, X, torch: bool = False):
        rng = np.random.default_rng(2)
        W = MLP(N, [HIDDEN], seed=0, dtype=np.float32).params[0]
        dz = (rng.standard_normal((BATCH, HIDDEN)) * 1e-3).astype(np.float32)
        if torch:
            import torch as t

            self.X, self.W, self.dz = t.from_numpy(X), t.from_numpy(W.T.copy()), t.from_numpy(dz)
            self.g = t.empty_like(self.W)
            self.calls = self._torch_calls(t)
        else:
            self.X, self.W, self.dz = X, W, dz
            self.g = np.empty_like(W)
            self.xb = np.empty((BATCH, N), dtype=np.float32)
            self.h = np.empty((BATCH, HIDDEN), dtype=np.float32)
            self.opt = optim.make("sgd", lr=0.01)
            self.calls = self._numpy_calls()

    def _numpy_calls(self):
        def gather(idx):  # mode="clip" is how surfaces.network.mlp.train gathers; the default mode is 3x slower
            return np.take(self.X, idx, axis=0, out=self.xb[:len(idx)], mode="clip")

        def forward(xb):
            return np.matmul(xb, self.W, out=self.h[:len(xb)])

        def weight_grad(xb):
            return np.matmul(xb.T, self.dz[:len(xb)], out=self.g)

        def step():
            self.opt.step([self.W], [self.g])

        return gather, forward, weight_grad, step

    def _torch_calls(self, t):
        F = t.nn.functional

        def gather(idx):
            return self.X[idx]

        def forward(xb):
            return F.linear(xb, self.W)

        def weight_grad(xb):
            return t.mm(self.dz[:len(xb)].t(), xb, out=self.g)

        def step():  # what torch.optim.SGD does for one tensor without momentum
            self.W.add_(self.g, alpha=-0.01)

        return (lambda idx: gather(t.from_numpy(idx))), forward, weight_grad, step

    def epoch(self, batches) -> tuple[float, list[tuple[float, ...]], list[float]]:
        """Return the epoch's seconds and, per full batch, the seconds of each of the four calls."""
        gather, forward, weight_grad, step = self.calls
        per_batch = []
        t0 = time.perf_counter()
        for idx in batches:
            a = time.perf_counter()
            xb = gather(idx)
            b = time.perf_counter()
            forward(xb)
            c = time.perf_counter()
            weight_grad(xb)
            d = time.perf_counter()
            step()
            if len(idx) == BATCH:  # the epoch's last, short batch would pull the per-call medians down
                per_batch.append((b - a, c - b, d - c, time.perf_counter() - d))
        return time.perf_counter() - t0, per_batch, []


def time_train_loop(X, y, epochs: int) -> float:
    """Return seconds per epoch of ``surfaces.network.mlp.train`` itself, full-data loss and accuracy included."""
    model = MLP(N, [HIDDEN], seed=0, dtype=np.float32)
    hist = train(model, optim.make("adam", lr=0.01), X, y, epochs=epochs, batch_size=BATCH, seed=1)
    return hist.wall_time / epochs


def alternate(sides: dict, batches) -> dict:
    """Return each side's epoch times and per-batch times, the sides taking turns in blocks (see compare)."""
    t = {k: ([], [], []) for k in sides}
    block = max(1, (len(batches) - 1) // ROUNDS)
    for r in range(ROUNDS):
        epochs = batches[1 + r * block: 1 + (r + 1) * block]
        for k, side in sides.items():
            time.sleep(PAUSE)
            side.epoch(batches[0])
            for epoch in epochs:
                total, g, s = side.epoch(epoch)
                t[k][0].append(total)
                t[k][1].extend(g)
                t[k][2].extend(s)
    return t


def floor(X, y, batches) -> float:
    """Print the four unavoidable calls of an SGD epoch, NumPy against torch, call by call; return the ratio.

    The ratio is our floor against torch's *whole* SGD epoch: above 1.0, no
    SGD epoch built from these NumPy calls can reach the target, whatever the
    rest of the code does.
    """
    t = alternate({"numpy": Floor(X), "torch floor": Floor(X, torch=True), "torch": Torch(X, y, "sgd")}, batches)
    med = {k: statistics.median(v[0]) for k, v in t.items()}
    calls = {k: [statistics.median(c) for c in zip(*t[k][1])] for k in ("numpy", "torch floor")}
    print(f"sgd floor, per batch of {BATCH} (median): the calls no SGD epoch can avoid")
    print(f"  {'call':34s} {'numpy':>8s} {'torch':>8s} {'ratio':>6s}")
    for name, ours, theirs in zip(FLOOR_CALLS, calls["numpy"], calls["torch floor"]):
        print(f"  {name:34s} {ours * 1e3:6.3f}ms {theirs * 1e3:6.3f}ms {ours / theirs:6.2f}")
    f, tf, tt = med["numpy"], med["torch floor"], med["torch"]
    print(f"  one epoch of these calls: numpy {f * 1e3:.2f} ms, torch {tf * 1e3:.2f} ms (ratio {f / tf:.2f}); "
          f"torch's whole SGD epoch {tt * 1e3:.2f} ms")
    print(f"  numpy floor / torch's whole epoch = {f / tt:.2f} (above 1.0, an SGD epoch made of these NumPy calls "
          "cannot reach the target)")
    return f / tt


def compare(X, y, batches, opt_name: str) -> float:
    """Print one epoch's median time for both sides and where the time goes; return ours/torch.

    Each side is built once. They then take turns in blocks of epochs over
    the same batches, so drift in a shared machine's load hits both alike.
    Each block starts after a pause and an untimed epoch: NumPy's BLAS and
    torch's OpenMP each keep their threads spinning for a while after work,
    and the other side's first epoch would otherwise pay for that; the
    untimed epoch also pays for the optimizer state's first allocation.
    """
    t = alternate({"ours": Ours(X, y, opt_name), "torch": Torch(X, y, opt_name)}, batches)
    (t_ours, og, os_), (t_torch, tg, ts) = ([statistics.median(v) for v in t[k]] for k in ("ours", "torch"))
    print(f"{opt_name}: one epoch, {M}x{N} -> {HIDDEN} -> 1, batch {BATCH}, float32 "
          f"(median of {len(t['ours'][0])} epochs in {ROUNDS} alternating blocks)")
    print(f"  ours  {t_ours * 1e3:8.2f} ms   torch {t_torch * 1e3:8.2f} ms   ratio ours/torch = {t_ours / t_torch:.2f}")
    print(f"  per batch (median): forward+backward ours {og * 1e3:.2f} ms vs torch {tg * 1e3:.2f} ms "
          f"(ratio {og / tg:.2f}); optimizer step ours {os_ * 1e3:.2f} ms vs torch {ts * 1e3:.2f} ms "
          f"(ratio {os_ / ts:.2f})")
    return t_ours / t_torch


#: (points or bundled data set, hidden sizes, batch size, epochs): batch-bound to flop-bound, 0.05 s to 10 s each
CALIBRATION_RUNS = [
    (400, (16, 16), 32, 40), (400, (16, 16), 1, 4), (2000, (64, 64), 8, 8), (2000, (256,), 256, 40),
    (1000, (128, 128, 128), 16, 8), (5000, (256, 256), 512, 8), (300, (8,), 4, 20), (3000, (32,), 64, 40),
    (1000, (256, 256, 256, 256), 32, 4), (4000, (256, 256, 256, 256), 1, 1), (5000, (512,), 2000, 20),
    (5000, (16,), 1, 1), ("digits", (100,), 32, 60), ("breast_cancer", (64, 64), 16, 20),
]


def calibrate() -> None:
    """Print the cost rates fitted to timed trainings, beside those the budget uses, and each run's ratio."""
    from scipy.optimize import nnls
    from threadpoolctl import threadpool_limits

    from surfaces.network import experiment as ex

    terms, spent = [], []
    with threadpool_limits(1):
        for data_set, hidden, batch, epochs in CALIBRATION_RUNS:
            params = () if isinstance(data_set, str) else (("n_samples", data_set),)
            exp = ex.Experiment(dataset=data_set if isinstance(data_set, str) else "two_moons",
                                dataset_params=params, hidden=hidden, batch_size=batch, epochs=epochs,
                                racers=(ex.Entrant("adam", (("lr", 0.01),)),))
            data = exp.load_data()
            t0 = time.process_time()
            ex.run(exp, data=data)
            spent.append(time.process_time() - t0)
            terms.append(ex.cost_terms(exp, data.n_train, data.n_test, data.n_features))
            print(f"{data_set!s:>13} hidden {list(hidden)!s:<22} batch {batch:>4} x {epochs:>3} epochs: "
                  f"{spent[-1]:.3f} s, estimate {ex.estimated_seconds(exp, data.n_train, data.n_test, data.n_features):.3f} s")
    A, t = np.array(terms, dtype=float), np.array(spent)
    rates, _ = nnls(A / t[:, None], np.ones_like(t))
    names = ("FLOP", "ACTIVATION", "BATCH", "BATCH_LAYER", "STEP_PARAMETER")
    for name, r in zip(names, rates):
        print(f"SECONDS_PER_{name} = {r:.2g}  (in use: {getattr(ex, 'SECONDS_PER_' + name):.2g})")
    print("fitted estimate / measured per run:", " ".join(f"{v:.2f}" for v in A @ rates / t))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibrate", action="store_true", help="fit the training budget's cost rates, then stop")
    ap.add_argument("--epochs", type=int, default=20, help="epochs timed per side (median reported)")
    ap.add_argument("--optimizers", default="sgd,momentum,rmsprop,adam",
                    help="comma-separated optimizers to compare (default: the article's four)")
    ap.add_argument("--skip-experiment", action="store_true", help="only the one-epoch comparison")
    ap.add_argument("--threads", type=int, default=0,
                    help="only compare with both NumPy's BLAS and torch limited to this many threads "
                         "(default: their defaults, then one thread each)")
    args = ap.parse_args()
    if args.calibrate:
        calibrate()
        return

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    blas_env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL"))}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((M, N), dtype=np.float32)
    y = (rng.random(M) < 0.5).astype(np.float32)
    batches = epoch_batches(args.epochs + 1, seed=1)
    default_threads = torch.get_num_threads()
    # Both libraries' defaults (every core), then one thread each: the app trains in worker
    # processes limited to one BLAS thread, and one thread each compares the code, not the threading.
    for threads in ([args.threads] if args.threads else [0, 1]):
        with threadpool_limits(threads or None):
            torch.set_num_threads(threads or default_threads)
            blas = sorted({f"{i['internal_api']} {i.get('architecture', '')} {i['num_threads']} thread(s)"
                           for i in threadpool_info() if i["user_api"] == "blas"})
            print(f"\n== numpy {np.__version__} ({'; '.join(blas)}), torch {torch.__version__} "
                  f"({torch.get_num_threads()} thread(s)), BLAS env: {blas_env or 'none set'}")
            ratios = {name: compare(X, y, batches, name) for name in args.optimizers.split(",")}
            if "sgd" in ratios:
                floor(X, y, batches)
            print(f"epoch ratio ours/torch with {threads or 'default'} thread(s) (target <= 1.0): "
                  + ", ".join(f"{k} {v:.2f} {'PASS' if v <= 1.0 else 'MISS'}" for k, v in ratios.items()))
    torch.set_num_threads(default_threads)
    t_loop = time_train_loop(X, y, args.epochs)
    print(f"surfaces.network.mlp.train with Adam, per epoch incl. full-data loss and accuracy: {t_loop * 1e3:.2f} ms")

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
