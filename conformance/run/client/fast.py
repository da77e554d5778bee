"""Opt-in fast path for streaming chat requests: HTTP/1.1 on an ``asyncio.Protocol``.

The httpx stack (httpcore → anyio → h11) costs ~30 µs of Python per read, which caps one
event loop near 10,000 streamed chunks per second — below what hundreds of streams need.
Here the loop calls ``data_received`` directly: the read is timestamped there, de-chunked
and handed to the SSE splitter in the same call, with no coroutine switch per read; the
request's coroutine wakes once, when the response ends. Requests are still *built* by
httpx (URL, headers, JSON body), and every other request (non-streaming, ``get``,
``post_raw``, HTTP/2, a custom transport) goes through httpx. Faults map to the same error
classes. The default (``ClientConfig(engine="fast")``; ``engine="httpx"`` turns it off);
tests run the same misbehaving servers through both engines. Proxies are not supported on
this path (certification runs talk to the endpoint directly).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import httpx

from conformance.run.client.sse import SSESplitter
from conformance.run.records import RequestRecord

MAX_HEAD = 64 * 1024


class FastError(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _Exchange:
    """One response being received on a connection."""

    def __init__(self, rec: RequestRecord, sse: bool, limit: int, body_keep: int) -> None:
        self.rec, self.sse, self.limit, self.body_keep = rec, sse, limit, body_keep
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = b""
        self.mode = ""  # "", chunked, length, close, none
        self.left = 0  # bytes left in the current chunk / content-length body
        self.cbuf = b""
        self.need_crlf = False
        self.trailers = False
        self.size = 0
        self.splitter: SSESplitter | None = None
        self.parts: list[bytes] = []
        self.keep_alive = True
        self.got_bytes = False

    # -- parsing -------------------------------------------------------------------------
    def feed(self, data: bytes, t: int) -> None:
        self.got_bytes = True
        if self.done.done():  # bytes after the end of the response
            self.keep_alive = False
            return
        if not self.mode:
            data = self._head(data, t)
            if not self.mode or self.done.done():
                return
        if self.mode == "none":
            self._finish(t)
            return
        if self.mode == "chunked":
            out = self._dechunk(data)
        else:
            out = data
            if self.mode == "length":
                out = data[: self.left]
                self.left -= len(out)
        if out:
            self._sink(out, t)
        if (self.mode == "length" and self.left <= 0) or self.mode == "none":
            self._finish(t)

    def _head(self, data: bytes, t: int) -> bytes:
        buf = self.head + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise FastError("protocol", "response head exceeds 64 KiB")
            self.head = buf
            return b""
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise FastError("protocol", f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        rest = buf[end + 4 :]
        if 100 <= status < 200:  # interim response: wait for the real one
            self.head = b""
            return self._head(rest, t) if rest else b""
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if not sep or not k or k != k.strip():
                raise FastError("protocol", f"malformed header line {line[:80]!r}")
            headers.append((k.lower(), v.strip()))
        hmap = dict(headers)
        rec = self.rec
        rec.status, rec.headers_ns = status, t
        self.raw_headers = headers
        if "close" in hmap.get("connection", "").lower():
            self.keep_alive = False
        if "chunked" in hmap.get("transfer-encoding", "").lower():
            self.mode = "chunked"
        elif "content-length" in hmap:
            try:
                self.left = int(hmap["content-length"])
            except ValueError:
                raise FastError("protocol", "bad content-length") from None
            self.mode = "length" if self.left > 0 else "none"
        elif status in (204, 304):
            self.mode = "none"
        else:
            self.mode, self.keep_alive = "close", False
        if self.sse and 200 <= status < 300:
            self.splitter = SSESplitter()
            rec.events = self.splitter.events
        return rest

    def _dechunk(self, data: bytes) -> bytes:
        buf = self.cbuf + data if self.cbuf else data
        self.cbuf = b""
        out: list[bytes] = []
        pos, n = 0, len(buf)
        while pos < n:
            if self.left:
                take = min(self.left, n - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self.left -= take
                self.need_crlf = self.left == 0
            elif self.need_crlf:
                if n - pos < 2:
                    self.cbuf = buf[pos:]
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise FastError("protocol", "chunk not followed by CRLF")
                pos += 2
                self.need_crlf = False
            else:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    if n - pos > 1024:
                        raise FastError("protocol", "chunk size line too long")
                    self.cbuf = buf[pos:]
                    break
                line = buf[pos:end]
                pos = end + 2
                if self.trailers:
                    if not line:  # end of trailers: the response is complete
                        self.mode = "none"
                        break
                    continue
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise FastError("protocol", f"bad chunk size {line[:40]!r}") from None
                if size == 0:
                    self.trailers = True
                else:
                    self.left = size
        return b"".join(out) if len(out) != 1 else out[0]

    def _sink(self, data: bytes, t: int) -> None:
        rec = self.rec
        if rec.first_byte_ns is None:
            rec.first_byte_ns = t
        self.size += len(data)
        if self.size > self.limit:
            raise FastError("too_large", f"response exceeded {self.limit} bytes")
        if self.splitter is not None:
            self.splitter.feed(data, t)
        elif self.size - len(data) < self.body_keep:
            self.parts.append(data)

    def _finish(self, t: int) -> None:
        if self.done.done():
            return
        self.rec.last_byte_ns = t
        if self.splitter is not None:
            if self.splitter.close():
                self.rec.decode_errors.append("stream ended inside an event (no blank line)")
        else:
            self.rec.body = b"".join(self.parts)[: self.body_keep]
        self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def lost(self, exc: Exception | None) -> None:
        t = time.perf_counter_ns()
        if self.mode == "close":
            self._finish(t)
        elif self.mode == "none":
            pass
        else:
            where = "before the response head" if not self.mode else "mid-response"
            self.fail(FastError("reset", f"connection closed {where} ({exc or 'EOF'})"))


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
        body_keep: int,
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
            ex = _Exchange(rec, sse, limit, body_keep)
            conn.ex = ex
            assert conn.transport is not None
            rec.sent_ns = conn.last_read = time.perf_counter_ns()
            conn.transport.write(wire)
            watchdog = _Watchdog(conn, ex, self.read_timeout_s)
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
