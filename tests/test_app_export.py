"""Exports and the command line: files read back with Pillow / imageio, compared with hand-computed races."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from app import export, presets
from app.race import Race, RacerRun, run_race
from app.racer import Racer
from app.scene import Scene

ROOT = Path(__file__).resolve().parents[1]
SMALL = Scene(surface="himmelblau", racers=(Racer("adam", (("lr", 0.1),), color="#CC79A7"),
                                            Racer("sgd", (("lr", 0.01),), color="#0072B2")), steps=40)


def test_frame_steps_cover_the_race_evenly():
    assert export.frame_steps(40, 5) == [0, 10, 20, 30, 40]
    assert export.frame_steps(3, 120) == [0, 1, 2, 3]  # never more frames than steps + 1
    assert len(export.frame_steps(5000, 10_000)) == export.MAX_FRAMES


def test_gif_has_the_right_frame_count_size_and_moving_paths():
    race = run_race(SMALL)
    frames = export.render_frames(race, 12, size=(6.4, 4.8), dpi=100)
    data = export.gif_bytes(frames, fps=10)
    im = Image.open(io.BytesIO(data))
    assert im.format == "GIF" and im.n_frames == 12 and im.size == (640, 480)
    im.seek(0)
    first = np.asarray(im.convert("RGB"), dtype=int)
    im.seek(11)
    last = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(first - last).sum() > 1000  # the paths grew between the first and last frame


def test_mp4_decodes_to_the_right_frames():
    race = run_race(SMALL)
    frames = export.render_frames(race, 10, size=(6.4, 4.8), dpi=100)
    data = export.mp4_bytes(frames, fps=10)
    video = iio.imread(data, extension=".mp4")
    assert video.shape == (10, 480, 640, 3)


def pillow_gif(frames: list[Image.Image], fps: int) -> bytes:
    """Return the GIF Pillow's own save_all writes for frames in the last frame's palette (the reference)."""
    base = frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = [f.quantize(palette=base, dither=Image.Dither.NONE) for f in frames]
    buf = io.BytesIO()
    pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], duration=int(1000 / fps), loop=0,
                optimize=False, disposal=1)
    return buf.getvalue()


def test_streamed_gif_is_byte_for_byte_what_pillow_writes_holding_every_frame():
    frames = export.render_frames(run_race(SMALL), 9, size=(6.4, 4.8), dpi=100)
    frames = frames[:4] + [frames[3]] * 2 + frames[4:]  # identical frames: Pillow merges them into one
    assert export.gif_bytes(frames, fps=10) == pillow_gif(frames, 10)
    im = Image.open(io.BytesIO(export.gif_bytes(frames, fps=10)))
    assert im.n_frames == 9
    im.seek(3)
    assert im.info["duration"] == 300  # the frame shown three times lasts three frames


def test_animation_bytes_streams_the_same_files_as_the_held_frames():
    race = run_race(SMALL)
    held = export.render_frames(race, 10, size=(6.4, 4.8), dpi=100)
    gif = export.animation_bytes(race, "gif", 10, fps=10, size=(6.4, 4.8))
    assert gif == pillow_gif(held, 10)
    video = iio.imread(export.animation_bytes(race, "mp4", 10, fps=10, size=(6.4, 4.8)), extension=".mp4")
    assert video.shape == (10, 480, 640, 3)
    with pytest.raises(ValueError, match="gif or an mp4"):
        export.animation_bytes(race, "avi")


def test_a_second_export_waits_for_the_slot_and_is_told_so():
    holding, release, waited, entered = (threading.Event() for _ in range(4))

    def first():
        with export.export_slot():
            holding.set()
            release.wait(60)

    def second():
        with export.export_slot(waiting=waited.set, poll=0.05):
            entered.set()

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(60)
    b = threading.Thread(target=second)
    b.start()
    assert waited.wait(60)  # told at once that another export runs
    assert not entered.is_set()  # and did not start while the slot was taken
    release.set()
    a.join(60)
    b.join(60)
    assert entered.is_set()  # the slot passed on when the first one ended
    with export.export_slot():  # and was given back
        pass


class CountedSlots(threading.BoundedSemaphore):
    """The export slot, counting the attempts to take it."""

    def __init__(self, value: int):
        super().__init__(value)
        self.attempts = 0
        self.tried = threading.Event()

    def acquire(self, blocking=True, timeout=None):
        self.attempts += 1
        if self.attempts >= 2:
            self.tried.set()
        return super().acquire(blocking, timeout)


def test_prepare_animation_on_the_page_waits_for_the_slot_then_offers_the_gif(monkeypatch):
    from streamlit.testing.v1 import AppTest

    slots = CountedSlots(1)
    monkeypatch.setattr(export, "_slots", slots)
    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=300)
    at.run()
    at.session_state["tab"] = "Share & export"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    slots.acquire()  # another session's export is running
    clicked = threading.Thread(target=lambda: at.button(key="act_make_gif").click().run())
    clicked.start()
    assert slots.tried.wait(120)  # the page asked for the slot and is waiting
    assert "anim_gif" not in at.session_state
    slots.release()
    clicked.join(300)
    assert not at.exception, [e.value for e in at.exception]
    scene, data = at.session_state["anim_gif"]
    im = Image.open(io.BytesIO(data))
    assert im.format == "GIF" and im.n_frames == len(export.frame_steps(scene.steps, 120))
    assert any(b.label.startswith("Download GIF") for b in at.get("download_button"))


# Three sessions clicking "Prepare animation" together, in one process as in one Streamlit server.
# Measured on the default scene (tests/export_memory.py): before issue 15 one export grew the peak
# RSS by 380 MiB (GIF) / 256 MiB (MP4) and three together by 919 / 755 MiB; streamed, through the
# one-slot bound, one takes about 17 / 19 MiB and three about 29 / 29 MiB.
THREE_EXPORTS_BOUND_MIB = 120


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_three_concurrent_exports_stay_under_a_memory_bound(fmt):
    sys.path.insert(0, str(ROOT / "tests"))
    from export_memory import measure

    r = measure(fmt, 3)
    print(f"three concurrent {fmt} exports: peak RSS growth {r['growth_mib']:.1f} MiB")
    assert r["growth_mib"] < THREE_EXPORTS_BOUND_MIB


def test_csv_holds_every_point_of_every_path_and_blanks_after_divergence():
    scene = presets.get("lr_too_large")
    race = run_race(scene)
    rows = list(csv.DictReader(io.StringIO(export.race_csv(race))))
    assert len(rows) == len(scene.racers) * (scene.steps + 1)
    by = {}
    for r in rows:
        by.setdefault(r["optimizer"], []).append(r)
    stable = by["SGD (lr=0.3)"]
    # closed form for SGD on x^2 + y^2: p_t = (1 - 2 lr)^t p_0
    for t in (0, 1, 5):
        assert float(stable[t]["x"]) == pytest.approx(-2.5 * 0.4**t, rel=1e-12, abs=1e-300)
    wild = by["SGD (lr=1.2)"]
    div = race.runs[2].diverged_at[0][0]
    assert div is not None and wild[div]["x"] == "" and wild[div - 1]["x"] != ""


def test_png_still_is_a_png():
    data = export.png_bytes(run_race(SMALL), size=(6.4, 4.8), dpi=100)
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and im.size == (640, 480)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_help_explains_every_option():
    out = run_cli("render", "--help")
    assert out.returncode == 0
    for opt in ("--preset", "--link", "--out", "--frames", "--fps", "--size", "--step"):
        assert opt in out.stdout


# -- a hand-made race on the ravine 0.05 x^2 + 5 y^2, whose gradient is (0.1 x, 10 y) ---------------

def ravine_loss(x: float, y: float) -> float:
    return 0.05 * x * x + 5 * y * y


def hand_sgd(lr: float, start: tuple[float, float], steps: int) -> np.ndarray:
    """Return the (steps + 1, 2) path of p <- p - lr g, written out here rather than taken from optim."""
    x, y = start
    out = [(x, y)]
    for _ in range(steps):
        x, y = x - lr * (0.1 * x), y - lr * (10 * y)
        out.append((x, y))
    return np.array(out)


def hand_momentum(lr: float, beta: float, start: tuple[float, float], steps: int) -> np.ndarray:
    """Return the path of v <- beta v + (1 - beta) g, p <- p - lr v (the article's moving-average momentum)."""
    x, y = start
    vx = vy = 0.0
    out = [(x, y)]
    for _ in range(steps):
        vx, vy = beta * vx + (1 - beta) * (0.1 * x), beta * vy + (1 - beta) * (10 * y)
        x, y = x - lr * vx, y - lr * vy
        out.append((x, y))
    return np.array(out)


RAVINE = Scene(surface="ravine", racers=(Racer("sgd", (("lr", 0.18),), color="#0072B2"),
                                         Racer("momentum", (("lr", 0.9), ("beta", 0.9)), color="#D55E00")),
               start=(-9.0, 1.5), steps=30)


def test_cli_csv_holds_the_hand_computed_paths_of_a_link(tmp_path):
    link = "http://localhost:8501/surfaces?" + urlencode(RAVINE.to_query(), doseq=True)
    out = tmp_path / "paths.csv"
    res = run_cli("csv", "--link", link, "--out", str(out))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2 * (RAVINE.steps + 1)
    expected = {"SGD (lr=0.18)": (hand_sgd(0.18, (-9.0, 1.5), 30), 0.18),
                "Momentum (lr=0.9)": (hand_momentum(0.9, 0.9, (-9.0, 1.5), 30), 0.9)}
    for label, (path, lr) in expected.items():
        mine = [r for r in rows if r["optimizer"] == label]
        assert [int(r["step"]) for r in mine] == list(range(31))
        got = np.array([[float(r["x"]), float(r["y"])] for r in mine])
        np.testing.assert_allclose(got, path, rtol=1e-12, atol=1e-300)
        assert [float(r["loss"]) for r in mine] == pytest.approx([ravine_loss(*p) for p in path], rel=1e-12)
        assert mine[0]["lr"] == "" and all(float(r["lr"]) == lr for r in mine[1:])


def hand_race(scene: Scene) -> Race:
    """Return the race of a scene of SGD and momentum racers on the ravine, paths computed by hand."""
    runs = []
    for r in scene.racers:
        v = r.values()
        path = (hand_sgd(v["lr"], scene.start, scene.steps) if r.optimizer == "sgd"
                else hand_momentum(v["lr"], v["beta"], scene.start, scene.steps))
        loss = np.array([ravine_loss(*p) for p in path])
        runs.append(RacerRun(r.label(), r.color, path[None, :, None, :], loss[None, :, None], [[None]],
                             np.full(scene.steps, v["lr"])))
    return Race(scene, np.array([scene.start]), tuple(runs))


def test_cli_gif_shows_the_hand_computed_race(tmp_path):
    scene = presets.get("ravine")
    assert [r.optimizer for r in scene.racers] == ["sgd", "momentum"]
    out = tmp_path / "race.gif"
    res = run_cli("render", "--preset", "ravine", "--out", str(out), "--frames", "8", "--size", "640x480")
    assert res.returncode == 0, res.stderr
    hand_gif = export.gif_bytes(export.render_frames(hand_race(scene), 8, size=(6.4, 4.8)))
    a, b = Image.open(out), Image.open(io.BytesIO(hand_gif))
    assert a.n_frames == b.n_frames == 8 and a.size == b.size == (640, 480)
    for k in (0, 7):
        a.seek(k)
        b.seek(k)
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_cli_rejects_bad_input_with_a_message(tmp_path):
    res = run_cli("render", "--preset", "nope", "--out", str(tmp_path / "x.gif"))
    assert res.returncode == 2 and "unknown preset 'nope'" in res.stderr
    res = run_cli("render", "--preset", "ravine", "--out", str(tmp_path / "x.bmp"))
    assert res.returncode == 2 and "format" in res.stderr
    res = run_cli("csv", "--link", "s=custom&f=__import__('os')", "--out", str(tmp_path / "x.csv"))
    assert "formula" in res.stderr  # a warning, then the default scene
