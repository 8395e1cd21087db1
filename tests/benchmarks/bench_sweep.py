"""Benchmark: outcome maps and learning-rate sweeps through the compiled engine (prints figures; asserts nothing).

Run from the repository root: ``python tests/benchmarks/bench_sweep.py``. Targets (issue 18):
outcome maps of 4 optimizers at 256 x 256 x 500 steps on Rosenbrock <= 1.0 s warm and <= 3 s for a newly
typed formula including compilation; an lr sweep of 4 optimizers x 41 rates x 8 seeds x 1000 steps and an
(lr, beta) map of 41 x 21 x 8 seeds x 1000 steps <= 0.2 s each.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import optim  # noqa: E402
import surfaces  # noqa: E402
from surfaces import engine, sweep  # noqa: E402

RACERS = [("sgd", {"lr": 1e-3}), ("momentum", {"lr": 1e-3}), ("rmsprop", {"lr": 1e-2}), ("adam", {"lr": 1e-2})]


#: CPU seconds (all threads) of the last ``timed`` call: other work on the machine stretches wall time, not this
LAST_CPU = [0.0]


def timed(fn) -> tuple[float, object]:
    """Return (wall seconds, result) of one call of ``fn``; its CPU seconds go to ``LAST_CPU``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    LAST_CPU[0] = time.process_time() - c0
    return time.perf_counter() - t0, out


def maps(surface, n=256, steps=500) -> list:
    """Return the outcome maps of the four racers on ``surface``."""
    return [sweep.outcome_map(surface, name, optim.make(name, **hp), surface.window, n, steps, 0.05)
            for name, hp in RACERS]


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; engine workers {engine.WORKERS}")
    ros = surfaces.get("rosenbrock")
    cold, _ = timed(lambda: maps(ros))
    warm, cpu = float("inf"), float("inf")
    for _ in range(3):
        warm = min(warm, timed(lambda: maps(ros))[0])
        cpu = min(cpu, LAST_CPU[0])
    print(f"outcome maps 4 x 256 x 256 x 500 on Rosenbrock: first {cold:.2f} s (compiles), warm {warm:.2f} s "
          f"(target 1.0 s; {4 * 256 * 256 * 500 / warm / 1e6:.0f} M point-steps/s), CPU {cpu:.2f} s; "
          f"load average now {os.getloadavg()[0]:.1f}")
    warm = engine.warm_shared_kernels()
    print(f"shared kernels of all {len(optim.OPTIMIZERS)} optimizers compiled (the server does this once at start): "
          f"{warm:.2f} s")
    typed = surfaces.from_formula("(1.5 - x + x y)^2 + 0.1 (x^2 + y^2)", ((-4.5, 4.5), (-4.5, 4.5)))
    new, _ = timed(lambda: maps(typed))
    print(f"outcome maps of a newly typed formula: {new:.2f} s including compilation (target 3 s)")

    start = [ros.start]
    opts = [(name, optim.make(name, **hp)) for name, hp in RACERS]
    sweep.lr_sweep(ros, opts, start, 10, noise=0.1, seeds=range(8))  # compile paths for noise
    t_lr = min(timed(lambda: sweep.lr_sweep(ros, opts, start, 1000, noise=0.1, seeds=range(8)))[0] for _ in range(3))
    print(f"lr sweep 4 optimizers x 41 rates x 8 seeds x 1000 steps: {t_lr:.3f} s (target 0.2 s)")
    adam = optim.make("adam", lr=1e-2)
    t_b = min(timed(lambda: sweep.beta_sweep(ros, "adam", adam, start, 1000, noise=0.1, seeds=range(8)))[0]
              for _ in range(3))
    print(f"(lr, beta) map 41 x 21 x 8 seeds x 1000 steps: {t_b:.3f} s (target 0.2 s)")
    print("compile seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in engine.COMPILE_SECONDS.items()))
    print("fallbacks to NumPy: " + (", ".join(f"{k}: {v}" for k, v in engine.FALLBACKS.items()) or "none"))


if __name__ == "__main__":
    main()
