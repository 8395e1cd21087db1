"""Does the server give memory back when a class leaves?

Documented command (from the repository root):

    python tests/memory_check.py                      # app/streamlit_app.py
    python tests/memory_check.py --app tests/apps/sim_target.py

It starts `streamlit run APP` on a free loopback port with a short
``server.disconnectedSessionTTL`` (default 5 s instead of 120 s), warms it up with one session,
then, twice (--rounds), opens 100 sessions (each runs the page to script_finished and
fetches its images; at most --concurrency connecting at a time, all 100 then held open
together), closes them all,
waits until the disconnected sessions have expired and triggers the expiry (Streamlit's session
store drops expired sessions lazily, on its next write, so one more session is opened and
closed), lets the server settle, and prints the server's RSS (with its child processes)
before, at peak and after. It fails (exit 1) when after - before exceeds --bound-mb
(default 150 MiB) or when a session failed. The RSS after each round shows whether memory is
reused (flat) or leaked (growing by the same amount every round): CPython keeps freed memory
in its own pools, so "after" rarely returns all the way to "before".
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_sim import REPO, RssSampler, Server, rss_mb  # noqa: E402
from streamlit_client import StreamlitClient  # noqa: E402


def metrics(url: str) -> dict[str, float]:
    """Session counters from Streamlit's /_stcore/metrics (Prometheus text)."""
    out: dict[str, float] = {}
    q = "families=session_events&families=active_sessions&families=cache_memory_bytes"
    with urllib.request.urlopen(f"{url}/_stcore/metrics?{q}", timeout=10) as r:
        for line in r.read().decode().splitlines():
            m = re.match(r'^(active_sessions|session_events_total\{type="(\w+)"\})\s+([0-9.e+]+)', line)
            if m:
                out[m.group(2) or m.group(1)] = float(m.group(3))
            m = re.match(r'^cache_memory_bytes\{cache_type="st_memory_media_file_storage".*\}\s+([0-9.e+]+)', line)
            if m:
                out["media_bytes"] = float(m.group(1))
    return out


async def one_session(url: str, page: str, timeout: float) -> StreamlitClient:
    c = StreamlitClient(url, timeout=timeout, fetch_static=False)
    try:
        await c.open(page)
        await c.fetch_media()
    except BaseException:
        await c.close()
        raise
    return c


async def check(args: argparse.Namespace, server: Server) -> dict[str, float]:
    url, pid = server.url, server.pid
    assert pid is not None
    warm = await one_session(url, args.page, args.timeout)
    await warm.close()
    await asyncio.sleep(2)
    before = rss_mb(pid)
    media_before = metrics(url).get("media_bytes", 0.0)
    sem = asyncio.Semaphore(args.concurrency)
    failures: list[str] = []

    async def opened(i: int) -> StreamlitClient | None:
        async with sem:
            try:
                return await one_session(url, args.page, args.timeout)
            except Exception as e:  # noqa: BLE001
                failures.append(f"session {i}: {type(e).__name__}: {e}"[:300])
                return None

    peak = 0.0
    afters: list[float] = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        async with RssSampler(pid, every=0.2) as rss:
            clients = await asyncio.gather(*(opened(i) for i in range(args.sessions)))
            open_seconds = time.perf_counter() - t0
            m_peak = metrics(url)
            live = m_peak.get("active_sessions", float("nan"))
            await asyncio.sleep(1)
            await asyncio.gather(*(c.close() for c in clients if c is not None))
            peak = max(peak, rss.peak)
        # Wait for the disconnected sessions to expire, then make the store drop them.
        await asyncio.sleep(args.ttl + 2)
        trigger = await one_session(url, args.page, args.timeout)
        await trigger.close()
        await asyncio.sleep(args.settle)
        afters.append(rss_mb(pid))
    after = afters[-1]
    m = metrics(url)
    return {
        "afters": afters,  # type: ignore[dict-item]
        "before": before,
        "peak": peak,
        "after": after,
        "open_seconds": open_seconds,
        "active_at_peak": live,
        "active_after": m.get("active_sessions", float("nan")),
        "connects": m.get("connect", float("nan")),
        "disconnects": m.get("disconnect", float("nan")),
        "media_before": media_before,
        "media_peak": m_peak.get("media_bytes", 0.0),
        "media_after": m.get("media_bytes", 0.0),
        "failures": len(failures),
        "failure_texts": failures[:10],  # type: ignore[dict-item]
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--app", default="app/streamlit_app.py")
    p.add_argument("--page", default="", help="url path of the page each session opens")
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2,
                   help="open and close the sessions this many times (a leak grows every round)")
    p.add_argument("--concurrency", type=int, default=20, help="sessions connecting at the same time")
    p.add_argument("--ttl", type=int, default=5, help="server.disconnectedSessionTTL for this run, seconds")
    p.add_argument("--settle", type=float, default=5.0, help="seconds to wait after expiry before measuring")
    p.add_argument("--bound-mb", type=float, default=150.0, help="allowed after - before, MiB")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--max-seconds", type=float, default=900.0)
    args = p.parse_args(argv)
    if not (REPO / args.app).exists():
        print(f"error: {args.app} does not exist", file=sys.stderr)
        return 2
    with Server(args.app, extra=["--server.disconnectedSessionTTL", str(args.ttl)]) as server:

        async def bounded() -> dict[str, float]:
            async with asyncio.timeout(args.max_seconds):
                return await check(args, server)

        r = asyncio.run(bounded())
    grow = r["after"] - r["before"]
    ok = grow < args.bound_mb and r["failures"] == 0
    print(f"# memory_check: {args.sessions} sessions of {args.app}, disconnectedSessionTTL={args.ttl} s")
    print(f"INFO  memory.rss_before                 {r['before']:9.1f} MiB (after one warm-up session)")
    print(f"INFO  memory.rss_peak                   {r['peak']:9.1f} MiB ({r['peak'] - r['before']:+.1f}; "
          f"{r['active_at_peak']:g} sessions open, {r['open_seconds']:.1f} s to open them)")  # fmt: skip
    print(f"INFO  memory.rss_after                  {r['after']:9.1f} MiB (sessions expired; "
          f"{r['active_after']:g} active, {r['connects']:g} connects / {r['disconnects']:g} disconnects)")  # fmt: skip
    if len(r["afters"]) > 1:  # type: ignore[arg-type]
        rounds = ", ".join(f"{a:.1f}" for a in r["afters"])  # type: ignore[union-attr]
        print(f"INFO  memory.rss_after_each_round       {rounds} MiB (flat = memory is reused, not leaked)")
    print(f"{'PASS' if grow < args.bound_mb else 'FAIL'}  memory.after_minus_before         {grow:9.1f} MiB target < {args.bound_mb:g} MiB")
    print(f"{'PASS' if r['failures'] == 0 else 'FAIL'}  memory.failed_sessions                  {r['failures']:g}     target = 0")
    print(f"INFO  memory.media_store_bytes          {r['media_after']:9.0f} B   (before {r['media_before']:.0f}, "
          f"with the sessions open {r['media_peak']:.0f}: images held for sessions)")  # fmt: skip
    for t in r["failure_texts"]:  # type: ignore[union-attr]
        print("  " + t)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
