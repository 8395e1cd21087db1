"""How much memory do animation exports take? Peak RSS growth of 1 and 3 concurrent exports.

Documented command (from the repository root):

    python tests/export_memory.py                 # GIF and MP4, 1 and 3 concurrent exports
    python tests/export_memory.py --legacy        # the same through render_frames + gif_bytes/mp4_bytes

Each measurement runs in its own Python process (a fresh interpreter, as one Streamlit server):
it runs the app's default race, makes one small export to load everything, resets the kernel's
peak-RSS counter (``/proc/self/clear_refs``), then starts N threads (as N Streamlit sessions do),
each making one 120-frame animation of the race, and prints VmHWM - VmRSS-before in MiB. ffmpeg
runs as a child process and is not counted (``ru_maxrss`` of children would count the forked
copy of this process before exec, not ffmpeg).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def child(fmt: str, n: int, legacy: bool, frames: int) -> dict:
    """Return the peak RSS growth (MiB) of n concurrent exports in this process."""
    sys.path.insert(0, str(Path.cwd()))
    from app import export
    from app.race import run_race
    from app.scene import Scene

    race = run_race(Scene())

    def one(k: int) -> None:
        if legacy:
            fr = export.render_frames(race, k)
            export.gif_bytes(fr) if fmt == "gif" else export.mp4_bytes(fr)
        else:
            with export.export_slot():  # as the page does: the process's bound on running exports
                export.animation_bytes(race, fmt, k)

    one(3)  # warm up: fonts, the contour map, the ffmpeg binary
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    threads = [threading.Thread(target=one, args=(frames,)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"growth_mib": (_status_kib("VmHWM") - before) / 1024}


def measure(fmt: str, n: int, legacy: bool = False, frames: int = 120, root: Path = REPO) -> dict:
    """Return child()'s figures, measured in a fresh interpreter whose working directory is ``root``."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child", fmt, str(n), str(frames)]
    if legacy:
        args.append("--legacy")
    out = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--legacy", action="store_true",
                   help="hold every frame (render_frames + *_bytes) and run all at once, as before issue 15")
    p.add_argument("--root", default=str(REPO), help="repository whose app/ is measured")
    p.add_argument("--child", nargs=3, metavar=("FMT", "N", "FRAMES"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        fmt, n, frames = args.child
        print(json.dumps(child(fmt, int(n), args.legacy, int(frames))))
        return 0
    for fmt in ("gif", "mp4"):
        for n in (1, 3):
            r = measure(fmt, n, args.legacy, root=Path(args.root))
            print(f"INFO  export.{fmt}.x{n}  peak RSS growth {r['growth_mib']:7.1f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
