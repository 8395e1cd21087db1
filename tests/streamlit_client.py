"""A simulated browser tab that speaks Streamlit's own websocket protocol (Streamlit 1.67).

One `StreamlitClient` is one student: it does what the browser's frontend does, with the
protobufs shipped in the `streamlit` package, over the `websockets` package (asyncio):

1. ``GET /`` (or the page's url path), then the static assets ``index.html`` references
   (as a fresh browser does), ``GET /_stcore/health`` (this answer sets the
   ``_streamlit_xsrf`` cookie) and ``GET /_stcore/host-config``. Cookies are kept in a
   small jar, so a load balancer's affinity cookie is honoured like a browser would.
2. Websocket to ``/_stcore/stream`` with subprotocols ``["streamlit", <xsrf cookie value>]``
   (the frontend sends ``PLACEHOLDER_AUTH_TOKEN`` when there is no cookie), the cookies and
   a same-origin ``Origin`` header.
3. A ``BackMsg.rerun_script`` (a ``ClientState``) naming the page (``page_name`` = url path
   on the first load, ``page_script_hash`` afterwards), the full set of widget values of the
   widgets on screen, the query string, the context info and the hashes of the cached
   messages (the server then answers with ``ref_hash`` references, resolved from our cache).
4. ``ForwardMsg`` stream: ``new_session`` starts each run, ``delta`` messages build the element
   tree (keyed by ``metadata.delta_path``), ``navigation`` lists the pages,
   ``script_finished`` ends the run; elements not touched by a finished full run are
   dropped, as the frontend does. ``auto_rerun`` (fragments with ``run_every``) is honoured
   while waiting for a condition.

Widgets are found by label (`find`), their value, options and range read from their
protobuf; changing one (`set_value`, `click`) sends a rerun with all current widget values
plus the new one and times it from send to ``script_finished``.

Only loopback servers are meant as targets (see tests/class_sim.py). Every await has a
timeout; `close()` is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

__all__ = [
    "Element",
    "HttpPool",
    "HttpResponse",
    "ProtocolError",
    "RunResult",
    "StreamlitClient",
    "Widget",
    "http_get",
]

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) descent-class-sim/1.0"

# Element types (Element oneof names) that are widgets the simulator knows how to drive.
WIDGET_TYPES = {
    "button",
    "download_button",
    "checkbox",
    "selectbox",
    "radio",
    "slider",
    "number_input",
    "text_input",
    "text_area",
    "multiselect",
    "button_group",
    "color_picker",
}
# Element types that count as "a table of results" for `has_results`.
TABLE_TYPES = {"dataframe", "table"}

_FINAL = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


class ProtocolError(RuntimeError):
    """The server did something a browser would show as an error (or not at all)."""


# --------------------------------------------------------------------------- HTTP


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


async def _read_response(reader: asyncio.StreamReader, method: str, max_bytes: int) -> tuple[HttpResponse, bool]:
    """Read one response; returns it and whether the connection may be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    status_parts = lines[0].split(" ", 2)
    if len(status_parts) < 2 or not status_parts[0].startswith("HTTP/"):
        raise ProtocolError(f"bad status line: {lines[0]!r}")
    status = int(status_parts[1])
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    resp = HttpResponse(status, headers, b"", 0.0)
    reusable = (resp.header("Connection") or "").lower() != "close" and status_parts[0] == "HTTP/1.1"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return resp, reusable
    if (resp.header("Transfer-Encoding") or "").lower() == "chunked":
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(body) > max_bytes:
                raise ProtocolError(f"response larger than {max_bytes} bytes")
        data = bytes(body)
    elif resp.header("Content-Length") is not None:
        n = int(resp.header("Content-Length") or 0)
        if n > max_bytes:
            raise ProtocolError(f"response larger than {max_bytes} bytes")
        data = await reader.readexactly(n)
    else:
        data = await reader.read(max_bytes + 1)
        reusable = False
    enc = (resp.header("Content-Encoding") or "").lower()
    if enc == "gzip":
        data = gzip.decompress(data)
    elif enc == "deflate":
        data = zlib.decompress(data)
    resp.body = data
    return resp, reusable


def _request_bytes(method: str, parts: Any, headers: dict[str, str] | None, keep_alive: bool) -> bytes:
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    hdrs = {
        "Host": parts.netloc,
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
        "Connection": "keep-alive" if keep_alive else "close",
    }
    hdrs.update(headers or {})
    return (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n").encode(
        "latin-1"
    )


def _split_http_url(url: str) -> Any:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"only http:// URLs are supported, got {url!r}")
    return parts


async def http_get(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    method: str = "GET",
    max_bytes: int = 64 * 1024 * 1024,
) -> HttpResponse:
    """One HTTP/1.1 request on its own connection (``Connection: close``), asyncio only.

    Handles Content-Length, chunked transfer and gzip/deflate content encoding, which is
    all Streamlit's server (uvicorn/starlette) and HAProxy use. http:// only.
    """
    parts = _split_http_url(url)
    t0 = time.perf_counter()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            writer.write(_request_bytes(method, parts, headers, keep_alive=False))
            await writer.drain()
            resp, _ = await _read_response(reader, method, max_bytes)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    resp.elapsed = time.perf_counter() - t0
    return resp


class HttpPool:
    """Keep-alive HTTP/1.1 connections to one origin, at most `size` at a time (a browser uses 6)."""

    def __init__(self, size: int = 6, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._sem = asyncio.Semaphore(size)
        # (reader, writer, when it became idle); servers close idle connections after a few
        # seconds (uvicorn: 5 s), so older ones are not reused.
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.max_idle = 3.0
        self.max_bytes = max_bytes
        self.connections_opened = 0

    async def request(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0,
                      method: str = "GET") -> HttpResponse:  # fmt: skip
        parts = _split_http_url(url)
        data = _request_bytes(method, parts, headers, keep_alive=True)
        t0 = time.perf_counter()
        async with self._sem, asyncio.timeout(timeout):
            for attempt in range(2):
                now = time.monotonic()
                for _, w, _since in [c for c in self._idle if now - c[2] > self.max_idle]:
                    self._close(w)
                self._idle = [c for c in self._idle if now - c[2] <= self.max_idle]
                reused = bool(self._idle) and attempt == 0
                if reused:
                    reader, writer, _ = self._idle.pop()
                else:
                    reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 80)
                    self.connections_opened += 1
                try:
                    writer.write(data)
                    await writer.drain()
                    resp, reusable = await _read_response(reader, method, self.max_bytes)
                except (ConnectionError, asyncio.IncompleteReadError):
                    self._close(writer)
                    if reused:
                        continue  # the server closed an idle connection: retry once on a new one
                    raise
                except BaseException:
                    self._close(writer)
                    raise
                if reusable:
                    self._idle.append((reader, writer, time.monotonic()))
                else:
                    self._close(writer)
                resp.elapsed = time.perf_counter() - t0
                return resp
        raise ProtocolError("unreachable")  # pragma: no cover

    @staticmethod
    def _close(writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            writer.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, w, _ in idle:
            self._close(w)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await w.wait_closed()


# --------------------------------------------------------------------------- element tree


@dataclass
class Element:
    path: tuple[int, ...]
    type: str  # the Element oneof name, e.g. "selectbox", "imgs", "exception"
    proto: Any  # the sub-message, e.g. a Selectbox
    active_script_hash: str
    run_seq: int

    @property
    def text(self) -> str:
        """The visible text of a text-like element, or its label ("" if none)."""
        p = self.proto
        for name in ("body", "label", "message"):
            v = getattr(p, name, None)
            if isinstance(v, str) and v:
                return v
        return ""


@dataclass
class Widget:
    id: str
    type: str
    label: str
    value: Any
    options: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    step: float | None = None
    is_int: bool = False
    is_select_slider: bool = False
    disabled: bool = False
    path: tuple[int, ...] = ()

    def describe(self) -> str:
        rng = f" [{self.min}..{self.max} step {self.step}]" if self.min is not None else ""
        opts = f" options={self.options}" if self.options else ""
        return f"{self.type} {self.label!r} = {self.value!r}{rng}{opts}"


@dataclass
class RunResult:
    """What one rerun did, as a browser would see it."""

    seconds: float  # send -> script_finished
    status: str  # ForwardMsg.ScriptFinishedStatus name
    exceptions: int  # exception elements received during the run
    exception_texts: list[str]
    deltas: int
    bytes_received: int


def _widget_from_element(el: Element) -> Widget | None:
    p = el.proto
    t = el.type
    if t not in WIDGET_TYPES:
        return None
    w = Widget(id=p.id, type=t, label=getattr(p, "label", ""), value=None, path=el.path)
    w.disabled = bool(getattr(p, "disabled", False))
    if t in ("button", "download_button"):
        w.value = None
    elif t == "checkbox":
        w.value = p.value if p.set_value else p.default
    elif t in ("selectbox", "radio"):
        w.options = list(p.options)
        if p.set_value:
            w.value = p.raw_value if (t == "radio" or p.HasField("raw_value")) else None
        elif (t == "radio" or p.HasField("default")) and 0 <= p.default < len(p.options):
            w.value = p.options[p.default]
    elif t == "slider":
        if p.type == p.Type.SELECT_SLIDER:
            w.is_select_slider = True
            w.options = list(p.options)
            if p.set_value and len(p.raw_value):
                vals = list(p.raw_value)
            else:
                vals = [p.options[int(i)] for i in p.default if 0 <= int(i) < len(p.options)]
            w.value = vals[0] if len(vals) == 1 else tuple(vals)
            w.min, w.max, w.step = 0, max(len(p.options) - 1, 0), 1
        else:
            vals = list(p.value) if p.set_value else list(p.default)
            w.is_int = p.data_type == p.DataType.INT
            if w.is_int:
                vals = [int(v) for v in vals]
            w.value = vals[0] if len(vals) == 1 else tuple(vals)
            w.min, w.max, w.step = p.min, p.max, p.step
    elif t == "number_input":
        w.is_int = p.data_type == p.DataType.INT
        if p.set_value and p.HasField("value"):
            v = p.value
        elif p.HasField("default"):
            v = p.default
        else:
            v = None
        w.value = int(v) if (v is not None and w.is_int) else v
        w.min = p.min if p.has_min else None
        w.max = p.max if p.has_max else None
        w.step = p.step or None
    elif t in ("text_input", "text_area"):
        if p.set_value and p.HasField("value"):
            w.value = p.value
        elif p.HasField("default"):
            w.value = p.default
    elif t == "color_picker":
        w.value = p.value if p.set_value else p.default
    elif t == "multiselect":
        w.options = list(p.options)
        w.value = list(p.raw_values) if p.set_value else [p.options[i] for i in p.default if i < len(p.options)]
    elif t == "button_group":
        w.options = [o.content for o in p.options]
        w.value = list(p.raw_values) if p.set_value else [w.options[i] for i in p.default if i < len(w.options)]
    return w


def _encode_state(w: Widget, value: Any) -> WidgetState | None:
    """The WidgetState the 1.67 frontend sends for `value` of widget `w` (None: send none)."""
    s = WidgetState(id=w.id)
    t = w.type
    if value is None:
        return None
    if t == "checkbox":
        s.bool_value = bool(value)
    elif t in ("selectbox", "radio", "text_input", "text_area", "color_picker"):
        s.string_value = str(value)
    elif t == "slider":
        vals = list(value) if isinstance(value, (tuple, list)) else [value]
        if w.is_select_slider:
            s.string_array_value.data.extend(str(v) for v in vals)
        else:
            s.double_array_value.data.extend(float(v) for v in vals)
    elif t == "number_input":
        if w.is_int:
            s.int_value = int(value)
        else:
            s.double_value = float(value)
    elif t in ("multiselect", "button_group"):
        vals = list(value) if isinstance(value, (tuple, list)) else [value]
        s.string_array_value.data.extend(str(v) for v in vals)
    else:
        return None
    return s


# --------------------------------------------------------------------------- client


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False



class StreamlitClient:
    """One simulated browser tab. Use as ``async with StreamlitClient(url) as c: ...``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        fetch_static: bool = True,
        name: str = "",
        timezone: str = "Europe/Berlin",
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"base_url must be http://host:port[/base], got {base_url!r}")
        if not _is_loopback(parts.hostname):
            raise ValueError(f"only loopback servers may be driven by the simulator, got {base_url!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self.fetch_static = fetch_static
        self.name = name
        self.timezone = timezone
        self.cookies: dict[str, str] = {}
        self.http = HttpPool(6)
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._cond = asyncio.Condition()
        # protocol state
        self.session_id = ""
        self.main_script_hash = ""
        self.page_script_hash = ""
        self.pages: list[dict[str, Any]] = []  # from navigation / new_session: hash, name, url_pathname
        self.run_seq = 0  # number of runs started (new_session messages)
        self.current_fragment_run = False
        self.finished: list[tuple[int, int]] = []  # (run_seq, status) of each script_finished
        self.elements: dict[tuple[int, ...], Element] = {}
        self.blocks: dict[tuple[int, ...], str] = {}
        self._block_run: dict[tuple[int, ...], int] = {}
        # The frontend's widget state manager: id -> current value of every widget on screen.
        # A widget's value starts as its protobuf's default, a user change (set_value) replaces
        # it, and the app overrides it when the protobuf says set_value (st.session_state).
        self.widget_values: dict[str, Any] = {}
        self.msg_cache: dict[str, ForwardMsg] = {}
        self.auto_reruns: dict[str, float] = {}  # fragment_id -> interval seconds
        self.fetched_urls: set[str] = set()
        self.error: BaseException | None = None
        self.page_not_found = False
        self.query_string = ""  # the URL's query string, as the browser would send it
        # counters
        self.deltas = 0
        #: (perf_counter time, element type) of every new element received, for redraw rates
        self.element_times: list[tuple[float, str]] = []
        self.bytes_received = 0
        self.exceptions_total = 0
        self.exception_texts: list[str] = []
        self.http_bytes = 0
        self.http_requests = 0
        self.compile_errors = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> StreamlitClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _store_cookies(self, resp: HttpResponse) -> None:
        for raw in resp.header_all("Set-Cookie"):
            pair = raw.split(";", 1)[0]
            k, sep, v = pair.partition("=")
            if sep:
                self.cookies[k.strip()] = v.strip().strip('"')

    async def get(self, path_or_url: str, *, timeout: float | None = None) -> HttpResponse:
        """GET a URL of this app (relative to the base URL) with the session's cookies."""
        url = path_or_url if path_or_url.startswith("http") else self._url(path_or_url)
        headers = {"Referer": self.base_url}
        if self.cookies:
            headers["Cookie"] = self._cookie_header()
        resp = await self.http.request(url, headers=headers, timeout=timeout or self.timeout)
        self._store_cookies(resp)
        self.http_requests += 1
        self.http_bytes += len(resp.body)
        return resp

    async def load(self, page: str = "") -> list[HttpResponse]:
        """What the browser fetches before the websocket: the page, its assets, health, host config."""
        responses = []
        page_resp = await self.get(page or "")
        if page_resp.status != 200:
            raise ProtocolError(f"GET {page or '/'} answered {page_resp.status}")
        responses.append(page_resp)
        if self.fetch_static:
            html = page_resp.body.decode("utf-8", "replace")
            assets = list(dict.fromkeys(re.findall(r'(?:src|href)="(\.?/?static/[^"]+)"', html)))
            # In parallel over the pool's keep-alive connections (6, like a browser).
            async def fetch(a: str) -> HttpResponse:
                r = await self.get(a.lstrip("./"))
                if r.status != 200:
                    raise ProtocolError(f"GET static asset {a} answered {r.status}")
                return r

            responses += await asyncio.gather(*(fetch(a) for a in assets))
        for path in ("_stcore/health", "_stcore/host-config"):
            r = await self.get(path)
            if r.status != 200:
                raise ProtocolError(f"GET {path} answered {r.status}: {r.body[:200]!r}")
            responses.append(r)
        return responses

    async def connect(self, page: str = "") -> None:
        """Load the page over HTTP, then open the websocket (no script run yet)."""
        await self.load(page)
        ws_url = "ws" + self._url("_stcore/stream")[4:]
        token = self.cookies.get("_streamlit_xsrf") or "PLACEHOLDER_AUTH_TOKEN"
        headers = {"Origin": self.origin, "User-Agent": USER_AGENT}
        if self.cookies:
            headers["Cookie"] = self._cookie_header()
        self.ws = await websockets.connect(
            ws_url,
            subprotocols=["streamlit", token],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=self.timeout,
            close_timeout=5,
            max_size=256 * 1024 * 1024,
            user_agent_header=None,
        )
        if self.ws.subprotocol != "streamlit":
            raise ProtocolError(f"server chose subprotocol {self.ws.subprotocol!r}")
        self._reader = asyncio.create_task(self._read_loop(), name=f"st-client-read-{self.name}")

    async def open(self, page: str = "", query_string: str = "") -> RunResult:
        """Load `page` (url path, "" = default page) and run the script to script_finished."""
        await self.connect(page)
        return await self.first_run(page, query_string)

    async def first_run(self, page: str = "", query_string: str = "") -> RunResult:
        """The rerun the frontend sends once connected: page by url path, no page hash yet."""
        return await self._rerun(page_name=page.strip("/"), page_script_hash="", query_string=query_string)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await self.ws.close()
        await self.http.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                async with asyncio.timeout(10):
                    await self._reader

    # ------------------------------------------------------------------ receiving

    async def _read_loop(self) -> None:
        try:
            async for data in self.ws:
                if isinstance(data, str):
                    raise ProtocolError("server sent a text frame")
                self.bytes_received += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                async with self._cond:
                    self._handle(msg)
                    self._cond.notify_all()
        except asyncio.CancelledError:
            raise
        except websockets.ConnectionClosedOK:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported to waiters
            self.error = exc
        finally:
            if self.error is None and not self._closed:
                self.error = ProtocolError("websocket closed by the server")
            async with self._cond:
                self._cond.notify_all()

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.msg_cache.get(msg.ref_hash)
            if cached is None:
                raise ProtocolError(f"server referred to message {msg.ref_hash} that the client never cached")
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg = full
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self.msg_cache[msg.hash] = msg
        if kind == "new_session":
            ns = msg.new_session
            self.run_seq += 1
            self.current_fragment_run = bool(msg.metadata.run.fragment_ids)
            self.session_id = ns.initialize.session_id or self.session_id
            self.main_script_hash = ns.main_script_hash
            self.page_script_hash = ns.page_script_hash
            if ns.app_pages:
                self.pages = [
                    {"hash": p.page_script_hash, "name": p.page_name, "url_pathname": p.url_pathname}
                    for p in ns.app_pages
                ]
        elif kind == "navigation":
            nav = msg.navigation
            self.pages = [
                {"hash": p.page_script_hash, "name": p.page_name, "url_pathname": p.url_pathname}
                for p in nav.app_pages
            ]
            if nav.page_script_hash:
                self.page_script_hash = nav.page_script_hash
        elif kind == "delta":
            self.deltas += 1
            path = tuple(msg.metadata.delta_path)
            d = msg.delta
            dkind = d.WhichOneof("type")
            if dkind == "new_element":
                etype = d.new_element.WhichOneof("type") or "empty"
                el = Element(
                    path,
                    etype,
                    getattr(d.new_element, etype),
                    msg.metadata.active_script_hash,
                    self.run_seq,
                )
                self.elements[path] = el
                self.element_times.append((time.perf_counter(), etype))
                if etype in WIDGET_TYPES and etype not in ("button", "download_button"):
                    w = _widget_from_element(el)
                    if w is not None and (w.id not in self.widget_values or getattr(el.proto, "set_value", False)):
                        self.widget_values[w.id] = w.value
                if etype == "exception" and not el.proto.is_warning:
                    self.exceptions_total += 1
                    self.exception_texts.append(f"{el.proto.type}: {el.proto.message}"[:300])
            elif dkind == "add_block":
                old = self.blocks.get(path)
                new = d.add_block.WhichOneof("type") or "vertical"
                if old is not None and old != new:
                    self._drop_under(path)
                self.blocks[path] = new
                self._touch_block(path)
        elif kind == "script_finished":
            status = msg.script_finished
            self.finished.append((self.run_seq, status))
            if status == ForwardMsg.FINISHED_SUCCESSFULLY and not self.current_fragment_run:
                self._clear_stale()
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self.compile_errors += 1
        elif kind == "session_event":
            ev = msg.session_event
            if ev.WhichOneof("type") == "script_compilation_exception":
                self.exceptions_total += 1
                e = ev.script_compilation_exception
                self.exception_texts.append(f"compile error {e.type}: {e.message}"[:300])
        elif kind == "page_info_changed":
            # st.query_params changed: the browser updates its URL and sends it with every rerun.
            self.query_string = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            self.page_not_found = True
        elif kind == "auto_rerun":
            ar = msg.auto_rerun
            self.auto_reruns[ar.fragment_id] = max(float(ar.interval), 0.05)
        elif kind == "stop_auto_rerun":
            self.auto_reruns.pop(msg.stop_auto_rerun.fragment_id, None)

    def _drop_under(self, path: tuple[int, ...]) -> None:
        n = len(path)
        for p in [p for p in self.elements if p[:n] == path and len(p) > n]:
            del self.elements[p]
        for p in [p for p in self.blocks if p[:n] == path and len(p) > n]:
            del self.blocks[p]

    def _touch_block(self, path: tuple[int, ...]) -> None:
        self._block_run[path] = self.run_seq

    def _clear_stale(self) -> None:
        """After a full successful run, drop what that run did not (re)send, like the frontend."""
        current = self.run_seq
        self.elements = {p: e for p, e in self.elements.items() if e.run_seq == current}
        self.blocks = {p: t for p, t in self.blocks.items() if self._block_run.get(p) == current}
        self._block_run = {p: r for p, r in self._block_run.items() if p in self.blocks}
        live = {e.proto.id for e in self.elements.values() if e.type in WIDGET_TYPES}
        for wid in [w for w in self.widget_values if w not in live]:
            del self.widget_values[wid]

    # ------------------------------------------------------------------ sending

    def _context_info(self) -> Any:
        ci = ClientState().context_info
        ci.timezone = self.timezone
        ci.timezone_offset = -60
        ci.locale = "en-US"
        ci.url = self.base_url
        ci.is_embedded = False
        ci.color_scheme = "light"
        return ci

    def _widget_states(self, *, keep_only_main: bool = False) -> list[WidgetState]:
        states: list[WidgetState] = []
        for el in self.elements.values():
            if el.type not in WIDGET_TYPES or el.type in ("button", "download_button"):
                continue
            if keep_only_main and el.active_script_hash != self.main_script_hash:
                continue
            w = _widget_from_element(el)
            if w is None:
                continue
            s = _encode_state(w, self.widget_values.get(w.id, w.value))
            if s is not None:
                states.append(s)
        return states

    async def _send(self, back: BackMsg) -> None:
        if self.ws is None:
            raise ProtocolError("not connected")
        async with asyncio.timeout(self.timeout):
            await self.ws.send(back.SerializeToString())

    async def _rerun(
        self,
        *,
        page_name: str = "",
        page_script_hash: str | None = None,
        query_string: str | None = None,
        extra: list[WidgetState] | None = None,
        fragment_id: str = "",
        is_auto_rerun: bool = False,
        keep_only_main: bool = False,
        timeout: float | None = None,
    ) -> RunResult:
        back = BackMsg()
        cs = back.rerun_script
        if query_string is None:
            query_string = self.query_string
        self.query_string = query_string
        cs.query_string = query_string
        cs.page_script_hash = self.page_script_hash if page_script_hash is None else page_script_hash
        cs.page_name = page_name
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = is_auto_rerun
        cs.cached_message_hashes.extend(self.msg_cache.keys())
        cs.context_info.CopyFrom(self._context_info())
        states = {s.id: s for s in self._widget_states(keep_only_main=keep_only_main)}
        for s in extra or []:
            states[s.id] = s
        cs.widget_states.widgets.extend(states.values())
        start_seq = self.run_seq
        ex0, d0, b0, t0n = self.exceptions_total, self.deltas, self.bytes_received, len(self.exception_texts)
        t0 = time.perf_counter()
        await self._send(back)
        # A fragment that calls st.rerun() ends early and the server runs the whole page: that run's end counts.
        wanted = {ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY, *_FINAL} if fragment_id else _FINAL

        def done() -> tuple[int, int] | None:
            for seq, status in self.finished:
                if seq > start_seq and status in wanted:
                    return seq, status
            return None

        got = await self._wait(done, timeout or self.timeout, what="script_finished")
        elapsed = time.perf_counter() - t0
        return RunResult(
            seconds=elapsed,
            status=ForwardMsg.ScriptFinishedStatus.Name(got[1]),
            exceptions=self.exceptions_total - ex0,
            exception_texts=self.exception_texts[t0n:],
            deltas=self.deltas - d0,
            bytes_received=self.bytes_received - b0,
        )

    async def _wait(self, predicate: Any, timeout: float, *, what: str) -> Any:
        try:
            async with asyncio.timeout(timeout):
                async with self._cond:
                    while True:
                        result = predicate()
                        if result:
                            return result
                        if self.error is not None:
                            raise ProtocolError(f"connection failed while waiting for {what}: {self.error!r}")
                        await self._cond.wait()
        except TimeoutError:
            raise ProtocolError(f"timed out after {timeout:.0f} s waiting for {what}") from None

    # ------------------------------------------------------------------ reading the page

    def widgets(self) -> list[Widget]:
        out = []
        for el in sorted(self.elements.values(), key=lambda e: e.path):
            w = _widget_from_element(el)
            if w is None:
                continue
            w.value = self.widget_values.get(w.id, w.value)
            out.append(w)
        return out

    def find(self, label: str, type: str | None = None) -> Widget:
        """The widget whose label is `label`: exact, then case-insensitive, then a unique substring."""
        ws = [w for w in self.widgets() if type is None or w.type == type]
        for test in (
            lambda w: w.label == label,
            lambda w: w.label.casefold() == label.casefold(),
            lambda w: label.casefold() in w.label.casefold(),
        ):
            hits = [w for w in ws if test(w)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise LookupError(f"label {label!r} matches several widgets: {[w.describe() for w in hits]}")
        raise LookupError(f"no widget labelled {label!r}; widgets on the page: {[w.describe() for w in ws]}")

    def elements_of(self, *types: str) -> list[Element]:
        return [e for e in sorted(self.elements.values(), key=lambda e: e.path) if e.type in types]

    def texts(self) -> list[str]:
        return [e.text for e in sorted(self.elements.values(), key=lambda e: e.path) if e.text]

    def has_text(self, pattern: str) -> bool:
        rx = re.compile(pattern)
        return any(rx.search(t) for t in self.texts())

    def exception_count(self) -> int:
        """Exception elements now on the page (warnings excluded)."""
        return sum(1 for e in self.elements.values() if e.type == "exception" and not e.proto.is_warning)

    def media_urls(self) -> list[str]:
        """URLs the browser would fetch for what is on the page now (images, media, components)."""
        urls: list[str] = []
        for el in sorted(self.elements.values(), key=lambda e: e.path):
            p = el.proto
            if el.type == "imgs":
                urls += [i.url for i in p.imgs if i.url]
            elif el.type in ("audio", "video") and p.url:
                urls.append(p.url)
            elif el.type == "component_instance":
                urls.append(p.url or f"/component/{p.component_name}/index.html")
            elif el.type == "bidi_component":
                for src in (p.js_source_path, p.css_source_path):
                    if src:
                        urls.append(f"/_stcore/bidi-components/{p.component_name}/{src}")
            elif el.type == "iframe" and p.src:
                urls.append(p.src)
        local = []
        for u in urls:
            if u.startswith(("data:", "blob:")):
                continue
            if u.startswith(("http:", "https:", "//")) and not u.startswith(self.origin):
                continue  # never leave the server under test
            local.append(u)
        return list(dict.fromkeys(local))

    async def fetch_media(self, *, refetch: bool = False) -> list[tuple[str, HttpResponse]]:
        """Fetch (once per URL, like a browser cache) what `media_urls` lists; raise on a non-200."""
        out = []
        for u in self.media_urls():
            if u in self.fetched_urls and not refetch:
                continue
            url = u if u.startswith("http") else self._url(u)
            r = await self.get(url)
            if r.status != 200:
                raise ProtocolError(f"GET {u} answered {r.status}")
            self.fetched_urls.add(u)
            out.append((u, r))
            if u.endswith(".html"):
                html = r.body.decode("utf-8", "replace")
                for a in re.findall(r'(?:src|href)="([^":#]+)"', html):
                    if a.startswith("/") or "//" in a:
                        continue
                    sub = urljoin(url, a)
                    if sub in self.fetched_urls:
                        continue
                    rr = await self.get(sub)
                    if rr.status != 200:
                        raise ProtocolError(f"GET {sub} (from {u}) answered {rr.status}")
                    self.fetched_urls.add(sub)
                    out.append((sub, rr))
        return out

    # ------------------------------------------------------------------ acting

    async def set_value(self, label_or_widget: str | Widget, value: Any, *, timeout: float | None = None) -> RunResult:
        """Change a widget as a user would (all other widget values kept) and rerun."""
        w = self.find(label_or_widget) if isinstance(label_or_widget, str) else label_or_widget
        if w.type in ("button", "download_button"):
            raise ValueError("use click() for buttons")
        state = _encode_state(w, value)
        if state is None:
            raise ValueError(f"cannot encode {value!r} for {w.describe()}")
        self.widget_values[w.id] = value
        return await self._rerun(extra=[state], timeout=timeout)

    async def click(self, label_or_widget: str | Widget, *, timeout: float | None = None) -> RunResult:
        """Click a button: a rerun with its trigger_value set (only for this run)."""
        w = self.find(label_or_widget) if isinstance(label_or_widget, str) else label_or_widget
        if w.type not in ("button",):
            raise ValueError(f"{w.describe()} is not a button")
        return await self._rerun(extra=[WidgetState(id=w.id, trigger_value=True)], timeout=timeout)

    async def rerun(self, *, timeout: float | None = None) -> RunResult:
        """The "R" key: rerun the current page with the current widget values."""
        return await self._rerun(timeout=timeout)

    def page_hash(self, page: str) -> str:
        """page_script_hash of a page given by url path, title or hash."""
        key = page.strip("/")
        for p in self.pages:
            if key in (p["url_pathname"], p["hash"], p["name"]):
                return p["hash"]
        # The default page's url path is "" in the navigation message; accept its title.
        for p in self.pages:
            if key.casefold() == p["name"].casefold().replace(" ", "_") or key.casefold() == p["name"].casefold():
                return p["hash"]
        raise LookupError(f"no page {page!r}; pages: {self.pages}")

    async def navigate(self, page: str, *, timeout: float | None = None) -> RunResult:
        """Switch to another page of an st.navigation app (by url path, title or hash)."""
        target = self.page_hash(page)
        # The frontend clears the old page's elements (and so their widget states) first.
        main = self.main_script_hash
        self.elements = {p: e for p, e in self.elements.items() if e.active_script_hash == main}
        live = {e.proto.id for e in self.elements.values() if e.type in WIDGET_TYPES}
        self.widget_values = {k: v for k, v in self.widget_values.items() if k in live}
        # ...and drops the old page's query parameters (it keeps only embed options).
        return await self._rerun(page_script_hash=target, keep_only_main=True, query_string="", timeout=timeout)

    async def wait_until(
        self,
        predicate: Any,
        *,
        timeout: float,
        what: str = "condition",
        poll_rerun_every: float | None = None,
    ) -> float:
        """Wait until `predicate(self)` is true; returns the seconds waited.

        Meanwhile it does what the browser does on its own: the fragment auto-reruns the
        server asked for (`st.fragment(run_every=...)`). With `poll_rerun_every`, it also
        reruns the page at that interval when nothing else drives the app (for apps that
        poll a background job with st.rerun / a refresh button).
        """
        t0 = time.perf_counter()
        deadline = t0 + timeout
        next_fragment: dict[str, float] = {}
        next_poll = t0 + (poll_rerun_every or 0)
        while True:
            if predicate(self):
                return time.perf_counter() - t0
            now = time.perf_counter()
            if now > deadline:
                raise ProtocolError(f"timed out after {timeout:.0f} s waiting for {what}")
            if self.error is not None:
                raise ProtocolError(f"connection failed while waiting for {what}: {self.error!r}")
            for frag, interval in list(self.auto_reruns.items()):
                due = next_fragment.setdefault(frag, now + interval)
                if now >= due:
                    await self._rerun(fragment_id=frag, is_auto_rerun=True, timeout=max(deadline - now, 1))
                    next_fragment[frag] = time.perf_counter() + interval
            if poll_rerun_every and now >= next_poll:
                await self._rerun(timeout=max(deadline - now, 1))
                next_poll = time.perf_counter() + poll_rerun_every
            try:
                async with asyncio.timeout(0.1):
                    async with self._cond:
                        await self._cond.wait()
            except TimeoutError:
                pass

    def has_results(self, marker: str | None = None) -> bool:
        """A results table is on the page, or (if given) text matching `marker`."""
        if marker:
            return self.has_text(marker)
        return bool(self.elements_of(*TABLE_TYPES))
