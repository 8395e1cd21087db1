"""Benchmark of the surfaces panel's numbers (issue 4): scene build time, payload size, first render, playback.

    python tests/benchmarks/bench_app.py

Prints each figure beside its target. Not collected by pytest: these machines are
shared and noisy, so timings are reported, never asserted in unit tests.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app import plots  # noqa: E402
from app.payload import payload  # noqa: E402
from app.race import run_race  # noqa: E402
from app.racer import PALETTE, Racer  # noqa: E402
from app.scene import Scene, load_surface  # noqa: E402

RACERS = tuple(Racer(n, (("lr", lr),), color=PALETTE[i])
               for i, (n, lr) in enumerate([("sgd", 1e-3), ("momentum", 1e-3), ("rmsprop", 1e-2), ("adam", 5e-2)]))


def scene_build_ms(surface: str, repeats: int = 15) -> tuple[float, float]:
    """Return (median, max) ms to build a new scene (race + payload) on a surface already shown."""
    surf = load_surface(surface)
    image = plots.contour_image(surf, surf.window)  # rendered once per surface and window, then cached
    times = []
    for k in range(repeats):
        # a new start each time, so nothing is reused but the surface and its background
        scene = Scene(surface=surface, racers=RACERS, steps=1000, start=(surf.start[0] + 1e-3 * k, surf.start[1]))
        t = time.perf_counter()
        payload(run_race(scene), image)
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times), max(times)


def payload_kb(surface: str) -> float:
    """Return the size in KB of what travels to the browser for one 4 x 1000-step scene."""
    surf = load_surface(surface)
    scene = Scene(surface=surface, racers=RACERS, steps=1000)
    p = payload(run_race(scene), plots.contour_image(surf, surf.window))
    return len(json.dumps(p, separators=(",", ":")).encode()) / 1024


def payload_3d_kb(scene: Scene) -> tuple[float, float, float]:
    """Return (height grid, paths, both) in KB of JSON: what the 3-D view draws from (issue 20)."""
    p = payload(run_race(scene), "")
    grid = len(json.dumps(p["surface3d"], separators=(",", ":")).encode()) / 1024
    paths = len(json.dumps([[r["paths"], r["loss"]] for r in p["racers"]], separators=(",", ":")).encode()) / 1024
    return grid, paths, grid + paths


def browser_figures() -> tuple[float, float] | None:
    """Return (first full render s, playback fps) measured in headless Chromium, or None without one."""
    from playwright.sync_api import sync_playwright
    from support import CHROMIUM, READY, launch, serve

    if not CHROMIUM:
        print("  (no chromium: browser figures skipped)")
        return None
    with serve() as base, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        t = time.perf_counter()
        page.goto(f"{base}/?n=1000")
        page.wait_for_selector(READY, timeout=60_000)
        page.wait_for_selector("[data-testid='race-frame']", timeout=60_000)
        first = time.perf_counter() - t
        page.wait_for_timeout(4000)  # play for a while: the fps readout is a rolling measure
        fps = float(page.get_attribute("[data-testid='race-fps']", "data-fps") or "nan")
        browser.close()
    return first, fps


def main() -> None:
    print("Descent surfaces panel benchmark (targets from issue 4)")
    for surface in ("rosenbrock", "himmelblau", "rastrigin"):
        med, worst = scene_build_ms(surface)
        print(f"  scene build, 4 optimizers x 1000 steps on {surface:<11}: median {med:6.1f} ms, "
              f"max {worst:6.1f} ms   (target <= 150 ms)  {'PASS' if med <= 150 else 'FAIL'}")
    for surface in ("rosenbrock", "rastrigin"):
        kb = payload_kb(surface)
        print(f"  payload for one scene on {surface:<11}: {kb:6.1f} KB   (target <= 400 KB)  "
              f"{'PASS' if kb <= 400 else 'FAIL'}")
    for name, scene in (("default scene", Scene()), ("rastrigin", Scene(surface="rastrigin", racers=RACERS, steps=1000))):
        grid, paths, both = payload_3d_kb(scene)
        print(f"  3-D payload, {name:<13}: grid {grid:5.1f} KB + paths and losses {paths:5.1f} KB = {both:6.1f} KB   "
              f"(target <= 400 KB)  {'PASS' if both <= 400 else 'FAIL'}")
    figs = browser_figures()
    if figs:
        first, fps = figs
        print(f"  first full render after the server is healthy: {first:5.2f} s   (target <= 3 s)  "
              f"{'PASS' if first <= 3 else 'FAIL'}")
        print(f"  playback in headless Chromium: {fps:5.1f} frames/s   (target >= 30)  {'PASS' if fps >= 30 else 'FAIL'}")


if __name__ == "__main__":
    main()
