"""Replicas behind HAProxy (deploy/): the class simulator through the balancer (slow).

Starts 2 replicas of the app (app/streamlit_app.py, or tests/apps/sim_target.py only when the
app is missing) and HAProxy with deploy/haproxy.cfg via deploy/run_local.py, runs the class
scenario against the balancer, and checks that no session failed (a session whose images or
websocket went to the wrong replica fails), that both replicas served sessions (HAProxy's
per-server counters and each replica's own /_stcore/metrics), and that both stayed UP.

    pytest -m slow tests/test_deploy.py -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_sim import DEFAULTS  # noqa: E402
from run_local import Deployment, haproxy_binary  # noqa: E402

pytestmark = pytest.mark.slow


def target_app() -> str:
    return DEFAULTS["app"] if (REPO / DEFAULTS["app"]).exists() else DEFAULTS["fallback_app"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory):
    if haproxy_binary() is None and os.environ.get("CI") != "true":
        pytest.skip("haproxy is not installed (apt-get install haproxy); required when CI=true")
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
    import asyncio

    from streamlit_client import StreamlitClient

    async def one() -> tuple[str, int]:
        async with StreamlitClient(deployment.url, timeout=60, fetch_static=False) as c:
            r = await c.open()
            await c.fetch_media()
            return r.status, len(c.cookies.get("DESCENT_REPLICA", ""))

    status, cookie_len = asyncio.run(one())
    assert status == "FINISHED_SUCCESSFULLY"
    assert cookie_len > 0, "HAProxy set no affinity cookie"
