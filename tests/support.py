"""Shared helpers for tests that serve the app and drive a real headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "streamlit_app.py"
ARTIFACTS = ROOT / "artifacts"
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def require_chromium() -> str:
    """Return Chromium's path; skip the test where there is none, but fail under CI."""
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing under CI: .ci/run must install Debian's chromium")
    pytest.skip("no Chromium here (apt-get install chromium); browser tests skipped")


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_dask_workers(address: str, n: int, timeout: float = 60) -> None:
    """Return once the Dask scheduler at ``address`` has ``n`` workers."""
    from distributed import Client  # only the sweep tests and benchmark need Dask

    with Client(address, timeout=timeout, set_as_default=False) as c:
        c.wait_for_workers(n, timeout=timeout)


@contextlib.contextmanager
def local_dask_cluster(workers: int = 2, nice: int = 0):
    """Yield the address of a Dask scheduler on loopback with ``workers`` single-threaded workers.

    Started with the ``dask`` command line, as a deployment would (workers at
    ``nice`` and importing this checkout), and ended on exit.
    """
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]
    try:
        time.sleep(1.0)
        niced = ["nice", "-n", str(nice)] if nice else []
        procs.append(subprocess.Popen([*niced, sys.executable, "-m", "dask", "worker", address, "--nworkers",
                                       str(workers), "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                      **quiet))
        wait_for_dask_workers(address, workers)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_healthy(base: str, proc: subprocess.Popen | None = None, timeout: float = 90) -> None:
    """Return once the Streamlit server at ``base`` answers its health check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{base} did not become healthy in {timeout:.0f} s")


@contextlib.contextmanager
def serve(script: Path = APP, *extra: str, log: Path | None = None):
    """Run ``streamlit run script`` on a free loopback port from the repo root; yield its base URL."""
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", *extra],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()


def launch(playwright):
    """Return a headless Chromium browser (Debian's, not Playwright's download)."""
    return playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS, headless=True)


def mlp_page(query: dict | None = None):
    """Return the MLP page headless (AppTest) on its first visit, opened with ``query`` as its URL.

    The surfaces page runs first, as the app's default page does in a browser.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    if query is not None:
        at.query_params.clear()
        at.query_params.update(query)
    at.switch_page("views/mlp.py").run()
    assert not at.exception, at.exception
    return at
