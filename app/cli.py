"""The command line: prepare lecture material without a browser.

    python -m app presets
    python -m app render --preset ravine --out ravine.gif
    python -m app render --link "http://host:8501/surfaces?s=rosenbrock&r=adam(lr=0.05)" --out race.mp4
    python -m app csv --preset rosenbrock_race --out paths.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from . import export, presets
from .race import run_race
from .scene import Scene, SceneError


def scene_from_link(link: str) -> tuple[Scene, list[str]]:
    """Return the scene a shared link (or just its query string) describes, and what fell back to defaults."""
    query = urlsplit(link).query if "?" in link or "://" in link else link.lstrip("?")
    return Scene.from_query(parse_qs(query, keep_blank_values=True))


def _scene(args) -> Scene:
    if args.preset:
        return presets.get(args.preset)
    scene, notes = scene_from_link(args.link)
    for n in notes:
        print(f"warning: {n}", file=sys.stderr)
    return scene


def _progress(label: str):
    shown = [-1]

    def report(frac: float) -> None:
        tenth = int(frac * 10)
        if tenth != shown[0]:  # a line per 10 %, readable in a log as well as a terminal
            shown[0] = tenth
            print(f"{label}: {frac:4.0%}", file=sys.stderr, flush=True)
    return report


def _size(text: str) -> tuple[float, float]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 840x630, got {text!r}") from None
    if not (200 <= w <= 2400 and 150 <= h <= 1800):
        raise argparse.ArgumentTypeError("size must be between 200x150 and 2400x1800 pixels")
    return w / 100, h / 100


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser; every option says what it does."""
    p = argparse.ArgumentParser(prog="python -m app", description="Descent from the command line: render optimizer "
                                "races to GIF / MP4 / PNG and write trajectories to CSV, from a preset or a shared link.")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    sub.add_parser("presets", help="list the named presets with their lessons")

    def scene_args(sp):
        g = sp.add_mutually_exclusive_group(required=True)
        g.add_argument("--preset", help="a preset name (see 'python -m app presets')")
        g.add_argument("--link", help="a link copied from the app (or just its ?query part): the exact scene it shows")
        sp.add_argument("--out", required=True, type=Path, help="the file to write; its suffix picks the format")

    r = sub.add_parser("render", help="render a race to an animated GIF, an MP4 video or a PNG still")
    scene_args(r)
    r.add_argument("--frames", type=int, default=120, help="number of animation frames, spread evenly over the "
                   f"steps (2..{export.MAX_FRAMES}; default 120)")
    r.add_argument("--fps", type=int, default=20, help="frames per second of the animation (1..60; default 20)")
    r.add_argument("--size", type=_size, default=(8.4, 6.3), help="picture size in pixels, WxH (default 840x630)")
    r.add_argument("--step", type=int, default=None, help="for PNG: the step to show (default: the last)")
    c = sub.add_parser("csv", help="write every trajectory (optimizer, seed, start, step, x, y, loss, lr) to CSV")
    scene_args(c)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.verb == "presets":
            for name, sc in presets.presets().items():
                print(f"{name:<18} {sc.title}\n{'':<18} {sc.lesson}")
            return 0
        scene = _scene(args)
        race = run_race(scene)
        out: Path = args.out
        suffix = out.suffix.lower()
        if args.verb == "csv":
            out.write_text(export.race_csv(race))
        elif suffix == ".png":
            out.write_bytes(export.png_bytes(race, args.step, size=args.size))
        elif suffix in (".gif", ".mp4"):
            if not (2 <= args.frames <= export.MAX_FRAMES and 1 <= args.fps <= 60):
                raise SceneError(f"--frames must be 2..{export.MAX_FRAMES} and --fps 1..60")
            out.write_bytes(export.animation_bytes(race, suffix[1:], args.frames, args.fps, size=args.size,
                                                   progress=_progress("rendering")))
        else:
            raise SceneError(f"cannot tell the format from {out.name!r}: use .gif, .mp4 or .png")
    except (SceneError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)", file=sys.stderr)
    return 0
