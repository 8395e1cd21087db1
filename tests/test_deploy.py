"""Replicas behind HAProxy under supervisord (deploy/): class, failover, headers (slow).

Starts 2 replicas of the app (app/streamlit_app.py, or tests/apps/sim_target.py only when the
app is missing) and HAProxy with deploy/haproxy.cfg, all kept running by supervisord, via
deploy/run_local.py, and checks:

- the class scenario through the balancer: no session failed (a session whose images or
  websocket went to the wrong replica fails), both replicas served sessions (HAProxy's
  per-server counters and each replica's own /_stcore/metrics), both stayed UP;
- failover: while new visitors arrive continuously (HTTP GETs of / and /_stcore/health, and
  whole Streamlit sessions over the websocket), one replica is killed with SIGKILL; no request
  or session started after the kill fails, and supervisord starts the replica again;
- `run_local.py` in serve mode keeps serving when a replica dies (it used to stop everything);
- the security headers HAProxy adds, and that the app still draws under them in Chromium and
  cannot be framed by another origin.

    pytest -m slow tests/test_deploy.py -s
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_sim import DEFAULTS  # noqa: E402
from run_local import Deployment, free_port, haproxy_binary, supervisord_binary  # noqa: E402
from streamlit_client import StreamlitClient, http_get  # noqa: E402

pytestmark = pytest.mark.slow


def target_app() -> str:
    return DEFAULTS["app"] if (REPO / DEFAULTS["app"]).exists() else DEFAULTS["fallback_app"]


def require_tools() -> None:
    missing = [pkg for pkg, found in (("haproxy", haproxy_binary()), ("supervisor", supervisord_binary())) if not found]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install {' '.join(missing)}); required when CI=true")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory):
    require_tools()
    app = target_app()
    print(f"\ndeploy target: {app}, 2 replicas")
    with Deployment(app, replicas=2, run_dir=tmp_path_factory.mktemp("deploy")) as dep:
        yield dep


def test_class_through_balancer_uses_both_replicas(deployment: Deployment, tmp_path: Path) -> None:
    out_json = tmp_path / "class.json"
    proc = subprocess.run(
        [sys.executable, "tests/class_sim.py", "--scenario", "class", "--url", deployment.url,
         "--browsers", "0", "--json", str(out_json)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    print(proc.stdout, proc.stderr[-3000:])
    report = deployment.report()
    print(report)
    data = json.loads(out_json.read_text())
    lines = {ln["name"].split(".", 1)[1]: ln for ln in data["lines"]}
    assert lines["failed_sessions"]["value"] == 0, proc.stdout
    assert lines["exception_elements"]["value"] == 0, proc.stdout

    stats = {s["name"]: s for s in deployment.server_stats()}
    assert set(stats) == {"r1", "r2"}, stats
    for name, s in stats.items():
        assert s["status"] == "UP", (name, s)
        assert int(s["stot"]) > 0, f"HAProxy sent nothing to {name}: {stats}"
        assert int(s["hrsp_5xx"] or 0) == 0, (name, s)
    sessions = deployment.replica_sessions()
    connects = [m.get("connect", 0) for m in sessions]
    assert all(c > 0 for c in connects), f"a replica served no Streamlit session: {sessions}"
    assert sum(connects) >= 40, sessions


def test_health_checks_and_websocket_through_balancer(deployment: Deployment) -> None:
    """/_stcore/health answers through HAProxy and one session runs over the proxied websocket."""

    async def one() -> tuple[str, int]:
        async with StreamlitClient(deployment.url, timeout=60, fetch_static=False) as c:
            r = await c.open()
            await c.fetch_media()
            return r.status, len(c.cookies.get("DESCENT_REPLICA", ""))

    status, cookie_len = asyncio.run(one())
    assert status == "FINISHED_SUCCESSFULLY"
    assert cookie_len > 0, "HAProxy set no affinity cookie"


# ----------------------------------------------------------------------------- security headers


def csp_directives(value: str) -> dict[str, list[str]]:
    """Return a Content-Security-Policy header as {directive: [sources]}."""
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def test_security_headers_on_every_answer(deployment: Deployment) -> None:
    """Page, health check, host config and a cached static asset all carry the headers."""

    async def fetch() -> dict[str, object]:
        page = await http_get(deployment.url + "/", timeout=30)
        asset = re.search(r'src="\./(static/js/[^"]+\.js)"', page.body.decode()).group(1)
        out = {"page": page}
        for name, path in (("health", "/_stcore/health"), ("host-config", "/_stcore/host-config"),
                           ("asset", "/" + asset), ("asset again (from HAProxy's cache)", "/" + asset)):  # fmt: skip
            out[name] = await http_get(deployment.url + path, timeout=30)
        return out

    answers = asyncio.run(fetch())
    assert answers["asset again (from HAProxy's cache)"].header("Age") is not None, "the asset did not come from the cache"
    html = answers["page"].body.decode()
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    for name, r in answers.items():
        assert r.status == 200, (name, r.status)
        assert r.header("X-Frame-Options") == "SAMEORIGIN", name
        assert r.header("X-Content-Type-Options") == "nosniff", name
        csp = csp_directives(r.header("Content-Security-Policy") or "")
        assert csp.get("frame-ancestors") == ["'self'"], (name, csp)
        assert csp.get("object-src") == ["'none'"], (name, csp)
        assert csp.get("default-src") == ["'self'"], (name, csp)
        scripts = csp.get("script-src", [])
        assert "'self'" in scripts and not {"*", "'unsafe-eval'", "'unsafe-inline'", "data:", "http:", "https:"} & set(scripts), scripts
        # index.html's inline scripts may run only by their hash, computed here from the page itself.
        for code in inline:
            digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in scripts, f"inline script {code.strip()[:60]!r} is not allowed by hash"


@pytest.mark.browser
def test_app_draws_under_the_headers_and_refuses_foreign_frames(deployment: Deployment) -> None:
    """In Chromium through the balancer: the race canvas and the MLP chart draw with no CSP violation;
    a page of another origin cannot frame the app, a page of the same origin can."""
    import numpy as np
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright
    from support import READY, launch

    violations_js = """
        window.__csp = [];
        document.addEventListener('securitypolicyviolation',
            e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    """
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(violations_js)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(deployment.url + "/")
            page.wait_for_selector(READY, timeout=60_000)
            expect(page.locator("[data-testid='race-frame']")).to_have_text(re.compile(r"step \d+ / [1-9]\d*"), timeout=30_000)
            shot = Image.open(io.BytesIO(page.locator("[data-testid='race-map']").screenshot()))
            grey = np.asarray(shot.convert("L")).astype(float)
            assert grey.std() > 20, f"the race map looks blank (grey-level std {grey.std():.1f})"
            # The MLP page: a Vega-Lite chart, an image and a data grid after a short training.
            page.goto(deployment.url + "/mlp")
            page.wait_for_selector(READY, timeout=60_000)
            epochs = page.get_by_role("spinbutton", name="Epochs")
            epochs.fill("10")
            epochs.press("Enter")
            page.wait_for_selector(READY, timeout=60_000)
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first
                   ).to_be_visible(timeout=120_000)  # fmt: skip
            expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=120_000)
            assert page.evaluate("window.__csp") == [], "the Content-Security-Policy blocked something the app uses"
            assert errors == [], errors
            assert page.locator("[data-testid='stException']").count() == 0

            def framed_app_loads(parent_url: str) -> bool:
                """Return whether the app drew inside an iframe of a page served (by Playwright) at parent_url."""
                frame_page = browser.new_page()
                try:
                    frame_page.route(parent_url, lambda route: route.fulfill(
                        status=200, content_type="text/html",
                        body=f'<!doctype html><iframe id="f" src="{deployment.url}/" width="900" height="600"></iframe>'))  # fmt: skip
                    frame_page.goto(parent_url)
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        child = next((f for f in frame_page.frames if f is not frame_page.main_frame), None)
                        if child is not None:
                            if child.url.startswith("chrome-error:"):
                                return False
                            if child.locator(READY).count() > 0:
                                return True
                        frame_page.wait_for_timeout(200)
                    raise AssertionError(f"the framed app neither loaded nor was refused within 30 s ({parent_url})")
                finally:
                    frame_page.close()

            assert not framed_app_loads("http://another-site.test/"), "another origin could frame the app"
            assert framed_app_loads(deployment.url + "/frame-test"), "the app's own origin could not frame it"
        finally:
            browser.close()


# ----------------------------------------------------------------------------- failover


def wait_for(predicate, what: str, timeout: float, step: float = 0.1) -> float:
    """Poll `predicate` until true; return the seconds it took, fail naming `what` after `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    pytest.fail(f"{what} did not happen within {timeout:g} s")


def health(url: str) -> int:
    try:
        return asyncio.run(http_get(url + "/_stcore/health", timeout=2)).status
    except (OSError, TimeoutError):
        return 0


async def visitors_during(deployment: Deployment, kill_at: float, kill, after: float) -> tuple[list[tuple], float]:
    """New visitors arrive while `kill()` runs `kill_at` s in; return (outcomes, kill time).

    Four loops GET / then /_stcore/health without cookies (each pair a new visitor, as a
    browser's first requests are), two loops open whole Streamlit sessions (page, health,
    host config, websocket, script run to script_finished). They run until `after` s after
    the kill. An outcome is (start, end, what, ok, detail), times from time.monotonic().
    """
    outcomes: list[tuple] = []
    killed = asyncio.get_running_loop().create_future()
    t0 = time.monotonic()

    def done() -> bool:
        return killed.done() and time.monotonic() > killed.result() + after

    async def http_visitor() -> None:
        for _ in range(10_000):
            if done() or time.monotonic() - t0 > kill_at + after + 60:
                return
            for path in ("/", "/_stcore/health"):
                start = time.monotonic()
                try:
                    r = await http_get(deployment.url + path, timeout=20)
                    outcomes.append((start, time.monotonic(), f"GET {path}", r.status == 200, r.status))
                except (OSError, TimeoutError, EOFError) as e:  # EOFError: asyncio.IncompleteReadError, a cut body
                    outcomes.append((start, time.monotonic(), f"GET {path}", False, repr(e)))
            await asyncio.sleep(0.05)

    async def session_visitor() -> None:
        for _ in range(1_000):
            if done() or time.monotonic() - t0 > kill_at + after + 60:
                return
            start = time.monotonic()
            try:
                async with StreamlitClient(deployment.url, timeout=30, fetch_static=False) as c:
                    r = await c.open()
                    ok = r.status == "FINISHED_SUCCESSFULLY" and c.exception_count() == 0
                    outcomes.append((start, time.monotonic(), "session", ok, r.status))
            except Exception as e:  # noqa: BLE001 - any failure of a new session is what we count
                outcomes.append((start, time.monotonic(), "session", False, repr(e)))

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        await asyncio.to_thread(kill)
        killed.set_result(time.monotonic())

    await asyncio.gather(killer(), *(http_visitor() for _ in range(4)), *(session_visitor() for _ in range(2)))
    return outcomes, killed.result()


def kill_under_load(deployment: Deployment, i: int) -> None:
    """kill -9 replica i while new visitors arrive; check none fails (sent after the kill or still
    unanswered at it) and that supervisord brings the replica back (new process, healthy, UP in HAProxy)."""
    name, server = deployment.replica_name(i), f"r{i + 1}"
    old_pid = deployment.replica_pid(i)
    restarts_before = deployment.restarts().get(name, 0)
    assert old_pid > 0, deployment.status()
    seen: dict[str, float] = {}  # seconds after the kill at which each step of the restart was seen

    def watch_restart(t_kill: float) -> None:
        steps = {
            "new process": lambda: deployment.replica_pid(i) not in (0, old_pid),
            "healthy": lambda: health(deployment.replica_url(i)) == 200,
            "UP in HAProxy": lambda: {s["name"]: s["status"] for s in deployment.server_stats()}.get(server) == "UP",
        }
        for step, predicate in steps.items():
            while time.monotonic() - t_kill < 60:
                if predicate():
                    seen[step] = time.monotonic() - t_kill
                    break
                time.sleep(0.05)

    watcher: list[threading.Thread] = []

    def kill() -> None:
        os.kill(old_pid, signal.SIGKILL)
        watcher.append(threading.Thread(target=watch_restart, args=(time.monotonic(),), daemon=True))
        watcher[0].start()

    outcomes, t_kill = asyncio.run(visitors_during(deployment, 2.0, kill, 6.0))
    watcher[0].join(90)

    # A new visitor's request counts if it was sent after the kill or was still unanswered when the
    # replica died (HAProxy must replay it elsewhere). A session that had already opened its
    # websocket on the killed replica loses it (a browser reconnects to a new session, which counts).
    # So does a response the replica had begun to send, its headers through HAProxy and its body cut
    # by the kill: a proxy cannot replay what it has begun to forward (the browser reloads).
    new = [o for o in outcomes if o[0] >= t_kill]
    in_flight = [o for o in outcomes if o[0] < t_kill < o[1]]
    cut = [o for o in in_flight if o[2] != "session" and "IncompleteReadError" in str(o[4])]
    counted = new + [o for o in in_flight if o[2] != "session" and o not in cut]
    first_second = [o for o in new if o[0] < t_kill + 1.0]
    failed = [(round(o[0] - t_kill, 2), o[2], o[4]) for o in counted if not o[3]]
    print(f"\n{name} killed: {len(new)} requests/sessions started after the kill "
          f"({sum(o[2] == 'session' for o in new)} websocket sessions, {len(first_second)} in the first second) "
          f"and {len(in_flight)} in flight: {len(failed)} failed; responses cut after they began: {len(cut)}; "
          f"lost established sessions: "
          f"{[o[4] for o in in_flight if o[2] == 'session' and not o[3]]}; restart seen after (s): {', '.join(f'{k} {v:.2f}' for k, v in seen.items())}")  # fmt: skip
    assert len(first_second) >= 5 and any(o[2] == "session" for o in new), "too little load to test failover"
    assert failed == [], f"new visitors failed after {name} was killed: {failed[:10]}"
    assert set(seen) == {"new process", "healthy", "UP in HAProxy"}, f"{name} not back within 60 s: {seen}"
    assert deployment.restarts().get(name, 0) == restarts_before + 1, deployment.restarts()


def test_killed_replica_is_restarted_and_no_new_visitor_fails(deployment: Deployment) -> None:
    """Each replica in turn: kill -9 under a stream of new visitors, none started after the kill
    fails (HAProxy replays on the other replica), supervisord restarts the killed one."""
    for i in range(deployment.n):
        kill_under_load(deployment, i)
    assert all(st["state"] == "RUNNING" for st in deployment.status().values()), deployment.status()


def test_serve_mode_survives_a_dead_replica(tmp_path: Path) -> None:
    """`python deploy/run_local.py` keeps serving through the other replica while supervisord restarts one."""
    require_tools()
    run_dir = tmp_path / "serve"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "deploy/run_local.py", "--app", target_app(), "--port", str(port), "--run-dir", str(run_dir),
         "--duration", "300"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving") or len(lines) > 50:
                break
        assert any(ln.startswith("serving") for ln in lines), "".join(lines)
        conf = str(run_dir / "supervisord.conf")
        status = subprocess.run(["supervisorctl", "-c", conf, "status", "replica1"], capture_output=True, text=True).stdout
        pid = int(re.search(r"pid (\d+)", status).group(1))
        os.kill(pid, signal.SIGKILL)
        url = f"http://127.0.0.1:{port}"
        # The balancer answers at once from replica 2, and keeps answering while replica 1 comes back.
        for _ in range(20):
            assert proc.poll() is None, "run_local.py exited after a replica died"
            assert health(url) == 200, "the balancer stopped serving after a replica died"
            time.sleep(0.25)

        def restarted() -> bool:
            out = subprocess.run(["supervisorctl", "-c", conf, "status", "replica1"], capture_output=True, text=True).stdout
            m = re.search(r"RUNNING\s+pid (\d+)", out)
            return bool(m) and int(m.group(1)) != pid

        wait_for(restarted, "supervisord restarting replica1", 60, 0.2)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=10)
    print(out)
    assert proc.returncode == 0, out
    assert "replica1 RUNNING (1 restarts)" in out, out
    assert health(url) == 0, "the balancer still answers after run_local.py stopped"
