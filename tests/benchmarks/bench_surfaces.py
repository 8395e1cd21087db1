"""Benchmark: microseconds per optimizer step of ``surfaces.trace`` on Rosenbrock, against torch.optim.

Run from the repository root: ``python tests/benchmarks/bench_surfaces.py``.
Both sides run the same start, hyperparameters and number of steps and record
the path and the loss at every step; torch uses float64 tensors, the loss
written with torch ops, ``loss.backward()`` and ``opt.step()``. The two paths
are compared to show both ran the same algorithm: the last column counts the
steps over which they agree to 1e-9 (where a rule bounces in Rosenbrock's
valley, last-bit rounding differences grow after a thousand steps or so). Also timed: a 100 x 100
grid of starts for 500 Adam steps in one ``surfaces.trace`` call, on the NumPy path and the compiled engine
(issue 18's target: >= 150 M point-steps/s compiled), with the load average, as other work on the machine
changes wall times.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import optim  # noqa: E402
import surfaces  # noqa: E402
from surfaces import engine  # noqa: E402

STEPS = 3000
REPEATS = 3
START = (-1.2, 1.0)
# name -> hyperparameters; learning rates below Rosenbrock's stability limit for SGD (2 / 1001)
RUNS = {
    "sgd": {"lr": 1e-3},
    "momentum": {"lr": 1e-3, "beta": 0.9},
    "rmsprop": {"lr": 1e-3, "beta": 0.9, "eps": 1e-4},
    "adam": {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def best_time(fn) -> tuple[float, object]:
    """Return the fastest of REPEATS calls of ``fn`` in seconds, and its last result."""
    best, out = float("inf"), None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def torch_run(torch, name: str, hp: dict) -> np.ndarray:
    """Return the (STEPS+1, 2) path of the same run in torch.optim with autograd."""
    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    if name == "sgd":
        opt = torch.optim.SGD([p], lr=hp["lr"])
    elif name == "momentum":  # the article's EMA momentum, step for step (see optim/momentum.py)
        opt = torch.optim.SGD([p], lr=hp["lr"] * (1 - hp["beta"]), momentum=hp["beta"])
    elif name == "rmsprop":
        opt = torch.optim.RMSprop([p], lr=hp["lr"], alpha=hp["beta"], eps=hp["eps"])
    else:
        opt = torch.optim.Adam([p], lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])
    path = torch.empty((STEPS + 1, 2), dtype=torch.float64)
    losses = torch.empty(STEPS + 1, dtype=torch.float64)
    path[0] = p.detach()
    for t in range(1, STEPS + 1):
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        opt.step()
        path[t] = p.detach()
        losses[t - 1] = loss.detach()
    with torch.no_grad():
        losses[STEPS] = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
    return path.numpy()


def main() -> None:
    surface = surfaces.get("rosenbrock")
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not importable: skipping the torch.optim comparison")
    else:
        torch.set_num_threads(1)

    print(f"Rosenbrock from {START}, {STEPS} steps, best of {REPEATS}")
    print(f"{'optimizer':<10} {'trace µs/step':>14} {'torch µs/step':>14} {'ratio':>7} {'steps agreeing':>15}")
    for name, hp in RUNS.items():
        opt = optim.make(name, **hp)
        ours, tr = best_time(lambda opt=opt: surfaces.trace(surface, opt, START, STEPS))
        ours_us = ours / STEPS * 1e6
        if torch is None:
            print(f"{name:<10} {ours_us:>14.2f}")
            continue
        theirs, path = best_time(lambda name=name, hp=hp: torch_run(torch, name, hp))
        theirs_us = theirs / STEPS * 1e6
        apart = np.flatnonzero(~(np.abs(path - tr.path) <= 1e-9).all(axis=1))
        agree = f"{apart[0] - 1}" if len(apart) else f"all {STEPS}"
        print(f"{name:<10} {ours_us:>14.2f} {theirs_us:>14.2f} {theirs_us / ours_us:>6.1f}x {agree:>15}")

    (x0, x1), (y0, y1) = surface.window
    gx, gy = np.meshgrid(np.linspace(x0, x1, 100), np.linspace(y0, y1, 100))
    starts = np.column_stack([gx.ravel(), gy.ravel()])
    adam = optim.make("adam", lr=1e-2)
    print("100 x 100 starts, 500 Adam steps, paths recorded, one surfaces.trace call (target >= 150 M point-steps/s):")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, engine threads {engine.WORKERS}; "
          "CPU ms is summed over threads (less sensitive to other work on the machine than wall time)")
    figures = {}
    for label, compiled in (("NumPy", False), ("compiled", None)):
        t0 = time.perf_counter()
        surfaces.trace(surface, adam, starts, 500, compiled=compiled)
        cold = time.perf_counter() - t0
        repeats = 3 if compiled is False else 9
        (grid_time, cpu), tr = best_wall_and_cpu(
            lambda compiled=compiled: surfaces.trace(surface, adam, starts, 500, compiled=compiled), repeats)
        figures[label] = 500 * 10_000 / grid_time / 1e6
        diverged = sum(d is not None for d in tr.diverged_at)
        print(f"  {label:<9} first call {cold:.2f} s, warm {grid_time * 1e3:.0f} ms = {figures[label]:.0f} M point-steps/s, "
              f"CPU {cpu * 1e3:.0f} ms ({diverged} diverged)")
    print(f"  compiled / NumPy: {figures['compiled'] / figures['NumPy']:.1f}x; load average now {os.getloadavg()[0]:.1f}; "
          "compile seconds so far: " + ", ".join(f"{k} {v:.2f}" for k, v in engine.COMPILE_SECONDS.items()))


def best_wall_and_cpu(fn, repeats: int) -> tuple[tuple[float, float], object]:
    """Return ((fastest wall seconds, fewest CPU seconds of all threads), last result) over ``repeats`` calls of ``fn``."""
    wall = cpu = float("inf")
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return (wall, cpu), out

if __name__ == "__main__":
    main()
