"""Serve the app as several Streamlit replicas behind HAProxy, all on this machine's loopback.

Documented command (from the repository root, so .streamlit/config.toml applies):

    python deploy/run_local.py                       # 2 replicas + HAProxy on 127.0.0.1:8500
    python deploy/run_local.py --replicas 3 --port 8600
    python deploy/run_local.py -- python tests/class_sim.py --scenario class --url {url}

It writes a supervisord configuration into its run directory (one program per replica,
`streamlit run APP` on a free loopback port, and one for `haproxy -db -f deploy/haproxy.cfg`
with the ports passed as environment variables) and starts `supervisord` (Debian's
`supervisor` package) with it. supervisord restarts any of them that dies, while HAProxy
sends new visitors to the replicas still alive. The script waits until each replica answers
/_stcore/health and the balancer sees every replica UP, then either serves until Ctrl-C /
SIGTERM (at most --duration seconds) or runs the command after `--` (with {url} replaced by
the balancer's URL) and exits with its status. On exit it prints, per replica, the sessions
HAProxy sent there, the sessions Streamlit counted and the restarts, and stops supervisord,
which stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).resolve().parent / "haproxy.cfg"
MAX_REPLICAS = 8  # server lines in haproxy.cfg


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None)


def supervisord_binary() -> str | None:
    return shutil.which("supervisord")


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
    """Stop a process we started in its own session (and its children), politely then firmly."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _ini(value: str) -> str:
    """Return `value` safe inside supervisord's config, which expands %(name)s in every value."""
    return value.replace("%", "%%")


STOP_WAIT = 15  # seconds supervisord waits after SIGTERM before SIGKILL (a replica finishing its reruns)


def supervisor_config(run_dir: Path, programs: dict[str, list[str]]) -> str:
    """Return a supervisord.conf that keeps each program (name -> argv) running, logs in run_dir.

    Every program restarts whenever it exits (`autorestart=true`), also after kill -9;
    `startsecs=1` counts a start as good once the process has lived a second, and
    `startretries` bounds a crash loop (the program then goes FATAL and stays down, visible in
    `supervisorctl status`). Stops go to the whole process group, so a replica's training
    workers stop with it.
    """
    lines = [
        "; Written by deploy/run_local.py; supervisord keeps these programs running.",
        "[unix_http_server]",
        f"file={_ini(str(run_dir / 'supervisor.sock'))}",
        "chmod=0700",
        "",
        "[supervisord]",
        "nodaemon=true",
        f"logfile={_ini(str(run_dir / 'supervisord.log'))}",
        f"pidfile={_ini(str(run_dir / 'supervisord.pid'))}",
        f"childlogdir={_ini(str(run_dir))}",
        "loglevel=info",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_ini(str(run_dir / 'supervisor.sock'))}",
    ]
    for name, argv in programs.items():
        lines += [
            "",
            f"[program:{name}]",
            f"command={_ini(shlex.join(argv))}",
            f"directory={_ini(str(REPO))}",
            "autostart=true",
            "autorestart=true",
            "startsecs=1",
            "startretries=10",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_ini(str(run_dir / (name + '.log')))}",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=2",
        ]
    return "\n".join(lines) + "\n"


class Deployment:
    """Replicas + HAProxy under supervisord. Use as a context manager; `url` is the balancer."""

    def __init__(
        self,
        app: str = "app/streamlit_app.py",
        *,
        replicas: int = 2,
        port: int | None = None,
        stats_port: int | None = None,
        run_dir: Path | None = None,
        streamlit_args: list[str] | None = None,
        first_replica_port: int | None = None,
    ) -> None:
        if not 1 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"1..{MAX_REPLICAS} replicas (haproxy.cfg has {MAX_REPLICAS} server lines)")
        self.app = app
        self.n = replicas
        self.port = port or free_port()
        self.stats_port = stats_port or free_port()
        self.run_dir = (run_dir or Path(tempfile.mkdtemp(prefix="descent-deploy-"))).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.streamlit_args = streamlit_args or []
        self.first_replica_port = first_replica_port
        self.replica_ports: list[int] = []
        self.supervisord: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "haproxy.sock"

    @property
    def supervisor_conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[i]}"

    @staticmethod
    def replica_name(i: int) -> str:
        """supervisord's program name of replica i (0-based); HAProxy calls it r{i+1}."""
        return f"replica{i + 1}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for k in list(env):
            if re.fullmatch(r"DESCENT_R\d+", k):
                del env[k]
        env["DESCENT_BIND"] = f"127.0.0.1:{self.port}"
        env["DESCENT_STATS_BIND"] = f"127.0.0.1:{self.stats_port}"
        env["DESCENT_STATS_SOCKET"] = str(self.socket_path)
        for i, p in enumerate(self.replica_ports, start=1):
            env[f"DESCENT_R{i}"] = f"127.0.0.1:{p}"
        return env

    def programs(self, haproxy: str) -> dict[str, list[str]]:
        """Return what supervisord runs: name -> argv (the replicas, then HAProxy)."""
        progs = {}
        for i, port in enumerate(self.replica_ports):
            progs[self.replica_name(i)] = [
                sys.executable, "-m", "streamlit", "run", self.app,
                "--server.port", str(port), "--server.address", "127.0.0.1",
                "--server.headless", "true", *self.streamlit_args,
            ]  # fmt: skip
        progs["haproxy"] = [haproxy, "-db", "-f", str(CONFIG)]
        return progs

    def start(self, timeout: float = 120.0) -> Deployment:
        exe = haproxy_binary()
        if exe is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        sup = supervisord_binary()
        if sup is None:
            raise RuntimeError("supervisord is not installed (apt-get install supervisor)")
        if not (REPO / self.app).exists():
            raise FileNotFoundError(f"{self.app} does not exist (run from a checkout)")
        try:
            if self.first_replica_port:
                self.replica_ports = [self.first_replica_port + i for i in range(self.n)]
            else:
                self.replica_ports = [free_port() for _ in range(self.n)]
            env = self.env()
            check = subprocess.run([exe, "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True, timeout=30)
            if check.returncode != 0:
                raise RuntimeError(f"haproxy rejected {CONFIG}:\n{check.stdout}{check.stderr}")
            self.supervisor_conf.write_text(supervisor_config(self.run_dir, self.programs(exe)))
            self._log_file = open(self.run_dir / "supervisord.out", "wb")  # noqa: SIM115 - closed in stop()
            # Its own session: Ctrl-C in the terminal reaches this script, which then stops
            # supervisord with SIGTERM (supervisord stops its programs before it exits).
            self.supervisord = subprocess.Popen([sup, "-n", "-c", str(self.supervisor_conf)], cwd=REPO, env=env,
                                                stdout=self._log_file, stderr=subprocess.STDOUT,
                                                start_new_session=True)  # fmt: skip
            deadline = time.monotonic() + timeout
            for i in range(self.n):
                while http_status(self.replica_url(i) + "/_stcore/health") != 200:
                    self._check_alive(f"replica {i + 1}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"replica {i + 1} not healthy after {timeout:.0f} s; see {self.run_dir}")
                    time.sleep(0.25)
            while True:
                self._check_alive("haproxy")
                if self.socket_path.exists() and http_status(self.url + "/_stcore/health") == 200:
                    up = [s for s in self.server_stats() if s["status"] == "UP"]
                    if len(up) == self.n:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"balancer not ready after {timeout:.0f} s; see {self.run_dir}")
                time.sleep(0.25)
        except BaseException:
            self.stop()
            raise
        return self

    def _check_alive(self, waiting_for: str) -> None:
        if self.supervisord is None or self.supervisord.poll() is not None:
            code = self.supervisord.returncode if self.supervisord else None
            raise RuntimeError(f"supervisord exited ({code}) while waiting for {waiting_for}; see {self.run_dir}")
        for name, st in self.status().items():
            if st["state"] in ("FATAL", "BACKOFF"):
                raise RuntimeError(f"{name} does not start ({st['state']}); see {self.run_dir}/{name}.log")

    def supervisorctl(self, *args: str, timeout: float = 30.0) -> str:
        """Run one supervisorctl command against this deployment's supervisord; return its output."""
        proc = subprocess.run([shutil.which("supervisorctl") or "supervisorctl", "-c", str(self.supervisor_conf), *args],
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        return proc.stdout + proc.stderr

    def status(self) -> dict[str, dict]:
        """Return supervisord's view of each program: {"state": "RUNNING", "pid": 123} (pid 0 when not running)."""
        if self.supervisord is None or self.supervisord.poll() is not None:
            return {}
        out = {}
        for line in self.supervisorctl("status").splitlines():
            m = re.match(r"^(\S+)\s+([A-Z]+)\s*(?:pid (\d+))?", line)
            if m and m.group(2) in ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN"):
                out[m.group(1)] = {"state": m.group(2), "pid": int(m.group(3) or 0)}
        return out

    def replica_pid(self, i: int) -> int:
        """Return the pid of replica i's Streamlit process (0 while it is not running)."""
        return self.status().get(self.replica_name(i), {}).get("pid", 0)

    def restarts(self) -> dict[str, int]:
        """Return, per program, how often supervisord started it again (from its log's "spawned:" lines)."""
        log = self.run_dir / "supervisord.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        spawned = re.findall(r"spawned: '([^']+)'", text)
        return {name: max(0, spawned.count(name) - 1) for name in dict.fromkeys(spawned)}

    def stop(self) -> None:
        if self.supervisord is not None and self.supervisord.poll() is None:
            pids = [st["pid"] for st in self.status().values() if st["pid"]]
            # supervisord stops each program (process group, SIGTERM, SIGKILL after STOP_WAIT s), then exits.
            self.supervisord.send_signal(signal.SIGTERM)
            try:
                self.supervisord.wait(STOP_WAIT + 15)
            except subprocess.TimeoutExpired:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                stop_process(self.supervisord, signal.SIGKILL, grace=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ figures

    def admin(self, command: str) -> str:
        """One command on HAProxy's admin socket, e.g. "show stat" or "show cache"."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.socket_path))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode()

    def server_stats(self) -> list[dict[str, str]]:
        """Rows of "show stat" for the replicas: name, status, stot (sessions sent), scur, ..."""
        text = self.admin("show stat")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("# "))))
        return [
            {"name": r["svname"], "status": r["status"], "stot": r["stot"], "scur": r["scur"],
             "hrsp_2xx": r.get("hrsp_2xx", ""), "hrsp_4xx": r.get("hrsp_4xx", ""), "hrsp_5xx": r.get("hrsp_5xx", ""),
             "addr": r.get("addr", "")}  # fmt: skip
            for r in rows
            if r.get("pxname") == "replicas" and r.get("svname") not in ("FRONTEND", "BACKEND")
        ]

    def cache_hits(self) -> dict[str, int]:
        """Requests answered from HAProxy's cache vs. looked up, for the replicas backend."""
        rows = list(csv.DictReader(io.StringIO(self.admin("show stat").lstrip("# "))))
        for r in rows:
            if r.get("pxname") == "replicas" and r.get("svname") == "BACKEND":
                return {"lookups": int(r.get("cache_lookups") or 0), "hits": int(r.get("cache_hits") or 0)}
        return {"lookups": 0, "hits": 0}

    def replica_sessions(self) -> list[dict[str, float]]:
        """Streamlit's own session counters (/_stcore/metrics) of each replica, asked directly."""
        out = []
        for i in range(self.n):
            counts: dict[str, float] = {}
            try:
                with urllib.request.urlopen(self.replica_url(i) + "/_stcore/metrics?families=session_events&families=active_sessions",
                                            timeout=10) as r:  # fmt: skip
                    for line in r.read().decode().splitlines():
                        m = re.match(r'^(active_sessions|session_events_total\{type="(\w+)"\})\s+([0-9.e+]+)', line)
                        if m:
                            counts[m.group(2) or m.group(1)] = float(m.group(3))
            except OSError as e:
                counts["error"] = float("nan")
                print(f"replica {i + 1}: metrics unavailable: {e}", file=sys.stderr)
            out.append(counts)
        return out

    def report(self) -> str:
        lines = []
        stats = {s["name"]: s for s in self.server_stats()}
        sessions = self.replica_sessions()
        for i in range(self.n):
            s = stats.get(f"r{i + 1}", {})
            m = sessions[i]
            lines.append(
                f"replica r{i + 1} 127.0.0.1:{self.replica_ports[i]}: haproxy {s.get('status', '?')}, "
                f"{s.get('stot', '?')} connections sent (2xx {s.get('hrsp_2xx', '?')}, 4xx {s.get('hrsp_4xx', '?')}, "
                f"5xx {s.get('hrsp_5xx', '?')}); streamlit sessions: {m.get('connect', 0):g} connected, "
                f"{m.get('active_sessions', 0):g} active"
            )
        c = self.cache_hits()
        lines.append(f"haproxy cache (/static/): {c['hits']} hits of {c['lookups']} lookups")
        state = self.status()
        restarts = self.restarts()
        lines.append("supervisord: " + ", ".join(
            f"{name} {st['state']} ({restarts.get(name, 0)} restarts)" for name, st in state.items()))  # fmt: skip
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        k = argv.index("--")
        argv, command = argv[:k], argv[k + 1 :]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                usage="%(prog)s [options] [-- command with {url} ...]")  # fmt: skip
    p.add_argument("--app", default="app/streamlit_app.py")
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--port", type=int, default=8500, help="balancer port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--stats-port", type=int, default=0, help="HAProxy stats page port (0 = any free port)")
    p.add_argument("--replica-port", type=int, default=0,
                   help="first replica's port; the others follow it (0 = any free ports)")
    p.add_argument("--duration", type=float, default=8 * 3600, help="serve at most this long, seconds")
    p.add_argument("--run-dir", type=Path, help="where logs and the admin socket go (default: a new temp dir)")
    args = p.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    dep = Deployment(args.app, replicas=args.replicas, port=args.port or None, stats_port=args.stats_port or None,
                     run_dir=args.run_dir, first_replica_port=args.replica_port or None)  # fmt: skip
    rc = 0
    try:
        dep.start()
        print(f"balancer  {dep.url}  ({args.replicas} replicas of {args.app})", flush=True)
        print(f"stats     http://127.0.0.1:{dep.stats_port}/stats   socket {dep.socket_path}", flush=True)
        print(f"logs      {dep.run_dir}", flush=True)
        if command:
            cmd = [c.replace("{url}", dep.url) for c in command]
            print("running   " + " ".join(cmd), flush=True)
            proc = subprocess.Popen(cmd, cwd=REPO)
            while proc.poll() is None and not stop.is_set():
                stop.wait(0.5)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            rc = proc.returncode
        else:
            print("serving   until Ctrl-C (supervisord restarts a replica or HAProxy that dies)", flush=True)
            deadline = time.monotonic() + args.duration
            seen = {name: st["pid"] for name, st in dep.status().items()}
            while not stop.is_set() and time.monotonic() < deadline:
                if dep.supervisord is None or dep.supervisord.poll() is not None:
                    print(f"supervisord exited ({dep.supervisord.returncode if dep.supervisord else '?'})")
                    rc = 1
                    break
                for name, st in dep.status().items():
                    if st["pid"] != seen.get(name):
                        print(f"{time.strftime('%H:%M:%S')} {name}: {st['state']}, pid {st['pid'] or '-'}", flush=True)
                        seen[name] = st["pid"]
                stop.wait(2.0)
        print(dep.report(), flush=True)
    except (RuntimeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        rc = 2
    finally:
        dep.stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
