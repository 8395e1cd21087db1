"""The lecture-hall scenarios and the memory check, run against the app (slow).

Target: app/streamlit_app.py; only when that file is missing, the stand-in
tests/apps/sim_target.py (the test output says which). Each scenario runs the documented
command (tests/class_sim.py / tests/memory_check.py) in a subprocess that starts its own
server on a free loopback port, and asserts its exit criteria: no failed session, no
exception element, and no target missed by more than half again (the script's exit status).

    pytest -m slow tests/test_class_sim.py -s
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_sim import DEFAULTS, Server  # noqa: E402
from streamlit_client import StreamlitClient  # noqa: E402

pytestmark = pytest.mark.slow

IN_CI = os.environ.get("CI") == "true"
HAVE_CHROMIUM = shutil.which("chromium") is not None


def target_app() -> str:
    app = DEFAULTS["app"]
    if (REPO / app).exists():
        return app
    return DEFAULTS["fallback_app"]


def run_script(args: list[str], timeout: float = 900) -> tuple[subprocess.CompletedProcess, str]:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + ("\n" + proc.stderr if proc.returncode else "")
    print(out)
    return proc, out


def failed_lines(data: dict) -> list[str]:
    return [f"{ln['name']} = {ln['value']} (target {ln['target']})" for ln in data["lines"] if ln["status"] == "FAIL"]


def line(data: dict, suffix: str) -> dict:
    return next(ln for ln in data["lines"] if ln["name"].endswith(suffix))


@pytest.fixture(scope="module")
def app() -> str:
    a = target_app()
    print(f"\nclass simulator target: {a}" + ("" if a == DEFAULTS["app"] else " (app/streamlit_app.py is missing)"))
    return a


def scenario(app: str, name: str, tmp: Path, *extra: str) -> dict:
    out_json = tmp / f"{name}.json"
    args = ["tests/class_sim.py", "--scenario", name, "--start-server", "--app", app, "--json", str(out_json), *extra]
    proc, out = run_script(args)
    assert out_json.exists(), f"class_sim wrote no results:\n{out}"
    data = json.loads(out_json.read_text())
    data["returncode"] = proc.returncode
    data["output"] = out
    return data


@pytest.fixture(scope="module")
def class_run(app: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    extra = [] if (HAVE_CHROMIUM or IN_CI) else ["--browsers", "0"]
    return scenario(app, "class", tmp_path_factory.mktemp("class"), *extra)


def test_class_scenario(class_run: dict) -> None:
    """40 students within 10 s, 3 changes each: no failure, no exception, p95s within 1.5 x target."""
    assert line(class_run, ".failed_sessions")["value"] == 0, class_run["output"]
    assert line(class_run, ".exception_elements")["value"] == 0, class_run["output"]
    assert not failed_lines(class_run), failed_lines(class_run)
    assert class_run["returncode"] == 0, class_run["output"]


@pytest.mark.browser
def test_class_browsers_see_the_plot(class_run: dict) -> None:
    """The 3 Chromium tabs of the class run saw a drawn (non-blank) canvas or image."""
    if not HAVE_CHROMIUM and not IN_CI:
        pytest.skip("chromium is not installed (apt-get install chromium); required when CI=true")
    browsers = class_run["browsers"]
    assert len(browsers) == 3, class_run["output"]
    assert all(b["ok"] for b in browsers), [b["error"] for b in browsers]
    assert line(class_run, ".browser_exception_boxes")["value"] == 0


def test_burst_scenario(app: str, tmp_path: Path) -> None:
    """40 students at the same instant: p95 first render within 1.5 x 10 s, nothing fails."""
    data = scenario(app, "burst", tmp_path)
    assert line(data, ".failed_sessions")["value"] == 0, data["output"]
    assert line(data, ".exception_elements")["value"] == 0, data["output"]
    assert data["returncode"] == 0, data["output"]


def _has_training(app: str) -> bool:
    """Whether the app's MLP page has the experiment button (probe with one session)."""

    async def probe(url: str) -> bool:
        async with StreamlitClient(url, timeout=60, fetch_static=False) as c:
            await c.open(DEFAULTS["surface_page"])
            try:
                await c.navigate(DEFAULTS["mlp_page"])
                c.find(DEFAULTS["train_button"], type="button")
            except LookupError:
                return False
            return True

    with Server(app) as server:
        return asyncio.run(probe(server.url))


def test_trainers_scenario(app: str, tmp_path: Path) -> None:
    """4 trainings on the MLP page while 20 students change surface controls."""
    if not _has_training(app):
        pytest.skip(f"{app} has no page {DEFAULTS['mlp_page']!r} with a button {DEFAULTS['train_button']!r}")
    data = scenario(app, "trainers", tmp_path)
    assert line(data, ".trainings_with_results")["value"] == 4, data["output"]
    assert line(data, ".failed_sessions")["value"] == 0, data["output"]
    assert line(data, ".exception_elements")["value"] == 0, data["output"]
    assert data["returncode"] == 0, data["output"]


def test_memory_returns_after_100_sessions(app: str) -> None:
    """100 sessions opened and closed: RSS after expiry within 150 MiB of before."""
    proc, out = run_script(["tests/memory_check.py", "--app", app])
    assert "memory.after_minus_before" in out
    assert proc.returncode == 0, out


def test_redraw_rate_counts_chart_redraws_only_while_training() -> None:
    from class_sim import redraw_rate

    # Charts at 1.0, 1.02 (same redraw), 1.5, 2.0, 2.5; a markdown at 1.7; one chart before t0 and one after t1.
    times = [(0.5, "arrow_vega_lite_chart"), (1.0, "arrow_vega_lite_chart"), (1.02, "arrow_vega_lite_chart"),
             (1.5, "arrow_vega_lite_chart"), (1.7, "markdown"), (2.0, "arrow_vega_lite_chart"),
             (2.5, "arrow_vega_lite_chart"), (9.0, "arrow_vega_lite_chart")]  # fmt: skip
    rate, gap = redraw_rate(times, 0.9, 3.0)
    assert rate == pytest.approx(3 / 1.5)  # four redraws span 1.5 s
    assert gap == pytest.approx(0.5)
    assert redraw_rate(times[:3], 0.9, 3.0) == (None, None)  # one redraw gives no rate
