"""The measuring HTTP client: one shared ``httpx.AsyncClient``, timestamps and raw bytes only.

While a request is in flight the client does three things: read the next block of bytes
from the socket, take ``time.perf_counter_ns()``, and hand both to the SSE splitter (or append
them to a bounded body). Everything else — JSON, token counting, evidence — happens after
(:meth:`Client.decode`, or in the load runner's consumer). A request always ends as a
:class:`RequestRecord`: transport failures become an error class, never an exception.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from conformance._core.clock import utc_now_iso
from conformance._core.errors import InputError
from conformance._core.redact import Redactor
from conformance.run.client.config import ClientConfig, decode_record, make_dialect
from conformance.run.client.dialect import ChatParams, CountTokens, Dialect
from conformance.run.client.fast import FastError, FastPool, settle
from conformance.run.client.sse import SSESplitter
from conformance.run.records import RequestRecord

AUTH = object()  # sentinel: use the configured key (see ``post_raw``/``get``)
_DROP_HEADERS = frozenset({"date", "connection", "keep-alive", "transfer-encoding"})


class Client:
    """Async measuring client. Use as ``async with Client(cfg) as c: rec = await c.chat(...)``."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        dialect: Dialect | None = None,
        redactor: Redactor | None = None,
        count_tokens: CountTokens | None = None,
    ) -> None:
        self.config = config
        self.dialect: Dialect = dialect or make_dialect(config.dialect)
        self.redactor = redactor or Redactor()
        if config.api_key:
            self.redactor.add(config.api_key)
        self.count_tokens = count_tokens
        if config.ca_bundle is not None:
            self._ssl = ssl.create_default_context(cafile=str(config.ca_bundle))
        else:
            self._ssl = httpx.create_ssl_context()  # built once, shared by every shard
        self._transport = transport
        self._fast: FastPool | None = None
        if config.engine == "fast" and transport is None and not config.http2:
            self._fast = FastPool(self._ssl, config.connect_timeout_s, config.read_timeout_s)
        elif config.engine not in ("httpx", "fast"):
            raise InputError(f"unknown client engine {config.engine!r}; use 'httpx' or 'fast'")
        self._shards: list[_Shard] = []
        self._http = self._new_shard().http  # builds requests; also the first shard

    def _new_shard(self) -> _Shard:
        cfg = self.config
        timeout = httpx.Timeout(
            cfg.total_timeout_s, connect=cfg.connect_timeout_s, read=cfg.read_timeout_s
        )
        size = cfg.max_connections if self._transport is not None else cfg.pool_shard_size
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        shard = _Shard(
            httpx.AsyncClient(
                base_url=cfg.base_url.rstrip("/") + "/",
                http1=True,
                http2=cfg.http2,
                verify=self._ssl,
                timeout=timeout,
                limits=limits,
                transport=self._transport,
                follow_redirects=False,
            )
        )
        self._shards.append(shard)
        return shard

    def _pick(self) -> _Shard:
        """The least busy connection pool; a new one when all are full. (httpcore's pool
        scans every connection on every request start and end — quadratic in the number of
        connections — so many small pools beat one big one at hundreds of streams.)"""
        best = min(self._shards, key=_Shard.load)
        if best.inflight >= self.config.pool_shard_size and self._transport is None:
            best = self._new_shard()
        return best

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._fast is not None:
            self._fast.close()
        for shard in self._shards:
            await shard.http.aclose()

    async def prewarm(self, n: int) -> int:
        """Open up to ``n`` connections before a phase, so that its first wave does not
        open them all at once (connection set-up is not part of any latency). Fast engine
        only; returns the number of idle connections ready (0 on the httpx path)."""
        if self._fast is None or n <= 0:
            return 0
        url = self._http.build_request("GET", "").url
        return await self._fast.prewarm(url, n)

    # -- requests --------------------------------------------------------------------------
    async def chat(
        self,
        params: ChatParams,
        *,
        request_id: str,
        phase: str = "",
        seq: int = 0,
        worker: int = 0,
        scheduled_ns: int | None = None,
        decode: bool = True,
        timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
    ) -> RequestRecord:
        """Send one chat request and record it. ``decode=False`` leaves the decoded fields
        empty (the load runner decodes later, off the hot path). ``timeout_s`` and
        ``idle_timeout_s`` tighten the configured total and idle deadlines for this call."""
        built = self.dialect.build(params, self.config.model)
        rec = RequestRecord(
            request_id=request_id,
            phase=phase,
            seq=seq,
            worker=worker,
            stream=params.stream,
            request=self.redactor.data(
                {"method": built.method, "path": built.path, "json": built.json}
            ),
            scheduled_ns=scheduled_ns if scheduled_ns is not None else time.perf_counter_ns(),
        )
        req = self._http.build_request(
            built.method, built.path, json=built.json, headers=self._headers(AUTH, None)
        )
        bounds = self._bounds(timeout_s, idle_timeout_s)
        await self._send(req, rec, bounds, sse=params.stream, fast=params.stream)
        if decode:
            self.decode(rec)
        return rec

    async def get(
        self,
        path: str,
        *,
        request_id: str,
        phase: str = "",
        seq: int = 0,
        headers: Mapping[str, str] | None = None,
        auth: object = AUTH,
        decode: bool = True,
        timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
    ) -> RequestRecord:
        """GET ``path`` (relative to the base URL, e.g. ``models``); the body is kept."""
        rec = RequestRecord(
            request_id=request_id,
            phase=phase,
            seq=seq,
            stream=False,
            request={"method": "GET", "path": path},
            scheduled_ns=time.perf_counter_ns(),
        )
        req = self._http.build_request(
            "GET", path.lstrip("/"), headers=self._headers(auth, headers)
        )
        await self._send(req, rec, self._bounds(timeout_s, idle_timeout_s), sse=False)
        if decode:
            self.decode(rec)
        return rec

    async def post_raw(
        self,
        path: str,
        body: bytes,
        *,
        request_id: str,
        phase: str = "",
        seq: int = 0,
        headers: Mapping[str, str] | None = None,
        auth: object = AUTH,
        stream: bool = False,
        decode: bool = True,
        timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
    ) -> RequestRecord:
        """POST arbitrary bytes (malformed-input and auth probes). ``auth``: ``AUTH`` sends
        the configured key, ``None`` no Authorization header, a string that header value."""
        hdrs = {"content-type": "application/json", **(headers or {})}
        rec = RequestRecord(
            request_id=request_id,
            phase=phase,
            seq=seq,
            stream=stream,
            request=self.redactor.data(
                {
                    "method": "POST",
                    "path": path,
                    "body_len": len(body),
                    "body_prefix": body[:1024].decode("utf-8", "replace"),
                    "headers": {k: v for k, v in hdrs.items() if k.lower() != "authorization"},
                }
            ),
            scheduled_ns=time.perf_counter_ns(),
        )
        req = self._http.build_request(
            "POST", path.lstrip("/"), content=body, headers=self._headers(auth, hdrs)
        )
        await self._send(req, rec, self._bounds(timeout_s, idle_timeout_s), sse=stream)
        if decode:
            self.decode(rec)
        return rec

    def decode(self, rec: RequestRecord) -> RequestRecord:
        """Fill the decoded fields (off the hot path). Safe on any input; call once."""
        return decode_record(rec, self.dialect, self.count_tokens, self.redactor)

    # -- internals -------------------------------------------------------------------------
    def _headers(self, auth: object, extra: Mapping[str, str] | None) -> dict[str, str]:
        h = {"accept-encoding": "identity", **self.config.extra_headers}
        if auth is AUTH:
            h.update(self.dialect.auth_headers(self.config.api_key))
        elif isinstance(auth, str):
            h["authorization"] = auth
        if extra:
            h.update(extra)
        return h

    def _bounds(self, timeout_s: float | None, idle_timeout_s: float | None) -> _Bounds:
        cfg = self.config
        total = cfg.total_timeout_s if timeout_s is None else min(timeout_s, cfg.total_timeout_s)
        idle = cfg.read_timeout_s if idle_timeout_s is None else idle_timeout_s
        return _Bounds(total, min(idle, cfg.read_timeout_s, total))

    async def _send(
        self,
        req: httpx.Request,
        rec: RequestRecord,
        bounds: _Bounds,
        *,
        sse: bool,
        fast: bool = False,
    ) -> None:
        async def trace(name: str, info: Mapping[str, Any]) -> None:
            if name.endswith("send_request_headers.started"):
                rec.sent_ns = time.perf_counter_ns()
            elif name.endswith("receive_response_headers.complete"):
                rec.headers_ns = time.perf_counter_ns()

        cfg = self.config
        req.extensions["trace"] = trace
        req.extensions["timeout"] = httpx.Timeout(
            bounds.total_s, connect=min(cfg.connect_timeout_s, bounds.total_s),
            read=bounds.idle_s,
        ).as_dict()
        rec.started_utc = utc_now_iso()
        t_enter = time.perf_counter_ns()
        keep = cfg.max_stream_record_bytes if sse else cfg.max_body_record_bytes
        try:
            async with asyncio.timeout(bounds.total_s):
                if fast and self._fast is not None:
                    await self._fast.send(
                        req,
                        rec,
                        sse=sse,
                        limit=cfg.max_response_bytes,
                        keep=keep,
                        idle_timeout_s=bounds.idle_s,
                        on_headers=lambda h: _set_headers(rec, h, self.redactor),
                    )
                else:
                    await self._exchange(req, rec, sse, keep)
        except FastError as exc:
            _fail(rec, exc.kind, self.redactor.text(str(exc))[:500])
        except TimeoutError:
            _fail(rec, "timeout", f"no complete answer within {bounds.total_s:g} s")
        except httpx.TimeoutException as exc:
            what = "no bytes for" if isinstance(exc, httpx.ReadTimeout) else "timed out within"
            limit = bounds.idle_s if isinstance(exc, httpx.ReadTimeout) else bounds.total_s
            _fail(rec, "timeout", f"{type(exc).__name__}: {what} {limit:g} s")
        except httpx.ConnectError as exc:
            _fail(rec, "connect", self.redactor.text(str(exc))[:500])
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            # a socket error, or the peer closing early, is a reset; a framing fault (a bad
            # chunk header, say) is a protocol error, as on the fast path
            kind = "reset" if not isinstance(exc, httpx.RemoteProtocolError) or _is_reset(
                exc) else "protocol"
            _fail(rec, kind, f"{type(exc).__name__}: {self.redactor.text(str(exc))[:500]}")
        except (httpx.ProtocolError, httpx.DecodingError, httpx.UnsupportedProtocol) as exc:
            _fail(rec, "protocol", f"{type(exc).__name__}: {self.redactor.text(str(exc))[:500]}")
        except httpx.TransportError as exc:
            _fail(rec, "connect", f"{type(exc).__name__}: {self.redactor.text(str(exc))[:500]}")
        except Exception as exc:  # never let the instrument crash the run
            _fail(
                rec, "client_error", f"{type(exc).__name__}: {self.redactor.text(str(exc))[:500]}"
            )
        if rec.sent_ns is None:  # a transport without trace events (mock, replay)
            rec.sent_ns = t_enter

    async def _exchange(self, req: httpx.Request, rec: RequestRecord, sse: bool, keep: int) -> None:
        limit = self.config.max_response_bytes
        shard = self._pick()
        shard.inflight += 1
        try:
            resp = await shard.http.send(req, stream=True)
        except BaseException:
            shard.inflight -= 1
            raise
        parts: list[bytes] = []
        try:
            now = time.perf_counter_ns()
            if rec.headers_ns is None:
                rec.headers_ns = now
            rec.status = resp.status_code
            _set_headers(rec, resp.headers.multi_items(), self.redactor)
            splitter: SSESplitter | None = None
            feed: Callable[[bytes, int], None]
            if sse and 200 <= resp.status_code < 300:
                splitter = SSESplitter()
                rec.events = splitter.events
                feed = splitter.feed
                chunks = resp.aiter_raw()
            else:  # decoded (identity is asked for): the limit bounds memory either way
                feed = _collect(parts)
                chunks = resp.aiter_bytes()
            clock = time.perf_counter_ns
            size = stored = 0
            async for data in chunks:
                t = clock()
                if rec.first_byte_ns is None:
                    rec.first_byte_ns = t
                size += len(data)
                rec.received_bytes = size
                if stored < keep:
                    if len(data) > keep - stored:
                        data = data[: keep - stored]
                        rec.evidence_cap_bytes = keep
                    stored += len(data)
                    feed(data, t)
                else:
                    rec.evidence_cap_bytes = keep
                if size > limit:
                    rec.last_byte_ns = t
                    _fail(rec, "too_large", f"response exceeded {limit} bytes")
                    return
            rec.last_byte_ns = clock()
            settle(rec, splitter, parts)
        finally:
            if rec.body is None and (parts or not (sse and 200 <= resp.status_code < 300)):
                rec.body = b"".join(parts)  # what arrived is evidence too
            shard.inflight -= 1
            await resp.aclose()


class _Bounds:
    """One request's deadlines: total (send to last byte) and idle (between reads)."""

    __slots__ = ("idle_s", "total_s")

    def __init__(self, total_s: float, idle_s: float) -> None:
        self.total_s, self.idle_s = total_s, idle_s


def _collect(parts: list[bytes]) -> Callable[[bytes, int], None]:
    def feed(data: bytes, t: int) -> None:
        parts.append(data)

    return feed


class _Shard:
    __slots__ = ("http", "inflight")

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.inflight = 0

    def load(self) -> int:
        return self.inflight


def _fail(rec: RequestRecord, kind: str, detail: str) -> None:
    if rec.error is None:
        rec.error, rec.error_detail = kind, detail
    if rec.last_byte_ns is None and rec.first_byte_ns is not None:
        rec.last_byte_ns = time.perf_counter_ns()


def _is_reset(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__}".lower()
    return "reset" in text or "closed" in text or "incomplete" in text


def _set_headers(rec: RequestRecord, headers: list[tuple[str, str]], redactor: Redactor) -> None:
    rec.headers = _filter_headers(headers, redactor)
    for k, v in headers:  # a registered secret in any response header is an echo (SEC-006)
        if redactor.exact(v) != v and f"header {k.lower()}" not in rec.secrets_echoed:
            rec.secrets_echoed.append(f"header {k.lower()}")


def _filter_headers(headers: Iterable[tuple[str, str]], redactor: Redactor) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in redactor.headers(headers):
        k = k.lower()
        if k in _DROP_HEADERS:
            continue
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out
