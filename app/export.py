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
from dataclasses import dataclass
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
    """Return (RGB image of the labelled map without paths, function data -> pixel, axes box in pixels)."""
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
        d = trans.transform(np.asarray(xy, dtype=float).reshape(-1, 2))
        return np.column_stack([d[:, 0], h - d[:, 1]]).reshape(np.shape(xy))

    clip = (box.x0, h - box.y1, box.x1, h - box.y0)
    return img, to_px, clip


@dataclass(frozen=True)
class _Drawn:
    """One path as the frames draw it: its pieces inside the window in pixels, its end, its exit cross."""

    color: str
    pieces: list  # (first segment, pixel points): consecutive segments that stay inside the window
    heads: np.ndarray  # (steps + 1, 2) pixels of each point, NaN outside the window or not finite
    diverged_at: int | None
    exit: tuple[float, float] | None  # pixels of the cross


def _prepare(race, to_px, window) -> list[_Drawn]:
    """Return every path cut to the window once, so each frame only draws a prefix of it."""
    (x0, x1), (y0, y1) = window
    drawn = []
    for run in race.runs:
        for s in range(run.path.shape[0]):
            for k in range(run.path.shape[2]):
                div = run.diverged_at[s][k]
                p = run.path[s, : len(run.path[s]) if div is None else div, k]
                a, b, t0, t1 = plots.clip_segments(p, window)
                ok = np.all(np.isfinite(a), axis=1)
                pieces, i = [], 0
                while i < len(ok):
                    if not ok[i]:
                        i += 1
                        continue
                    j = i  # a piece goes on while a segment ends where the next one starts, inside
                    while j + 1 < len(ok) and ok[j + 1] and t1[j] >= 1 and t0[j + 1] <= 0:
                        j += 1
                    pieces.append((i, to_px(np.vstack([a[i: i + 1], b[i: j + 1]]))))
                    i = j + 1
                inside = np.all(np.isfinite(p), axis=1) & (p[:, 0] >= x0) & (p[:, 0] <= x1) & \
                    (p[:, 1] >= y0) & (p[:, 1] <= y1)
                heads = np.full((len(p), 2), np.nan)
                if inside.any():
                    heads[inside] = to_px(p[inside])
                ex = plots.exit_point(p, window) if div is not None else None
                drawn.append(_Drawn(run.color, pieces, heads, div,
                                    None if ex is None else tuple(to_px(np.array([ex]))[0])))
    return drawn


def render_frames(race, n_frames: int = 120, size=(8.4, 6.3), dpi=100, fontsize=11,
                  progress: Callable[[float], None] | None = None) -> list[Image.Image]:
    """Return the animation of a race as Pillow images, one per frame."""
    bg, to_px, clip = _background(race, size, dpi, fontsize)
    scene = race.scene
    drawn = _prepare(race, to_px, window_of(scene, load_surface(scene.surface, scene.formula)))
    try:
        font = ImageFont.load_default(size=max(12, int(fontsize * dpi / 72)))
    except TypeError:
        font = ImageFont.load_default()
    # Outside the axes every frame keeps the background: a 3-pixel line ending on the edge is cut there.
    outside = Image.new("L", bg.size, 255)
    ImageDraw.Draw(outside).rectangle((math.ceil(clip[0]), math.ceil(clip[1]), math.floor(clip[2]) - 1,
                                       math.floor(clip[3]) - 1), fill=0)
    steps_list = frame_steps(race.scene.steps, n_frames)
    frames = []
    for fi, step in enumerate(steps_list):
        im = bg.copy()
        d = ImageDraw.Draw(im)
        _draw_paths(d, drawn, step)
        im.paste(bg, mask=outside)
        _draw_crosses(d, drawn, step)
        d.text((clip[0] + 10, clip[1] + 8), f"step {step} / {race.scene.steps}", fill="white", font=font,
               stroke_width=3, stroke_fill="black")
        frames.append(im)
        if progress is not None:
            progress((fi + 1) / len(steps_list))
    return frames


def _draw_paths(d: ImageDraw.ImageDraw, drawn: list[_Drawn], step: int) -> None:
    """Draw every path up to ``step`` inside the window and the head of each one still running as a dot."""
    for path in drawn:
        for first, pts in path.pieces:
            n = min(len(pts), step - first + 1)  # segment i is drawn once step > i
            if n >= 2:
                d.line([tuple(q) for q in pts[:n]], fill=path.color, width=3, joint="curve")
        if path.diverged_at is not None and step >= path.diverged_at:
            continue
        if len(path.heads):
            x, y = path.heads[min(step, len(path.heads) - 1)]
            if np.isfinite(x):
                d.ellipse((x - 6, y - 6, x + 6, y + 6), fill=path.color, outline="black", width=2)


def _draw_crosses(d: ImageDraw.ImageDraw, drawn: list[_Drawn], step: int) -> None:
    """Draw a red cross where each path that diverged by ``step`` left the window (on its edge, not clipped)."""
    for path in drawn:
        if path.diverged_at is not None and step >= path.diverged_at and path.exit is not None:
            x, y = path.exit
            d.line((x - 9, y - 9, x + 9, y + 9), fill=plots.DIVERGED, width=4)
            d.line((x - 9, y + 9, x + 9, y - 9), fill=plots.DIVERGED, width=4)


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
