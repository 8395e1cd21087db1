"""A lecture hall on one machine: many simulated students (and a few real browsers) use the app.

Documented command (from the repository root, so .streamlit/config.toml applies):

    python tests/class_sim.py --scenario class --start-server
    python tests/class_sim.py --scenario class --url http://127.0.0.1:8501

Scenarios
    class     40 students arrive uniformly within 10 s; each loads the page to script_finished,
              fetches its images/assets, then changes a control 3 times with 2-6 s of thinking
              between. 3 real Chromium tabs (Playwright) load the page at the same time and must
              see the plot drawn (a canvas or img that is not blank).
              Targets: no failure, no exception, p95 first render < 3 s, p95 control change < 1 s.
    burst     40 students at the same instant. Target: p95 first render < 10 s.
    trainers  4 students open a link to a live race of four optimizers on two moons (--train-link)
              on the MLP page and press Train while 20 others keep changing surface controls.
              Targets: the 20 keep p95 control change < 1.5 s, the 4 trainings end with results on
              the page, and each trainer's live curves redraw at least twice a second.
    sweepers  as trainers, but one student opens a link to four optimizers on two moons (300 epochs)
              and presses "Run the sweep" (7 learning rates x 3 seeds each: 84 trainings), then waits
              for the sweep's table while the 20 keep changing controls.

Before the students, one "lecturer" session opens the page (as the lecturer does before sharing
the link), so imports and caches are warm; --no-warmup measures a cold server.

"first render" is what a student waits for: from the first HTTP request (page, static assets,
health, websocket) to script_finished and the page's images fetched. "control change" is one
rerun: from sending the BackMsg to script_finished (the images it references are then fetched
and timed separately).

Each metric prints one line with its target and PASS / MISS / FAIL. MISS means the target was
missed by less than half again (measured <= 1.5 x target); FAIL means more than that, or an
error. The exit status is non-zero if any line FAILs.

Only loopback servers (127.0.0.0/8, ::1, localhost) are accepted as targets. Every loop is
bounded in count and time; --max-seconds bounds the whole run.

Labels of the controls are defaults in one place below (DEFAULTS); override with flags.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streamlit_client import ProtocolError, StreamlitClient, Widget  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------
# Defaults: align these with the app's labels (or pass the flags named in the comments).
# --------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    "app": "app/streamlit_app.py",  # --app, the script `streamlit run` starts (with --start-server)
    "fallback_app": "tests/apps/sim_target.py",  # used by the tests when the app is missing
    "surface_page": "",  # --surface-page, url path of the surfaces panel ("" = default page)
    # --control (repeatable): labels of the controls a student changes, in turn. "A|B" accepts
    # either label; a label that matches several widgets (one learning rate per optimizer)
    # picks one of them at random. If none is on the page, any control is changed (and a
    # warning printed).
    "controls": ["Surface", "Steps", "Learning rate|lr"],
    "mlp_page": "mlp",  # --mlp-page, url path of the MLP page
    "train_button": "Run the article's experiment",  # --train-button (without --train-link)
    # --train-link: a query string the trainers open the MLP page with before pressing "Train"
    # (issue 19's live race: four optimizers on two moons); "" = press --train-button instead.
    "train_link": "d=two_moons&h=16,16&ep=1000&b=32&seed=0&r=sgd(lr=0.1)&r=momentum(lr=0.05)"
                  "&r=rmsprop(lr=0.01)&r=adam(lr=0.01)",
    "link_train_button": "Train",
    # --results-marker: regex of a text that appears with the results; None = a table
    # (st.dataframe / st.table) appears on the MLP page.
    "results_marker": None,
    "train_timeout": 300.0,  # --train-timeout, seconds one training may take
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "class": {"students": 40, "ramp": 10.0, "changes": 3, "think": (2.0, 6.0), "browsers": 3},
    "burst": {"students": 40, "ramp": 0.0, "changes": 1, "think": (2.0, 6.0), "browsers": 0},
    "trainers": {"students": 20, "ramp": 5.0, "changes": 3, "think": (2.0, 6.0), "browsers": 0, "trainers": 4},
    # issue 18's figure: one sweep of 4 optimizers x 7 rates x 3 seeds on two moons, 300 epochs (84 trainings)
    "sweepers": {"students": 20, "ramp": 5.0, "changes": 3, "think": (2.0, 6.0), "browsers": 0, "trainers": 1,
                 "button": "Run the sweep",
                 "link": "d=two_moons&h=16,16&ep=300&b=32&seed=0&r=sgd(lr=0.01)&r=momentum(lr=0.01)"
                         "&r=rmsprop(lr=0.01)&r=adam(lr=0.01)"},
}

# Targets in seconds (None: reported, no target). "x < t" means PASS when measured < t.
TARGETS: dict[str, dict[str, float | None]] = {
    "class": {"first_render_p95": 3.0, "change_p95": 1.0, "browser_plot_max": 15.0},
    "burst": {"first_render_p95": 10.0, "change_p95": None},
    "trainers": {"first_render_p95": None, "change_p95": 1.5, "train_max": DEFAULTS["train_timeout"],
                 "redraws_per_s": 2.0},
    "sweepers": {"first_render_p95": None, "change_p95": 1.5, "train_max": DEFAULTS["train_timeout"]},
}
TOLERANCE = 1.5  # exit non-zero only when measured > TOLERANCE x target

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# --------------------------------------------------------------------------------------------
# Safety and server handling
# --------------------------------------------------------------------------------------------


def require_loopback(url: str) -> None:
    """Refuse any target that is not this machine."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"refusing to load-test {url!r}: only loopback addresses (127.0.0.1) are allowed")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before becoming healthy")
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
                last = str(r.status)
        except OSError as e:
            last = repr(e)
        time.sleep(0.25)
    raise RuntimeError(f"{url} not healthy after {timeout:.0f} s ({last})")


class Server:
    """`streamlit run <app>` on a free loopback port, started from the repo root, stopped on exit."""

    def __init__(self, app: str, *, port: int | None = None, extra: list[str] | None = None, log: Path | None = None):
        self.app = app
        self.port = port or free_port()
        self.extra = extra or []
        self.log_path = log or Path(os.environ.get("TMPDIR", "/tmp")) / f"class_sim_server_{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Server:
        cmd = [
            sys.executable, "-m", "streamlit", "run", self.app,
            "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--server.headless", "true", *self.extra,
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_healthy(self.url, timeout, self.proc)
        except Exception:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_mb(pid: int) -> float:
    """Resident set size of a process (and its children) in MiB, from /proc."""
    total = 0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of a process, its live children (a worker pool) and reaped ones."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for k, p in enumerate([pid, *_children(pid)]):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if k == 0:
                return math.nan
            continue
        total += sum(int(x) for x in fields[11:15]) / ticks
    return total


def own_cpu_seconds() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class RssSampler:
    """Samples a pid's RSS every `every` seconds in the event loop; keeps the peak."""

    def __init__(self, pid: int | None, every: float = 0.25):
        self.pid, self.every = pid, every
        self.start = self.peak = self.last = 0.0
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> RssSampler:
        self.cpu0 = cpu_seconds(self.pid) if self.pid else math.nan
        self.own0 = own_cpu_seconds()
        self.load0 = os.getloadavg()[0]
        if self.pid:
            self.start = self.peak = self.last = rss_mb(self.pid)
            self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.last = rss_mb(self.pid)
            self.peak = max(self.peak, self.last)

    async def __aexit__(self, *exc: object) -> None:
        self.cpu = (cpu_seconds(self.pid) - self.cpu0) if self.pid else math.nan
        self.own = own_cpu_seconds() - self.own0
        self.load1 = os.getloadavg()[0]
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --------------------------------------------------------------------------------------------
# Statistics and report
# --------------------------------------------------------------------------------------------


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no data."""
    if not xs:
        return math.nan
    s = sorted(xs)
    k = max(0, math.ceil(q / 100 * len(s)) - 1)
    return s[k]


@dataclass
class Line:
    name: str
    value: float
    unit: str = "s"
    target: float | None = None  # value must be < target (or == 0 for counts with target 0)
    kind: str = "lt"  # "lt": value < target, "ge": value >= target, "all": a count >= target, "eq0": == 0, "info"
    note: str = ""

    @property
    def status(self) -> str:
        if self.kind == "info" or self.target is None and self.kind != "eq0":
            return "INFO"
        if self.kind == "eq0":
            return "PASS" if self.value == 0 else "FAIL"
        if self.kind == "all":
            return "PASS" if self.value >= self.target else "FAIL"
        if self.kind == "ge":  # a rate: at least the target, MISS down to target / TOLERANCE
            if math.isnan(self.value):
                return "FAIL"
            return "PASS" if self.value >= self.target else "MISS" if self.value * TOLERANCE >= self.target else "FAIL"
        if math.isnan(self.value):
            return "FAIL"
        if self.value < self.target:
            return "PASS"
        return "MISS" if self.value <= TOLERANCE * self.target else "FAIL"

    def render(self) -> str:
        v = "n/a" if isinstance(self.value, float) and math.isnan(self.value) else (
            f"{self.value:.3f}" if self.unit == "s" else f"{self.value:g}"
        )
        if self.kind == "eq0":
            tgt = "target = 0"
        elif self.kind == "all":
            tgt = f"target = {self.target:g}"
        elif self.kind == "ge":
            tgt = f"target >= {self.target:g} {self.unit}".rstrip()
        elif self.target is not None and self.kind != "info":
            tgt = f"target < {self.target:g} {self.unit}".rstrip()
        else:
            tgt = "(no target)"
        note = f"  ({self.note})" if self.note else ""
        return f"{self.status:<4}  {self.name:<36} {v:>9} {self.unit:<3} {tgt}{note}"


@dataclass
class StudentResult:
    who: str
    ok: bool = False
    error: str = ""
    first_render: float | None = None  # start -> script_finished + media
    first_run: float | None = None  # rerun BackMsg -> script_finished
    static_seconds: float | None = None  # page + assets + health before the websocket
    changes: list[float] = field(default_factory=list)
    change_media: list[float] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    exceptions: int = 0
    exception_texts: list[str] = field(default_factory=list)
    media_fetched: int = 0
    train_seconds: float | None = None
    results_seen: bool = False
    redraws_per_s: float | None = None  # live chart redraws a trainer saw per second while training
    redraw_gap_max: float | None = None
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# What a student does
# --------------------------------------------------------------------------------------------


def pick_new_value(w: Widget, rng: random.Random) -> Any:
    """A different value a student might choose for widget `w` (None if it cannot be changed)."""
    if w.type in ("selectbox", "radio") or (w.type == "slider" and w.is_select_slider):
        choices = [o for o in w.options if o != w.value]
        return rng.choice(choices) if choices else None
    if w.type == "checkbox":
        return not bool(w.value)
    if w.type == "number_input":
        # The +/- buttons (a few steps), or, without bounds, typing a value 2-5 times larger
        # or smaller (a learning rate).
        cur = w.value if w.value is not None else (w.min if w.min is not None else 0)
        step = w.step or (1 if w.is_int else 0.01)
        lo = w.min if w.min is not None else -math.inf
        hi = w.max if w.max is not None else math.inf
        for _ in range(20):
            if not w.is_int and (w.min is None or w.max is None) and cur:
                v = cur * rng.choice([0.2, 0.5, 2.0, 5.0])
            else:
                v = cur + rng.choice([-1, 1]) * rng.randint(1, 5) * step
            v = min(max(v, lo), hi)
            v = int(round(v)) if w.is_int else float(f"{v:.6g}")
            if v != cur:
                return v
        return None
    if w.type == "slider":
        cur = w.value[0] if isinstance(w.value, tuple) else w.value
        step = w.step or (1 if w.is_int else 0.01)
        lo = w.min if w.min is not None else (cur if cur is not None else 0) - 10 * step
        hi = w.max if w.max is not None else (cur if cur is not None else 0) + 10 * step
        n = int(round((hi - lo) / step)) if step else 0
        if n <= 0:
            return None
        for _ in range(20):
            v = lo + rng.randint(0, n) * step
            v = int(round(v)) if w.is_int else round(v, 10)
            if v != cur:
                break
        if isinstance(w.value, tuple):  # a range slider: move the low end only
            hi_v = w.value[1]
            return (min(v, hi_v), hi_v)
        return v
    if w.type in ("multiselect", "button_group"):
        return [rng.choice(w.options)] if w.options else None
    return None


CHANGEABLE = ("selectbox", "radio", "slider", "number_input", "checkbox", "button_group")


def choose_widget(c: StreamlitClient, labels: list[str], turn: int, rng: random.Random, res: StudentResult) -> Widget:
    """The widget for this turn: labels in turn; several matches -> a random one; none -> any control."""
    ws = [w for w in c.widgets() if not w.disabled]
    for k in range(len(labels)):
        label = labels[(turn + k) % len(labels)]
        names = [x.strip() for x in label.split("|") if x.strip()]
        hits = [w for w in ws if w.label in names] or [
            w for w in ws if w.label.casefold() in {n.casefold() for n in names}
        ]
        if hits:
            return rng.choice(hits)
        msg = f"no control labelled {label!r}"
        if msg not in res.warnings:
            res.warnings.append(msg)
    anything = [w for w in ws if w.type in CHANGEABLE]
    if not anything:
        raise ProtocolError(f"no control to change on the page; widgets: {[w.describe() for w in ws]}")
    return rng.choice(anything)


async def student(
    idx: int,
    url: str,
    *,
    delay: float,
    changes: int,
    think: tuple[float, float],
    labels: list[str],
    page: str,
    seed: int,
    timeout: float,
    fetch_static: bool,
    keep_going: asyncio.Event | None = None,
    max_changes: int = 30,
) -> StudentResult:
    """Arrive after `delay`, load the page, fetch its images, change controls with think time.

    With `keep_going`, the student keeps changing controls (at least `changes`, at most
    `max_changes`) while the event is set.
    """
    res = StudentResult(who=f"student{idx:02d}")
    rng = random.Random(seed * 1000 + idx)
    await asyncio.sleep(delay)
    c = StreamlitClient(url, timeout=timeout, fetch_static=fetch_static, name=res.who)
    try:
        t0 = time.perf_counter()
        await c.connect(page)
        res.static_seconds = time.perf_counter() - t0
        run = await c.first_run(page)
        res.first_run = run.seconds
        fetched = await c.fetch_media()
        res.first_render = time.perf_counter() - t0
        res.media_fetched += len(fetched)
        turn = 0
        while turn < max_changes:
            if turn >= changes and (keep_going is None or not keep_going.is_set()):
                break
            await asyncio.sleep(rng.uniform(*think))
            w = choose_widget(c, labels, turn, rng, res)
            value = pick_new_value(w, rng)
            if value is None:
                turn += 1
                continue
            r = await c.set_value(w, value)
            res.changes.append(r.seconds)
            res.changed.append(f"{w.label}={value!r}")
            t1 = time.perf_counter()
            fetched = await c.fetch_media()
            res.change_media.append(time.perf_counter() - t1)
            res.media_fetched += len(fetched)
            turn += 1
        res.ok = True
    except Exception as e:  # noqa: BLE001 - a failed student is a result, not a crash
        res.error = f"{type(e).__name__}: {e}"[:500]
    finally:
        res.exceptions = c.exceptions_total
        res.exception_texts = c.exception_texts[:5]
        await c.close()
    return res


CHART_TYPES = ("arrow_vega_lite_chart", "vega_lite_chart")


def redraw_rate(times: list[tuple[float, str]], t0: float, t1: float, merge: float = 0.05) -> tuple[float | None, float | None]:
    """Return (redraws per second, longest gap in s) of the live charts received between t0 and t1.

    Chart elements arriving within ``merge`` seconds of each other are one redraw
    (the page draws loss and accuracy together). The rate is taken from the first
    to the last redraw, so time queued before the training started does not count.
    """
    redraws: list[float] = []
    for t, kind in times:
        if t0 <= t <= t1 and kind in CHART_TYPES and (not redraws or t - redraws[-1] > merge):
            redraws.append(t)
    if len(redraws) < 3:
        return None, None
    gaps = [b - a for a, b in zip(redraws, redraws[1:])]
    return (len(redraws) - 1) / (redraws[-1] - redraws[0]), max(gaps)


async def trainer(
    idx: int,
    url: str,
    *,
    delay: float,
    surface_page: str,
    mlp_page: str,
    button: str,
    marker: str | None,
    train_timeout: float,
    timeout: float,
    fetch_static: bool,
    link: str = "",
) -> StudentResult:
    """Open the app, go to the MLP page (through the navigation, or by ``link``), train, wait for results."""
    res = StudentResult(who=f"trainer{idx}")
    await asyncio.sleep(delay)
    c = StreamlitClient(url, timeout=timeout, fetch_static=fetch_static, name=res.who)
    try:
        t0 = time.perf_counter()
        if link:  # a shared link straight to an experiment on the MLP page
            await c.open(mlp_page, query_string=link)
            await c.fetch_media()
            res.first_render = time.perf_counter() - t0
        else:
            await c.open(surface_page)
            await c.fetch_media()
            res.first_render = time.perf_counter() - t0
            nav = await c.navigate(mlp_page)
            res.changes.append(nav.seconds)
            await c.fetch_media()
        t1 = time.perf_counter()
        await c.click(button, timeout=train_timeout)
        await c.wait_until(lambda cl: cl.has_results(marker), timeout=max(train_timeout - (time.perf_counter() - t1), 1),
                           what="the experiment's results")  # fmt: skip
        t_end = time.perf_counter()
        res.train_seconds = t_end - t1
        res.results_seen = True
        # While training, the page updates its progress bar on every look; the results drawn after the
        # last update are not live redraws.
        live_end = max((t for t, kind in c.element_times if t1 <= t <= t_end and kind == "progress"), default=t_end)
        res.redraws_per_s, res.redraw_gap_max = redraw_rate(c.element_times, t1, live_end)
        await c.fetch_media()
        res.ok = True
    except Exception as e:  # noqa: BLE001
        res.error = f"{type(e).__name__}: {e}"[:500]
    finally:
        res.exceptions = c.exceptions_total
        res.exception_texts = c.exception_texts[:5]
        await c.close()
    return res


# --------------------------------------------------------------------------------------------
# Real browsers
# --------------------------------------------------------------------------------------------


@dataclass
class BrowserResult:
    who: str
    ok: bool = False
    seconds: float | None = None
    error: str = ""
    what: str = ""
    exceptions: int = 0


def _non_blank(png: bytes) -> bool:
    import io

    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("RGB")
    stat = ImageStat.Stat(img)
    return max(stat.stddev) > 8.0 and len(img.getcolors(1 << 16) or range(1 << 16)) > 16


async def _plot_drawn(page: Any) -> str:
    """Describe a visible canvas/img (in the page or an iframe) that is not blank, or ""."""
    for frame in page.frames:
        try:
            handles = await frame.query_selector_all("canvas, img")
        except Exception:  # noqa: BLE001 - frames come and go while the app renders
            continue
        for h in handles:
            try:
                box = await h.bounding_box()
                if not box or box["width"] < 80 or box["height"] < 60:
                    continue
                png = await h.screenshot(timeout=5000)
                if _non_blank(png):
                    tag = await h.evaluate("e => e.tagName.toLowerCase()")
                    where = "iframe" if frame != page.main_frame else "page"
                    return f"{tag} {int(box['width'])}x{int(box['height'])} in {where}"
            except Exception:  # noqa: BLE001
                continue
    return ""


@contextlib.asynccontextmanager
async def launched_chromium(nice: int = 10) -> AsyncIterator[Any]:
    """Yield one headless Chromium, started before the class as the students' browsers are.

    In a lecture hall each browser runs on its student's laptop; here they share the server's
    cores. So Chromium is launched before the clock starts (starting a browser is not the
    server's work), and it runs through a wrapper script at a low priority: with ``nice`` > 0,
    ``nice -n NICE`` and, where ``chrt`` exists, the SCHED_IDLE policy, so it draws the page
    with the CPU time the server leaves over instead of taking it from the server it measures.
    Playwright's driver process, which relays every screenshot, gets the same priority.
    """
    import tempfile

    from playwright.async_api import async_playwright

    exe = shutil.which("chromium")
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="class-sim-chromium-") as tmp:
        if nice > 0:
            idle = f'"{shutil.which("chrt")}" --idle 0 ' if shutil.which("chrt") else ""
            wrapper = Path(tmp) / "chromium"
            wrapper.write_text(f'#!/bin/sh\nexec {idle}nice -n {int(nice)} "{exe}" "$@"\n')
            wrapper.chmod(0o755)
            exe = str(wrapper)
        before = set(_children(os.getpid()))
        async with async_playwright() as pw:
            if nice > 0:
                for pid in set(_children(os.getpid())) - before:  # Playwright's driver, not the server this script started
                    with contextlib.suppress(OSError):
                        os.setpriority(os.PRIO_PROCESS, pid, nice)
            browser = await pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                await browser.close()


async def browsers(browser: Any, url: str, n: int, *, delays: list[float], timeout: float) -> list[BrowserResult]:
    """`n` Chromium tabs (a context each, in ``browser``) load the page and must see a plot drawn."""
    results = [BrowserResult(who=f"chromium{i}") for i in range(n)]

    async def one(i: int) -> None:
        r = results[i]
        await asyncio.sleep(delays[i])
        ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = await ctx.new_page()
            t0 = time.perf_counter()
            await page.goto(url, timeout=timeout * 1000, wait_until="domcontentloaded")
            deadline = t0 + timeout
            # A cheap, event-driven wait for a candidate, then screenshots (costly) at most
            # every 0.5 s until one is not blank.
            await page.wait_for_selector("canvas, img", state="attached", timeout=timeout * 1000)
            while time.perf_counter() < deadline:
                what = await _plot_drawn(page)
                if what:
                    r.seconds, r.what, r.ok = time.perf_counter() - t0, what, True
                    break
                await asyncio.sleep(0.5)
            else:
                r.error = f"no non-blank canvas/img within {timeout:.0f} s"
            r.exceptions = await page.locator('[data-testid="stException"]').count()
        except Exception as e:  # noqa: BLE001 - a failed tab is a result
            r.error = f"{type(e).__name__}: {e}"[:300]
        finally:
            await ctx.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    return results


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


async def run_scenario(args: argparse.Namespace, url: str, server_pid: int | None) -> dict[str, Any]:
    sc = dict(SCENARIOS[args.scenario])
    for k in ("students", "ramp", "changes", "browsers", "trainers"):
        v = getattr(args, k, None)
        if v is not None:
            sc[k] = v
    n, ramp = sc["students"], sc["ramp"]
    think = sc["think"]
    delays = [ramp * i / n if n > 1 else 0.0 for i in range(n)]
    keep_going = asyncio.Event() if sc.get("trainers") else None
    if keep_going is not None:
        keep_going.set()
    common = dict(timeout=args.timeout, fetch_static=not args.no_static)
    warmup = math.nan
    if not args.no_warmup:
        # The lecturer opens the link before sharing it: imports and caches are warm.
        t0 = time.perf_counter()
        async with StreamlitClient(url, timeout=args.timeout, fetch_static=False, name="lecturer") as c:
            await c.open(args.surface_page)
            await c.fetch_media()
            if sc.get("trainers"):
                await c.navigate(args.mlp_page)
        warmup = time.perf_counter() - t0
    browser_skip = ""
    stack = contextlib.AsyncExitStack()
    chromium = None
    if sc.get("browsers"):
        if shutil.which("chromium") is None:
            browser_skip = "chromium not found"
        else:
            chromium = await stack.enter_async_context(launched_chromium(nice=args.browser_nice))
    tasks: list[asyncio.Task] = []
    t_start = time.perf_counter()
    async with stack, RssSampler(server_pid) as rss:
        for i in range(n):
            tasks.append(asyncio.create_task(student(
                i, url, delay=delays[i], changes=sc["changes"], think=think, labels=args.control,
                page=args.surface_page, seed=args.seed, keep_going=keep_going, **common)))  # fmt: skip
        trainer_tasks = []
        for i in range(sc.get("trainers") or 0):
            trainer_tasks.append(asyncio.create_task(trainer(
                i, url, delay=2.0 + i * 0.5, surface_page=args.surface_page, mlp_page=args.mlp_page,
                button=args.train_button or sc.get("button")
                or (DEFAULTS["link_train_button"] if args.train_link else DEFAULTS["train_button"]),
                marker=args.results_marker, train_timeout=args.train_timeout,
                link=sc.get("link", "") if sc.get("button") else args.train_link,
                **common)))  # fmt: skip
        browser_task = None
        if chromium is not None:
            nb = sc["browsers"]
            bdelays = [ramp * (i + 0.5) / max(nb, 1) for i in range(nb)]
            browser_task = asyncio.create_task(
                browsers(chromium, url, nb, delays=bdelays, timeout=args.browser_timeout)
            )
        trainer_results = await asyncio.gather(*trainer_tasks) if trainer_tasks else []
        if keep_going is not None:
            keep_going.clear()
        student_results = await asyncio.gather(*tasks)
        browser_results = await browser_task if browser_task else []
    wall = time.perf_counter() - t_start
    return {
        "scenario": args.scenario,
        "config": sc,
        "students": student_results,
        "trainers": trainer_results,
        "browsers": browser_results,
        "browser_skip": browser_skip,
        "wall": wall,
        "warmup": warmup,
        "rss": {"start": rss.start, "peak": rss.peak, "end": rss.last} if server_pid else None,
        "cpu": {"server": rss.cpu, "simulator": rss.own, "load_start": rss.load0, "load_end": rss.load1},
    }


def report(out: dict[str, Any], *, target_label: str) -> tuple[list[Line], list[str]]:
    """Lines (one per metric) and free-text details (errors, exceptions, warnings)."""
    name = out["scenario"]
    tg = TARGETS[name]
    students: list[StudentResult] = out["students"]
    trainers: list[StudentResult] = out["trainers"]
    everyone = students + trainers
    lines: list[Line] = []
    details: list[str] = []
    failed = [s for s in everyone if not s.ok]
    lines.append(Line(f"{name}.failed_sessions", len(failed), "", 0, "eq0", f"of {len(everyone)}"))
    exc = sum(s.exceptions for s in everyone)
    lines.append(Line(f"{name}.exception_elements", exc, "", 0, "eq0"))
    first = [s.first_render for s in students if s.first_render is not None]
    lines.append(Line(f"{name}.first_render_p95", percentile(first, 95), "s", tg.get("first_render_p95"),
                      "lt" if tg.get("first_render_p95") else "info", f"n={len(first)}, median {percentile(first, 50):.3f}"))  # fmt: skip
    runs = [s.first_run for s in students if s.first_run is not None]
    stat = [s.static_seconds for s in students if s.static_seconds is not None]
    lines.append(Line(f"{name}.first_script_run_p95", percentile(runs, 95), "s", None, "info", "of which: the script run"))
    lines.append(Line(f"{name}.page_and_assets_p95", percentile(stat, 95), "s", None, "info", "of which: HTTP before the websocket"))
    ch = [x for s in students for x in s.changes]
    lines.append(Line(f"{name}.change_p95", percentile(ch, 95), "s", tg.get("change_p95"),
                      "lt" if tg.get("change_p95") else "info", f"n={len(ch)}, median {percentile(ch, 50):.3f}, max {max(ch) if ch else math.nan:.3f}"))  # fmt: skip
    cm = [x for s in students for x in s.change_media]
    if cm:
        lines.append(Line(f"{name}.change_media_fetch_p95", percentile(cm, 95), "s", None, "info", "images after a change"))
    if trainers:
        done = [t for t in trainers if t.results_seen]
        lines.append(Line(f"{name}.trainings_with_results", len(done), "", len(trainers), "all", f"of {len(trainers)}"))
        ts = [t.train_seconds for t in done if t.train_seconds is not None]
        lines.append(Line(f"{name}.train_max", max(ts) if ts else math.nan, "s", tg.get("train_max"), "lt",
                          f"median {percentile(ts, 50):.1f}"))  # fmt: skip
        rates = [t.redraws_per_s for t in done if t.redraws_per_s is not None]
        gaps = [t.redraw_gap_max for t in done if t.redraw_gap_max is not None]
        lines.append(Line(f"{name}.live_redraws_per_s_min", round(min(rates), 2) if rates else math.nan, "/s",
                          tg.get("redraws_per_s"), "ge" if tg.get("redraws_per_s") else "info",
                          f"slowest trainer's live chart redraws while training; longest gap "
                          f"{max(gaps) if gaps else math.nan:.2f} s"))  # fmt: skip
    if out["browsers"] or out["browser_skip"]:
        bs: list[BrowserResult] = out["browsers"]
        if out["browser_skip"]:
            required = os.environ.get("CI") == "true"
            lines.append(Line(f"{name}.browsers_plot_drawn", 0 if required else math.nan, "", 1 if required else None,
                              "all" if required else "info", f"SKIPPED: {out['browser_skip']}"))  # fmt: skip
        else:
            okb = [b for b in bs if b.ok]
            lines.append(Line(f"{name}.browsers_plot_drawn", len(okb), "", len(bs), "all", f"of {len(bs)} Chromium tabs"))
            secs = [b.seconds for b in okb if b.seconds is not None]
            lines.append(Line(f"{name}.browser_plot_max", max(secs) if secs else math.nan, "s", tg.get("browser_plot_max"), "lt",
                              "; ".join(b.what for b in okb)[:120]))  # fmt: skip
            lines.append(Line(f"{name}.browser_exception_boxes", sum(b.exceptions for b in bs), "", 0, "eq0"))
            for b in bs:
                if not b.ok:
                    details.append(f"{b.who}: {b.error}")
    if out.get("rss"):
        r = out["rss"]
        lines.append(Line(f"{name}.server_rss_peak", round(r["peak"], 1), "MiB", None, "info",
                          f"start {r['start']:.0f}, end {r['end']:.0f}"))  # fmt: skip
    cpu = out["cpu"]
    if not math.isnan(cpu["server"]):
        lines.append(Line(f"{name}.server_cpu", cpu["server"], "s", None, "info",
                          "CPU seconds of the server (and its worker processes) during the run"))  # fmt: skip
    lines.append(Line(f"{name}.simulator_cpu", cpu["simulator"], "s", None, "info",
                      f"this process, incl. browsers' driver; machine load {cpu['load_start']:.1f} -> {cpu['load_end']:.1f}, "
                      f"{os.cpu_count()} cores"))  # fmt: skip
    if not math.isnan(out["warmup"]):
        lines.append(Line(f"{name}.lecturer_warmup", out["warmup"], "s", None, "info", "one session before the class, not counted"))
    lines.append(Line(f"{name}.wall_clock", out["wall"], "s", None, "info", target_label))
    if cpu["load_start"] > (os.cpu_count() or 1):
        details.append(f"warning: the machine was busy before the run (load {cpu['load_start']:.1f} on "
                       f"{os.cpu_count()} cores): timings are pessimistic")  # fmt: skip
    for s in failed:
        details.append(f"{s.who}: {s.error}")
    for s in everyone:
        for t in s.exception_texts:
            details.append(f"{s.who}: exception element: {t}")
    warn = sorted({w for s in everyone for w in s.warnings})
    for w in warn:
        details.append(f"warning: {w} (a random control was changed instead; see --control)")
    return lines, details


def _jsonable(out: dict[str, Any], lines: list[Line]) -> dict[str, Any]:
    def conv(x: Any) -> Any:
        if hasattr(x, "__dataclass_fields__"):
            return asdict(x)
        return x

    return {
        "scenario": out["scenario"],
        "config": out["config"],
        "wall": out["wall"],
        "warmup": out["warmup"],
        "rss": out["rss"],
        "cpu": out["cpu"],
        "browser_skip": out["browser_skip"],
        "lines": [{**asdict(ln), "status": ln.status} for ln in lines],
        "students": [conv(s) for s in out["students"]],
        "trainers": [conv(s) for s in out["trainers"]],
        "browsers": [conv(b) for b in out["browsers"]],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Defaults for labels are in DEFAULTS at the top of this file.")  # fmt: skip
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="class")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="a running app on a loopback address, e.g. http://127.0.0.1:8501")
    where.add_argument("--start-server", action="store_true", help="start `streamlit run APP` on a free loopback port")
    p.add_argument("--app", default=DEFAULTS["app"], help="app script for --start-server (default %(default)s)")
    p.add_argument("--server-pid", type=int, help="pid of the server behind --url, to report its memory")
    p.add_argument("--surface-page", default=DEFAULTS["surface_page"])
    p.add_argument("--control", action="append", help=f"label of a control to change (repeatable; default {DEFAULTS['controls']})")
    p.add_argument("--mlp-page", default=DEFAULTS["mlp_page"])
    p.add_argument("--train-link", default=DEFAULTS["train_link"],
                   help="query string of the experiment the trainers open on the MLP page ('' = the article's button)")
    p.add_argument("--train-button", help="button a trainer presses (default 'Train' with a link, else "
                   f"{DEFAULTS['train_button']!r})")
    p.add_argument("--results-marker", default=DEFAULTS["results_marker"])
    p.add_argument("--train-timeout", type=float, default=DEFAULTS["train_timeout"])
    p.add_argument("--students", type=int, help="override the scenario's number of students")
    p.add_argument("--ramp", type=float, help="override the arrival window in seconds")
    p.add_argument("--changes", type=int, help="override the number of control changes per student")
    p.add_argument("--browsers", type=int, help="override the number of real Chromium tabs")
    p.add_argument("--trainers", type=int, help="override the number of trainers (trainers scenario)")
    p.add_argument("--no-warmup", action="store_true", help="no lecturer session before the students (cold server)")
    p.add_argument("--no-static", action="store_true", help="do not fetch the frontend's JS/CSS (a warm browser cache)")
    p.add_argument("--timeout", type=float, default=60.0, help="timeout of any single step, seconds")
    p.add_argument("--browser-timeout", type=float, default=60.0)
    p.add_argument("--browser-nice", type=int, default=10,
                   help="run Chromium at this nice level, and at idle scheduling priority where chrt exists "
                        "(students' browsers are not on the server; 0 = same priority as the server)")
    p.add_argument("--max-seconds", type=float, default=900.0, help="bound on the whole run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    p.add_argument("--quiet", action="store_true", help="only the metric lines")
    a = p.parse_args(argv)
    if a.control is None:
        a.control = list(DEFAULTS["controls"])
    if not a.url and not a.start_server:
        p.error("give --url http://127.0.0.1:PORT or --start-server")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server: Server | None = None
    try:
        if args.start_server:
            app = args.app
            if not (REPO / app).exists():
                print(f"error: {app} does not exist", file=sys.stderr)
                return 2
            server = Server(app).start()
            url, pid = server.url, server.pid
            label = f"app {app} at {url} (started here)"
        else:
            url, pid = args.url.rstrip("/"), args.server_pid
            require_loopback(url)
            wait_healthy(url, 30)
            label = f"app at {url}"
        require_loopback(url)
        if not args.quiet:
            print(f"# scenario {args.scenario}: {label}; controls {args.control}", flush=True)

        async def bounded() -> dict[str, Any]:
            async with asyncio.timeout(args.max_seconds):
                return await run_scenario(args, url, pid)

        try:
            out = asyncio.run(bounded())
        except TimeoutError:
            print(f"FAIL  {args.scenario}.run did not finish within --max-seconds {args.max_seconds:g}")
            return 1
        lines, details = report(out, target_label=label)
        for ln in lines:
            print(ln.render())
        if not args.quiet:
            for d in details[:40]:
                print("  " + d)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({**_jsonable(out, lines), "target": label}, indent=1, default=str))
        return 1 if any(ln.status == "FAIL" for ln in lines) else 0
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
