"""Ground-truth streaming server: a precise schedule, and a log of its own send times.

Speaks just enough HTTP/1.1 (keep-alive, chunked responses) and the ``openai-chat`` stream
format to be a candidate. Per request: response headers and a role-only chunk at once, the
first content token ``ttft_ms`` after the request was read, then one token every ``itl_ms``
until ``tokens``; the last content chunk carries ``finish_reason``, then a usage chunk and
``[DONE]``. The schedule is absolute (no drift). Just before each write the server reads
``time.perf_counter_ns()`` — ``CLOCK_MONOTONIC`` on Linux, the clock the client reads too —
so the client's timestamps can be compared with the true send times, event by event.

It is hand-written on ``asyncio.Protocol`` rather than uvicorn/starlette on purpose: an ASGI
stack adds per-chunk work and await points between "decide to send" and the socket write,
which would blur exactly the instant this server exists to log.

    python benchmarks/fidelity/gtserver.py --port 0 --ttft-ms 50 --itl-ms 10 --tokens 100

prints ``LISTENING <port>``. ``GET /gt/log`` returns (and clears) the send log as JSON:
``{request key: {"recv": ns, "sends": [ns, ...], "tokens": n}}`` — the key is the request
body's ``user`` field. A request body may override the schedule with
``"gt": {"ttft_ms": .., "itl_ms": .., "tokens": ..}``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from typing import Any

_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\nx-request-id: %s\r\n\r\n"
)
_ids = itertools.count(1)


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(doc: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"


class Schedule:
    def __init__(self, ttft_ms: float, itl_ms: float, tokens: int) -> None:
        self.ttft_ms, self.itl_ms, self.tokens = ttft_ms, itl_ms, tokens


class GTProtocol(asyncio.Protocol):
    def __init__(self, server: GTServer) -> None:
        self.server = server
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter_ns()
        self.buf += data
        if self.busy:
            return
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buf[:head_end].decode("latin-1")
        lines = head.split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if len(self.buf) < head_end + 4 + length:
            return
        body = self.buf[head_end + 4 : head_end + 4 + length]
        self.buf = self.buf[head_end + 4 + length :]
        self.busy = True
        if method == "GET" and path.endswith("/gt/log"):
            self._send_json(self.server.take_log())
        elif method == "GET" and path.endswith("/models"):
            self._send_json({"object": "list", "data": [{"id": "gt", "object": "model"}]})
        else:
            asyncio.get_running_loop().create_task(self._stream(body, t))

    def _done(self) -> None:
        self.busy = False
        if self.buf and not self.closed:
            self.data_received(b"")

    def _send_json(self, doc: Any) -> None:
        body = json.dumps(doc).encode()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        self._done()

    async def _stream(self, body: bytes, t_recv: int) -> None:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        sch = self.server.schedule
        gt = req.get("gt") or {}
        ttft = float(gt.get("ttft_ms", sch.ttft_ms))
        itl = float(gt.get("itl_ms", sch.itl_ms))
        n = int(gt.get("tokens", sch.tokens))
        if isinstance(req.get("max_tokens"), int):
            n = min(n, req["max_tokens"])
        rid = b"gt-%d" % next(_ids)
        key = str(req.get("user") or rid.decode())
        base = {"id": rid.decode(), "object": "chat.completion.chunk", "created": 0, "model": "gt"}
        tr = self.transport
        assert tr is not None
        sends: list[int] = []
        self.server.log[key] = {"recv": t_recv, "sends": sends, "tokens": n}
        role = _event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        tr.write(_HEAD % rid + _chunk(role))
        token = _event({**base, "choices": [{"index": 0, "delta": {"content": " tok"}}]})
        last = _event(
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": " tok"}, "finish_reason": "length"}],
            }
        )
        tail = (
            _event(
                {
                    **base,
                    "choices": [],
                    "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1},
                }
            )
            + b"data: [DONE]\n\n"
        )
        clock = time.perf_counter_ns
        for i in range(n):
            due = t_recv + int((ttft + i * itl) * 1e6)
            delay = (due - clock()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            if self.closed:
                return
            payload = _chunk(last + tail) + b"0\r\n\r\n" if i == n - 1 else _chunk(token)
            sends.append(clock())
            tr.write(payload)
        if n == 0:
            tr.write(_chunk(tail) + b"0\r\n\r\n")
        self._done()


class GTServer:
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.log: dict[str, dict[str, Any]] = {}

    def take_log(self) -> dict[str, dict[str, Any]]:
        log, self.log = self.log, {}
        return log


async def serve(port: int, schedule: Schedule) -> None:
    srv = GTServer(schedule)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GTProtocol(srv), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    sock = server.sockets[0]
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ttft-ms", type=float, default=50.0)
    ap.add_argument("--itl-ms", type=float, default=10.0)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU (Linux)")
    a = ap.parse_args(argv)
    if a.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {a.cpu})
    try:
        asyncio.run(serve(a.port, Schedule(a.ttft_ms, a.itl_ms, a.tokens)))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
