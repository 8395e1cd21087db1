"""Benchmark: the race animator's frame rate in headless Chromium, and the size of its payload.

Run from the checkout: ``python tests/benchmarks/bench_playback.py``. Not
collected by pytest (no ``test_`` prefix). Serves ``tests/apps/race_demo.py``
with a realistic race (4 racers x 1000 steps, one of them diverging, an
800 x 600 contour image), plays it for about 5 s and prints:

1. the payload size in KB, with a PNG and with a JPEG (quality 85) image;
2. the render loop's rolling frames per second as the component measures it
   (``data-fps``), next to the page's bare requestAnimationFrame rate measured
   in the same browser right before (the peer: what the display loop allows),
   and the mean milliseconds of drawing per frame (``data-render-ms``);
3. the same at 1920 x 1080 with devicePixelRatio 2 (a projector on a HiDPI
   laptop) and 4 starts per racer.

Exits non-zero if a figure misses a generous floor (fps >= 20, payload
<= 400 KB); the targets are >= 30 fps and <= 400 KB.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "apps" / "race_demo.py"
sys.path[:0] = [str(DEMO.parent), str(ROOT / "tests")]

from race_demo import demo_payload  # noqa: E402
from support import READY, launch, serve  # noqa: E402

FPS_FLOOR = 20.0
PAYLOAD_CEILING_KB = 400.0

RAF_RATE_JS = """(ms) => new Promise((done) => {
  let n = 0, first = null;
  const tick = (ts) => {
    if (first === null) first = ts;
    n += 1;
    if (ts - first < ms) requestAnimationFrame(tick);
    else done((n - 1) * 1000 / (ts - first));
  };
  requestAnimationFrame(tick);
})"""


def payload_kb(**kw) -> float:
    """Return the size in KB of the payload as Streamlit sends it (JSON text)."""
    return len(json.dumps(demo_payload(**kw)).encode()) / 1024


def measure(browser, base: str, query: str, viewport: dict, dpr: float, seconds: float = 5.0) -> dict:
    """Return fps figures of one playback of the demo opened with ``query``."""
    page = browser.new_page(viewport=viewport, device_scale_factor=dpr)
    try:
        page.goto(f"{base}/?{query}")
        page.wait_for_selector(READY, timeout=120_000)
        frame = page.locator("[data-testid='race-frame']")
        frame.wait_for(timeout=60_000)
        peer = page.evaluate(RAF_RATE_JS, 2000)
        page.locator("[data-testid='race-play']").click()
        fps_el = page.locator("[data-testid='race-fps']")
        samples, render_ms = [], []
        t0 = time.monotonic()
        first_frame = int(frame.get_attribute("data-frame"))
        time.sleep(1.0)  # let the rolling window fill
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            samples.append(float(fps_el.get_attribute("data-fps")))
            render_ms.append(float(fps_el.get_attribute("data-render-ms")))
        steps_done = int(frame.get_attribute("data-frame")) - first_frame
        scale = float(fps_el.get_attribute("data-scale"))
        elapsed = time.monotonic() - t0
        page.locator("[data-testid='race-play']").click()
        return {
            "fps_median": statistics.median(samples),
            "fps_min": min(samples),
            "peer_raf": peer,
            "render_ms": statistics.mean(render_ms),
            "steps_per_s": steps_done / elapsed,
            "scale": scale,
        }
    finally:
        page.close()


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")

    sizes = {
        "png": payload_kb(racers=4, steps=1000, image="png"),
        "jpeg": payload_kb(racers=4, steps=1000, image="jpeg"),
    }
    print("payload, 4 racers x 1000 steps + 800x600 contour image:")
    for fmt, kb in sizes.items():
        print(f"  {fmt:>4}: {kb:7.1f} KB   (target <= {PAYLOAD_CEILING_KB:.0f} KB)")

    runs = [
        ("1400x1000, dpr 1, 4 racers x 1 start ", "racers=4&steps=1000", {"width": 1400, "height": 1000}, 1),
        (
            "1920x1080, dpr 2, 4 racers x 4 starts",
            "racers=4&steps=1000&starts=4&presenter=1",
            {"width": 1920, "height": 1080},
            2,
        ),
    ]
    results = []
    with serve(DEMO) as base:
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                for name, query, viewport, dpr in runs:
                    r = measure(browser, base, query, viewport, dpr)
                    results.append(r)
                    print(
                        f"{name}: {r['fps_median']:5.1f} fps median, {r['fps_min']:5.1f} min; "
                        f"bare rAF {r['peer_raf']:5.1f} fps (ratio {r['fps_median'] / r['peer_raf']:.2f}); "
                        f"{r['render_ms']:.2f} ms drawing per frame; {r['steps_per_s']:.1f} steps/s at 1x; "
                        f"moving layers at {r['scale']:g}x"
                    )
            finally:
                browser.close()

    failed = [f"fps {r['fps_min']:.1f} < {FPS_FLOOR}" for r in results if r["fps_min"] < FPS_FLOOR]
    failed += [
        f"{fmt} payload {kb:.0f} KB > {PAYLOAD_CEILING_KB:.0f} KB"
        for fmt, kb in sizes.items()
        if kb > PAYLOAD_CEILING_KB
    ]
    if failed:
        print("BELOW FLOOR: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
