"""Exports of a race: GIF, MP4, PNG and CSV (no Streamlit here; a training's are in ``app/mlp_results.py``).

Frames are drawn fast: matplotlib renders the labelled contour map once, and
Pillow draws each frame's paths over it in the same pixel coordinates. An animation
is streamed: each frame is drawn, encoded and dropped before the next one, so its
memory does not grow with the number of frames; ``export_slot`` bounds how many run at once.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import imageio.v2 as imageio
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from PIL import GifImagePlugin, Image, ImageDraw, ImageFont

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


class _Painter:
    """Draws frames of one race: the map is rendered once, each frame is its paths drawn over a copy."""

    def __init__(self, race, size=(8.4, 6.3), dpi=100, fontsize=11):
        self.race = race
        self.bg, to_px, self.clip = _background(race, size, dpi, fontsize)
        scene = race.scene
        self.drawn = _prepare(race, to_px, window_of(scene, load_surface(scene.surface, scene.formula)))
        try:
            self.font = ImageFont.load_default(size=max(12, int(fontsize * dpi / 72)))
        except TypeError:
            self.font = ImageFont.load_default()
        # Outside the axes every frame keeps the background: a 3-pixel line ending on the edge is cut there.
        clip = self.clip
        self.outside = Image.new("L", self.bg.size, 255)
        ImageDraw.Draw(self.outside).rectangle((math.ceil(clip[0]), math.ceil(clip[1]),
                                                math.floor(clip[2]) - 1, math.floor(clip[3]) - 1), fill=0)

    def frame(self, step: int) -> Image.Image:
        """Return the RGB picture of the race at ``step``."""
        im = self.bg.copy()
        d = ImageDraw.Draw(im)
        _draw_paths(d, self.drawn, step)
        im.paste(self.bg, mask=self.outside)
        _draw_crosses(d, self.drawn, step)
        d.text((self.clip[0] + 10, self.clip[1] + 8), f"step {step} / {self.race.scene.steps}", fill="white",
               font=self.font, stroke_width=3, stroke_fill="black")
        return im


def iter_frames(race, n_frames: int = 120, size=(8.4, 6.3), dpi=100, fontsize=11,
                progress: Callable[[float], None] | None = None) -> Iterator[Image.Image]:
    """Return the animation of a race as a generator of Pillow images, one frame at a time."""
    painter = _Painter(race, size, dpi, fontsize)
    steps_list = frame_steps(race.scene.steps, n_frames)
    for fi, step in enumerate(steps_list):
        yield painter.frame(step)
        if progress is not None:
            progress((fi + 1) / len(steps_list))


def render_frames(race, n_frames: int = 120, size=(8.4, 6.3), dpi=100, fontsize=11,
                  progress: Callable[[float], None] | None = None) -> list[Image.Image]:
    """Return the animation of a race as Pillow images, one per frame (all held: for tests and short clips)."""
    return list(iter_frames(race, n_frames, size, dpi, fontsize, progress))


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


def _gif_palette(last: Image.Image) -> Image.Image:
    """Return the palette image every frame is mapped to: the last frame's 255 median-cut colours."""
    # One palette for all frames and no dithering: pixels that do not change stay identical,
    # so the GIF stores only each frame's new bit of path. The last frame holds every path.
    return last.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


class _GifStream:
    """Writes an animated GIF one frame at a time, byte for byte what Pillow's ``save_all`` writes.

    Pillow's own writer keeps every frame until the end (it may merge an identical frame into the
    one before); this one keeps only the frame not yet written and the one before it, so memory does
    not grow with the number of frames. It uses the same helpers of ``PIL.GifImagePlugin``, with
    ``optimize=False, disposal=1`` and no transparency, the only options the exports use.
    """

    def __init__(self, fp: BinaryIO, palette: Image.Image, fps: int):
        self.fp, self.palette = fp, palette
        self.info = {"duration": int(1000 / fps), "loop": 0, "optimize": False, "disposal": 1}
        self.previous: Image.Image | None = None
        self.pending: GifImagePlugin._Frame | None = None
        self.written = 0

    def append(self, rgb: Image.Image) -> None:
        """Map one RGB frame to the palette and write the frame before it."""
        im = GifImagePlugin._normalize_mode(rgb.quantize(palette=self.palette, dither=Image.Dither.NONE))
        info = dict(self.info)
        im = GifImagePlugin._normalize_palette(im, None, info)
        bbox = None
        if self.previous is not None:
            bbox = GifImagePlugin._getbbox(self.previous, im)[1]
            if not bbox:  # the same picture again: the frame before lasts longer
                self.pending.encoderinfo["duration"] += info["duration"]
                return
        self._flush()
        self.previous, self.pending = im, GifImagePlugin._Frame(im, bbox, info)

    def _flush(self) -> None:
        if self.pending is None:
            return
        im, bbox, info = self.pending
        if not bbox:
            for s in GifImagePlugin._get_global_header(im, info):
                self.fp.write(s)
            offset = (0, 0)
        else:
            info["include_color_table"] = True
            if bbox != (0, 0, *im.size):
                im = im.crop(bbox)
            offset = bbox[:2]
        GifImagePlugin._write_frame_data(self.fp, im, offset, info)
        self.pending = None
        self.written += 1

    def close(self) -> None:
        """Write the last frame and the trailer (a single distinct frame is written as a still GIF)."""
        if self.written == 0 and self.pending is not None:
            one = self.pending
            self.pending = None
            one.im.save(self.fp, format="GIF", duration=one.encoderinfo["duration"], loop=0, optimize=False,
                        disposal=1)
            return
        self._flush()
        self.fp.write(b";")


def write_gif(fp: BinaryIO, frames: Iterable[Image.Image], palette: Image.Image, fps: int = 20) -> None:
    """Write frames to ``fp`` as a looping GIF in ``palette``, one frame in memory at a time."""
    gif = _GifStream(fp, palette, fps)
    for f in frames:
        gif.append(f)
    gif.close()


def write_mp4(path: Path, frames: Iterable[Image.Image], fps: int = 20) -> None:
    """Write frames to ``path`` as an H.264 MP4, each handed to ffmpeg as it comes (the encoder ships in imageio-ffmpeg)."""
    with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
                            macro_block_size=1, output_params=["-movflags", "+faststart"]) as writer:
        for f in frames:
            w, h = f.size
            writer.append_data(np.asarray(f)[: h - h % 2, : w - w % 2])  # yuv420p needs even sides


def gif_bytes(frames: list[Image.Image], fps: int = 20) -> bytes:
    """Return frames as a looping animated GIF."""
    buf = io.BytesIO()
    write_gif(buf, frames, _gif_palette(frames[-1]), fps)
    return buf.getvalue()


def mp4_bytes(frames: Iterable[Image.Image], fps: int = 20) -> bytes:
    """Return frames as an H.264 MP4."""
    with tempfile.TemporaryDirectory() as tmp:  # ffmpeg writes to a file, not to memory
        path = Path(tmp) / "race.mp4"
        write_mp4(path, frames, fps)
        return path.read_bytes()


def animation_bytes(race, fmt: str, n_frames: int = 120, fps: int = 20, size=(8.4, 6.3), dpi=100,
                    progress: Callable[[float], None] | None = None) -> bytes:
    """Return the race as a GIF or MP4 file's bytes, its frames drawn and encoded one at a time.

    Only one frame (two for a GIF) is in memory at any time, whatever ``n_frames``; the file is
    built in a temporary file. The caller bounds how many run at once (``export_slot``).
    """
    if fmt not in ("gif", "mp4"):
        raise ValueError(f"an animation is a gif or an mp4, not {fmt!r}")
    painter = _Painter(race, size, dpi)
    steps_list = frame_steps(race.scene.steps, n_frames)

    def frames() -> Iterator[Image.Image]:
        for fi, step in enumerate(steps_list):
            yield painter.frame(step)
            if progress is not None:
                progress((fi + 1) / len(steps_list))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"race.{fmt}"
        if fmt == "gif":
            with path.open("wb") as fp:
                write_gif(fp, frames(), _gif_palette(painter.frame(steps_list[-1])), fps)
        else:
            write_mp4(path, frames(), fps)
        return path.read_bytes()


# At most this many animations are drawn at once in one process (one server): each takes about
# 40 MiB while it runs (and an MP4 one ffmpeg process), so a class clicking together cannot
# exhaust the server's memory; the others wait their turn.
EXPORT_SLOTS = 1
_slots = threading.BoundedSemaphore(EXPORT_SLOTS)


@contextmanager
def export_slot(waiting: Callable[[], None] | None = None, poll: float = 0.5) -> Iterator[None]:
    """Return (as a context manager) once an export slot of this process is free; ``waiting()`` runs every ``poll`` s until then."""
    if not _slots.acquire(blocking=False):
        # Waiting calls back at once and then often, so a page can say why nothing moves yet and
        # Streamlit can stop this wait when its session goes or reruns.
        while True:
            if waiting is not None:
                waiting()
            if _slots.acquire(timeout=poll):
                break
    try:
        yield
    finally:
        _slots.release()


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
