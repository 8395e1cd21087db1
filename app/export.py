"""Exports of a race: GIF, MP4, PNG and CSV (no Streamlit here; a training's are in ``app/mlp_results.py``).

Frames are drawn fast: matplotlib renders the labelled contour map once, and
Pillow draws each frame's paths over it in the same pixel coordinates.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from PIL import Image, ImageDraw, ImageFont

from . import plots
from .race import Race, RacerRun, window_of
from .scene import load_surface

MAX_FRAMES = 240


def frame_steps(steps: int, n_frames: int) -> list[int]:
    """Return the step shown by each frame: evenly spread from 0 to ``steps``, each at most once."""
    n = max(2, min(n_frames, steps + 1, MAX_FRAMES))
    return sorted({round(i * steps / (n - 1)) for i in range(n)})


def _background(race, size, dpi, fontsize):
    """Return (RGB image of the labelled map without paths, function data -> pixel)."""
    scene = race.scene
    surf = load_surface(scene.surface, scene.formula)
    window = window_of(scene, surf)
    empty = Race(scene, race.starts, tuple(
        RacerRun(r.label, r.color, r.path[:, :1] * np.nan, r.loss[:, :1], [[None] * r.path.shape[2]] *
                         r.path.shape[0], r.lr) for r in race.runs))
    fig = plots.race_figure(surf, window, empty, upto=0, size=size, dpi=dpi, fontsize=fontsize)
    ax = fig.axes[0]
    ax.set_title(surf.title, fontsize=fontsize + 2)
    ax.legend(handles=[Line2D([], [], color=r.color, lw=2.5, label=r.label) for r in race.runs],
              loc="upper right", fontsize=fontsize - 1, framealpha=0.85)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    w, h = canvas.get_width_height(physical=True)
    img = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba()).convert("RGB")
    trans = ax.transData
    box = ax.get_window_extent()

    def to_px(xy: np.ndarray) -> np.ndarray:
        d = trans.transform(xy.reshape(-1, 2))
        return np.column_stack([d[:, 0], h - d[:, 1]]).reshape(xy.shape)

    clip = (box.x0, h - box.y1, box.x1, h - box.y0)
    return img, to_px, clip


def render_frames(race, n_frames: int = 120, size=(8.4, 6.3), dpi=100, fontsize=11,
                  progress: Callable[[float], None] | None = None) -> list[Image.Image]:
    """Return the animation of a race as Pillow images, one per frame."""
    bg, to_px, clip = _background(race, size, dpi, fontsize)
    px = [to_px(np.nan_to_num(r.path, nan=np.inf)) for r in race.runs]
    try:
        font = ImageFont.load_default(size=max(12, int(fontsize * dpi / 72)))
    except TypeError:
        font = ImageFont.load_default()
    steps_list = frame_steps(race.scene.steps, n_frames)
    frames = []
    for fi, step in enumerate(steps_list):
        im = bg.copy()
        d = ImageDraw.Draw(im)
        _draw_paths(d, race, px, step, clip)
        d.text((clip[0] + 10, clip[1] + 8), f"step {step} / {race.scene.steps}", fill="white", font=font,
               stroke_width=3, stroke_fill="black")
        frames.append(im)
        if progress is not None:
            progress((fi + 1) / len(steps_list))
    return frames


def _draw_paths(d: ImageDraw.ImageDraw, race, px: list[np.ndarray], step: int, clip) -> None:
    """Draw every path up to ``step`` in pixels ``px``, its head as a dot, a red cross where it diverged."""
    for run, p in zip(race.runs, px):
        for s in range(p.shape[0]):
            for k in range(p.shape[2]):
                div = run.diverged_at[s][k]
                last = step if div is None else min(step, div - 1)
                if last < 0:
                    continue
                pts = p[s, : last + 1, k]
                pts = pts[np.all(np.isfinite(pts), axis=1)]
                pts = np.clip(pts, [clip[0] - 50, clip[1] - 50], [clip[2] + 50, clip[3] + 50])
                if len(pts) > 1:
                    d.line([tuple(q) for q in pts], fill=run.color, width=3, joint="curve")
                if len(pts):
                    x, y = pts[-1]
                    d.ellipse((x - 6, y - 6, x + 6, y + 6), fill=run.color, outline="black", width=2)
                    if div is not None and step >= div:
                        d.line((x - 9, y - 9, x + 9, y + 9), fill="red", width=4)
                        d.line((x - 9, y + 9, x + 9, y - 9), fill="red", width=4)


def gif_bytes(frames: list[Image.Image], fps: int = 20) -> bytes:
    """Return frames as a looping animated GIF."""
    buf = io.BytesIO()
    # One palette for all frames and no dithering: pixels that do not change stay identical,
    # so the GIF stores only each frame's new bit of path.
    base = frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = [f.quantize(palette=base, dither=Image.Dither.NONE) for f in frames]
    pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], duration=int(1000 / fps), loop=0,
                optimize=False, disposal=1)
    return buf.getvalue()


def mp4_bytes(frames: list[Image.Image], fps: int = 20) -> bytes:
    """Return frames as an H.264 MP4 (the encoder ships inside imageio-ffmpeg)."""
    w, h = frames[0].size
    w2, h2 = w - w % 2, h - h % 2  # yuv420p needs even sides
    with tempfile.TemporaryDirectory() as tmp:  # ffmpeg writes to a file, not to memory
        path = Path(tmp) / "race.mp4"
        with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
                                macro_block_size=1, output_params=["-movflags", "+faststart"]) as writer:
            for f in frames:
                writer.append_data(np.asarray(f)[:h2, :w2])
        return path.read_bytes()


def png_bytes(race, step: int | None = None, size=(8.4, 6.3), dpi=100) -> bytes:
    """Return one still picture of the race at ``step`` (default: the end)."""
    scene = race.scene
    surf = load_surface(scene.surface, scene.formula)
    return plots.figure_png(plots.race_figure(surf, window_of(scene, surf), race, upto=step, size=size, dpi=dpi))


def race_csv(race) -> str:
    """Return every trajectory as CSV: optimizer, seed, start, step, x, y, loss, lr (blank after divergence)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["optimizer", "noise_seed", "start_index", "step", "x", "y", "loss", "lr"])
    for run in race.runs:
        for s in range(run.path.shape[0]):
            for k in range(run.path.shape[2]):
                for t in range(run.path.shape[1]):
                    x, y = run.path[s, t, k]
                    lo = run.loss[s, t, k]
                    lr = run.lr[t - 1] if t >= 1 else ""
                    w.writerow([run.label, race.scene.seed + s, k, t, _cell(x), _cell(y), _cell(lo),
                                _cell(lr) if lr != "" else ""])
    return buf.getvalue()


def _cell(v) -> str:
    v = float(v)
    return repr(v) if math.isfinite(v) else ""
