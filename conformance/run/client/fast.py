"""Fast path for streaming chat requests: HTTP/1.1 on an ``asyncio.Protocol``.

The httpx stack (httpcore → anyio → h11) costs ~30 µs of Python per read, which caps one
event loop near 10,000 streamed chunks per second — below what hundreds of streams need.
Here the loop calls ``data_received`` directly: the read is timestamped there, its framing
(status line, headers, chunked encoding, trailers) parsed by llhttp through ``httptools``
(the parser uvicorn and Node.js use, fuzzed for years against what a hostile peer sends),
and the body bytes of that read handed to the SSE splitter in the same call, with no
coroutine switch per read; the request's coroutine wakes once, when the response ends.
Requests are still *built* by httpx (URL, headers, JSON body), and every other request
(non-streaming, ``get``, ``post_raw``, HTTP/2, a custom transport) goes through httpx.
Faults map to the same error classes: invalid framing (a bad chunk size, a lying length,
Content-Length beside chunked, an oversized head) is ``protocol``, a connection closed
before a framed body ended is ``reset``, silence past the idle deadline is ``timeout``;
nothing raises out of here. The default (``ClientConfig(engine="fast")``;
``engine="httpx"`` turns it off); tests run the same misbehaving servers through both
engines. Proxies are not supported on this path (certification runs talk to the endpoint
directly).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import httptools
import httpx

from conformance.run.client.sse import SSESplitter
from conformance.run.records import RequestRecord

MAX_HEAD = 64 * 1024


class FastError(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _Exchange:
    """One response being received on a connection; llhttp (``httptools``) does the
    framing and calls back here. Body bytes of one read are gathered and handed on once."""

    def __init__(self, rec: RequestRecord, sse: bool, limit: int, keep: int) -> None:
        self.rec, self.sse, self.limit, self.keep = rec, sse, limit, keep
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        parser = httptools.HttpResponseParser(self)
        # RFC 9112: a user agent replaces obs-fold with SP (5.2) and may take a bare LF
        # for a line end (2.2), as h11 on the httpx path does; framing stays strict
        parser.set_dangerous_leniencies(lenient_headers=True, lenient_optional_cr_before_lf=True)
        # The parser holds this exchange's bound callbacks: a reference cycle, broken by
        # release() when the exchange ends (phases run with the cyclic GC quietened).
        self.parser: httptools.HttpResponseParser | None = parser
        self.raw_headers: list[tuple[str, str]] = []
        self.head_done = False
        self.framed = False  # content-length or chunked: EOF before the end is a fault
        self.complete = False
        self.keep_alive = True
        self.got_bytes = False
        self.head_bytes = 0
        self.pieces: list[bytes] = []
        self.t = 0
        self.size = 0  # body bytes received (all of them, stored or not)
        self.stored = 0  # body bytes kept in the record
        self.splitter: SSESplitter | None = None
        self.parts: list[bytes] = []

    # -- llhttp callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # (after the head: trailers, not kept)
            self.raw_headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        assert self.parser is not None  # (called only from within feed_data)
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # interim response: wait for the real one
            self.raw_headers = []
            return
        self.head_done = True
        rec = self.rec
        rec.status, rec.headers_ns = status, self.t
        for k, v in self.raw_headers:  # (Connection: close is llhttp's should_keep_alive)
            k = k.lower()
            if k == "content-length" or (k == "transfer-encoding" and "chunked" in v.lower()):
                self.framed = True
        if status in (204, 304):
            self.framed = True
        if self.sse and 200 <= status < 300:
            self.splitter = SSESplitter()
            rec.events = self.splitter.events

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        if self.head_done and self.parser is not None:
            self.complete = True
            self.keep_alive = self.keep_alive and self.parser.should_keep_alive()

    # -- feeding -------------------------------------------------------------------------
    def feed(self, data: bytes, t: int) -> None:
        self.got_bytes = True
        if self.complete or self.parser is None:  # bytes after the end of the response
            self.keep_alive = False
            return
        self.t = t
        if not self.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self.complete:
                raise FastError("protocol", "the server switched protocols") from None
            self.keep_alive = False
        except httptools.HttpParserError as exc:
            if not self.complete:  # bytes after a complete response only spoil the reuse
                raise FastError("protocol", f"invalid HTTP/1.1 framing: {exc}") from None
            self.keep_alive = False
        finally:
            if self.pieces:
                out = self.pieces[0] if len(self.pieces) == 1 else b"".join(self.pieces)
                self.pieces = []
                self._sink(out, t)
        if not self.head_done and self.head_bytes > MAX_HEAD:
            raise FastError("protocol", f"response head exceeds {MAX_HEAD // 1024} KiB")
        if self.complete:
            self._finish(t)

    def _sink(self, data: bytes, t: int) -> None:
        rec = self.rec
        if rec.first_byte_ns is None:
            rec.first_byte_ns = t
        size = self.size = self.size + len(data)
        rec.received_bytes = size
        if self.stored < self.keep:
            room = self.keep - self.stored
            if len(data) > room:
                data = data[:room]
                rec.evidence_cap_bytes = self.keep
            self.stored += len(data)
            if self.splitter is not None:
                self.splitter.feed(data, t)
            else:
                self.parts.append(data)
        else:
            rec.evidence_cap_bytes = self.keep
        if size > self.limit:
            raise FastError("too_large", f"response exceeded {self.limit} bytes")

    def _finish(self, t: int) -> None:
        if self.done.done():
            return
        self.rec.last_byte_ns = t
        settle(self.rec, self.splitter, self.parts)
        self.done.set_result(None)

    def release(self) -> None:
        """The exchange is over: drop the parser (and with it the cycle through our
        callbacks), so the exchange is freed by reference counting alone."""
        self.parser = None

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            if self.splitter is None and self.parts:
                self.rec.body = b"".join(self.parts)  # what arrived is evidence too
            self.done.set_exception(exc)

    def lost(self, exc: Exception | None) -> None:
        t = time.perf_counter_ns()
        if self.complete:
            return
        if self.head_done and not self.framed:  # the body ends with the connection
            self._finish(t)
        else:
            where = "before the response head" if not self.head_done else "mid-response"
            self.fail(FastError("reset", f"connection closed {where} ({exc or 'EOF'})"))


def settle(rec: RequestRecord, splitter: SSESplitter | None, parts: list[bytes]) -> None:
    """The body ended (both engines). A stream cut at the evidence cap keeps its complete
    events and drops the cut one; a body, or a single event, larger than the cap is
    ``too_large`` (nothing of it can be read as JSON)."""
    cap = rec.evidence_cap_bytes
    if splitter is None:
        rec.body = b"".join(parts)
    elif cap is None:
        if splitter.close():
            rec.decode_errors.append("stream ended inside an event (no blank line)")
        return
    elif splitter.events:
        return
    if cap is not None and rec.error is None:
        what = "an SSE event" if splitter is not None else "the body"
        rec.error = "too_large"
        rec.error_detail = f"{what} is larger than the {cap}-byte evidence cap"


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.ex: _Exchange | None = None
        self.closed = False
        self.last_read = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter_ns()
        self.last_read = t
        ex = self.ex
        if ex is None:  # bytes nobody asked for: this connection cannot be reused
            self.close()
            return
        try:
            ex.feed(data, t)
        except FastError as exc:
            ex.fail(exc)
            self.close()
        except Exception as exc:  # a bug here must end the request, not hang it
            ex.fail(FastError("client_error", f"{type(exc).__name__}: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.ex is not None:
            self.ex.lost(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class FastPool:
    """Keep-alive HTTP/1.1 connections to the endpoint's origin."""

    def __init__(
        self, ssl_context: ssl.SSLContext, connect_timeout_s: float, read_timeout_s: float
    ) -> None:
        self.ssl = ssl_context
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.idle: list[_Conn] = []

    async def _connect(self, url: httpx.URL) -> _Conn:
        loop = asyncio.get_running_loop()
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    _Conn,
                    url.host,
                    port,
                    ssl=self.ssl if tls else None,
                    server_hostname=url.host if tls else None,
                ),
                self.connect_timeout_s,
            )
        except TimeoutError:
            raise FastError("timeout", "connect timeout") from None
        except (OSError, ssl.SSLError) as exc:
            raise FastError("connect", f"{type(exc).__name__}: {exc}") from None
        return conn

    async def prewarm(self, url: httpx.URL, n: int) -> int:
        """Open up to ``n`` idle connections ahead of a phase; returns how many are idle."""
        missing = n - sum(1 for c in self.idle if not c.closed)
        if missing > 0:
            got = await asyncio.gather(
                *(self._connect(url) for _ in range(missing)), return_exceptions=True
            )
            self.idle.extend(c for c in got if isinstance(c, _Conn))
        return sum(1 for c in self.idle if not c.closed)

    async def send(
        self,
        req: httpx.Request,
        rec: RequestRecord,
        *,
        sse: bool,
        limit: int,
        keep: int,
        idle_timeout_s: float | None = None,
        on_headers: Callable[[list[tuple[str, str]]], None],
    ) -> None:
        wire = _serialize(req)
        for attempt in (0, 1):
            conn = None
            while self.idle:
                c = self.idle.pop()
                if not c.closed:
                    conn = c
                    break
            reused = conn is not None
            if conn is None:
                conn = await self._connect(req.url)
            ex = _Exchange(rec, sse, limit, keep)
            conn.ex = ex
            assert conn.transport is not None
            rec.sent_ns = conn.last_read = time.perf_counter_ns()
            conn.transport.write(wire)
            watchdog = _Watchdog(conn, ex, idle_timeout_s or self.read_timeout_s)
            try:
                await ex.done
            except FastError as exc:
                conn.close()
                if reused and attempt == 0 and exc.kind == "reset" and not ex.got_bytes:
                    continue  # a stale keep-alive connection: once more on a fresh one
                raise
            except BaseException:
                conn.close()
                raise
            finally:
                watchdog.cancel()
                conn.ex = None
                ex.release()
            on_headers(ex.raw_headers)
            if ex.keep_alive and not conn.closed:
                self.idle.append(conn)
            else:
                conn.close()
            return

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


class _Watchdog:
    """Fails the exchange when nothing was read for ``timeout_s`` (one timer, re-armed
    lazily instead of on every read)."""

    def __init__(self, conn: _Conn, ex: _Exchange, timeout_s: float) -> None:
        self.conn, self.ex, self.timeout_ns = conn, ex, int(timeout_s * 1e9)
        self.loop = asyncio.get_running_loop()
        self.handle = self.loop.call_later(timeout_s, self._check)

    def _check(self) -> None:
        idle = time.perf_counter_ns() - self.conn.last_read
        if idle >= self.timeout_ns:
            self.ex.fail(FastError("timeout", f"no bytes for {self.timeout_ns / 1e9:g} s"))
            self.conn.close()
        else:
            self.handle = self.loop.call_later((self.timeout_ns - idle) / 1e9, self._check)

    def cancel(self) -> None:
        self.handle.cancel()


def _serialize(req: httpx.Request) -> bytes:
    target = req.url.raw_path.decode("ascii")
    lines = [f"{req.method} {target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.content
