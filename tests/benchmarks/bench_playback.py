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
   laptop) and 4 starts per racer;
4. the 3-D view (issue 20) beside the 2-D map at 1366 x 768: 8 racers x 1000
   steps playing, once as is and once while a mouse drag turns the surface the
   whole time, in Chromium's software WebGL (SwiftShader), with the share of the
   screen's pixels the view ended up drawing (it draws fewer when frames are slow);
5. the same at 1920 x 1080 with "Both" (the map and the 3-D view side by side)
   beside the 2-D map alone, and the machine's load average (software WebGL
   shares the CPU with whatever else runs).

Exits non-zero if a figure misses a generous floor (fps >= 20, payload
<= 400 KB); the targets are >= 30 fps and <= 400 KB.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "apps" / "race_demo.py"
sys.path[:0] = [str(DEMO.parent), str(ROOT / "tests")]

from race_demo import demo_payload  # noqa: E402
from support import CHROMIUM, CHROMIUM_ARGS, READY, launch, serve  # noqa: E402

# WebGL without a GPU: SwiftShader, which Chromium only offers when asked.
WEBGL_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]

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


def measure(browser, base: str, query: str, viewport: dict, dpr: float, seconds: float = 5.0,
            view: str = "2d", turn: bool = False) -> dict:
    """Return fps figures of one playback of the demo opened with ``query`` in ``view`` ("2d", "3d" or "both"),
    turning the surface if asked."""
    view3d = view != "2d"
    page = browser.new_page(viewport=viewport, device_scale_factor=dpr)
    try:
        page.goto(f"{base}/?{query}")
        page.wait_for_selector(READY, timeout=120_000)
        frame = page.locator("[data-testid='race-frame']")
        frame.wait_for(timeout=60_000)
        if view3d:
            page.locator(f"[data-testid='race-view-{view}']").click()
            page.locator("[data-testid='race-3d-canvas']").wait_for(timeout=30_000)
            page.wait_for_selector(READY, timeout=60_000)  # the first switch brings three.js (one rerun)
            page.wait_for_timeout(1500)
            if view == "both" and not page.locator("[data-testid='race-map']").is_visible():
                raise SystemExit(f"'Both' did not show the map beside the 3-D view at {viewport}")
        peer = page.evaluate(RAF_RATE_JS, 2000)
        page.locator("[data-testid='race-play']").click()
        drag = Drag(page) if turn else None
        fps_el = page.locator("[data-testid='race-fps']")
        samples, render_ms = [], []
        t0 = time.monotonic()
        first_frame = int(frame.get_attribute("data-frame"))
        time.sleep(1.0)  # let the rolling window fill
        while time.monotonic() - t0 < seconds:
            if drag:
                drag.run(0.5)
            else:
                time.sleep(0.5)
            samples.append(float(fps_el.get_attribute("data-fps")))
            render_ms.append(float(fps_el.get_attribute("data-render-ms")))
        steps_done = int(frame.get_attribute("data-frame")) - first_frame
        scale = float(fps_el.get_attribute("data-scale"))
        elapsed = time.monotonic() - t0
        resolution = None
        if view3d:
            resolution = float(page.locator("[data-testid='race-3d-canvas']").get_attribute("data-resolution") or 1)
        if drag:
            drag.end()
        page.locator("[data-testid='race-play']").click()
        return {
            "resolution": resolution,
            "fps_median": statistics.median(samples),
            "fps_min": min(samples),
            "peer_raf": peer,
            "render_ms": statistics.mean(render_ms),
            "steps_per_s": steps_done / elapsed,
            "scale": scale,
        }
    finally:
        page.close()


class Drag:
    """A mouse held down on the 3-D canvas, moving back and forth: the surface turns the whole time."""

    def __init__(self, page):
        self.page = page
        box = page.locator("[data-testid='race-3d-canvas']").bounding_box()
        self.cx, self.cy, self.w = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"]
        self.t = 0
        page.mouse.move(self.cx, self.cy)
        page.mouse.down()

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.t += 1
            dx = (self.t % 80 - 40 if (self.t // 80) % 2 else 40 - self.t % 80) * self.w / 200
            self.page.mouse.move(self.cx + dx, self.cy + 0.1 * dx)
            time.sleep(1 / 60)

    def end(self) -> None:
        self.page.mouse.up()


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

    # The 3-D view beside the 2-D map, in software WebGL.
    screens = {
        "1366x768": (
            {"width": 1366, "height": 768},
            [
                ("2-D map                  ", dict()),
                ("3-D view, playing        ", dict(view="3d")),
                ("3-D view, playing+turning", dict(view="3d", turn=True)),
            ],
        ),
        # "Both" (the map beside the 3-D view) needs a wide component: a projector's screen
        "1920x1080": (
            {"width": 1920, "height": 1080},
            [
                ("2-D map                  ", dict()),
                ("Both, playing            ", dict(view="both")),
                ("Both, playing+turning    ", dict(view="both", turn=True)),
            ],
        ),
    }
    with serve(DEMO) as base:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + WEBGL_ARGS, headless=True)
            try:
                for screen, (viewport, runs3d) in screens.items():
                    print(f"{screen}, dpr 1, 8 racers x 1000 steps, software WebGL (SwiftShader):")
                    for name, kw in runs3d:
                        r = measure(browser, base, "racers=8&steps=1000&diverge=0", viewport, 1, **kw)
                        extra = f"; 3-D pixels at {r['resolution']:.2f}x of the screen's" if r["resolution"] else ""
                        print(f"  {name}: {r['fps_median']:5.1f} fps median, {r['fps_min']:5.1f} min; "
                              f"bare rAF {r['peer_raf']:5.1f} fps; {r['render_ms']:.2f} ms drawing per frame{extra}",
                              flush=True)
            finally:
                browser.close()
    print(f"load average while measuring (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          "(the machine's other work slows software WebGL)")

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
