"""The training engine inside a real Streamlit server, driven over its websocket protocol.

What AppTest cannot show: a Stop click arriving while the page follows a
training, and a tab that closes (Streamlit's runtime then reports the session
gone, and its training's worker process must end).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from streamlit_client import StreamlitClient
from support import serve

LONG = {"Epochs": 600, "Batch size": 4}  # about 20 s for the four default optimizers on two moons, inside the budget


def _children(pid: int) -> list[int]:
    """Return the pids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _workers(server_pid: int) -> int:
    """Return how many training workers run: the children of the server's forkserver."""
    return sum(len(_children(c)) for c in _children(server_pid)
               if b"forkserver" in Path(f"/proc/{c}/cmdline").read_bytes())


def _progress(c: StreamlitClient) -> str:
    bars = c.elements_of("progress")
    return bars[-1].proto.text if bars else ""


async def _start_long_training(c: StreamlitClient) -> asyncio.Task:
    await c.navigate("mlp")
    for label, value in LONG.items():
        await c.set_value(label, value)
    train = asyncio.create_task(c.click("Train", timeout=120))
    await c.wait_until(lambda cl: "optimizers racing" in _progress(cl), timeout=60, what="training progress")
    return train


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    with serve() as base:
        yield base


def _server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in cmd and port.encode() in cmd:
                return int(entry)
    raise LookupError("no server process")


def test_stop_interrupts_the_following_page_and_ends_its_only_watchers_training(server):
    async def scenario():
        async with StreamlitClient(server) as c:
            await c.open()
            train = await _start_long_training(c)
            t0 = time.perf_counter()
            stopped = await c.click("Stop", timeout=60)
            print(f"\nStop click answered after {time.perf_counter() - t0:.2f} s")
            await asyncio.wait_for(train, 60)
            assert stopped.exceptions == 0
            return _server_pid(server)

    pid = asyncio.run(scenario())
    end = time.monotonic() + 60
    while _workers(pid) and time.monotonic() < end:
        time.sleep(0.2)
    assert _workers(pid) == 0


def test_a_closed_tabs_training_worker_ends(server):
    pid = _server_pid(server)

    async def scenario():
        c = StreamlitClient(server)
        await c.open()
        await _start_long_training(c)
        assert _workers(pid) == 1
        await c.close()  # the tab closes while its training runs

    asyncio.run(scenario())
    end = time.monotonic() + 90  # the engine's grace for a lost connection, then the stop
    while _workers(pid) and time.monotonic() < end:
        time.sleep(0.2)
    assert _workers(pid) == 0
