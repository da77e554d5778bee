"""A real, scriptable HTTP server on loopback for the client tests.

Each path is a behaviour — well-formed streams in several framings and misbehaviour
(hangs, resets, garbage, floods, byte-by-byte answers). It runs on raw asyncio sockets in a
thread of its own, so a test can make it do things no framework would let it do.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[asyncio.StreamWriter, dict[str, Any]], Awaitable[None]]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_head(extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n" + extra + b"\r\n")


def ev(doc: Any, nl: bytes = b"\n") -> bytes:
    return b"data: " + json.dumps(doc).encode() + nl + nl


def delta(content: str | None = None, role: str | None = None, finish: str | None = None,
          usage: dict[str, int] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if role:
        d["role"] = role
    if content is not None:
        d["content"] = content
    doc: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                           "model": "m", "choices": [{"index": 0, "delta": d,
                                                      "finish_reason": finish}]}
    if usage is not None:
        doc["usage"] = usage
    return doc


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


async def _stream(w: asyncio.StreamWriter, events: list[bytes], gap: float = 0.01) -> None:
    w.write(sse_head())
    for e in events:
        w.write(chunk(e))
        await w.drain()
        await asyncio.sleep(gap)
    w.write(b"0\r\n\r\n")
    await w.drain()


def standard_events(nl: bytes = b"\n") -> list[bytes]:
    return [ev(delta(role="assistant"), nl), ev(delta(""), nl), ev(delta("Hel"), nl),
            ev(delta("lo", finish="stop"), nl),
            ev({"id": "chatcmpl-1", "choices": [], "usage": USAGE, "model": "m"}, nl),
            b"data: [DONE]" + nl + nl]


async def ok(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    await _stream(w, standard_events())


async def ok_close(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    """A complete stream that says ``Connection: close`` (the connection is not reused)."""
    w.write(sse_head(b"connection: keep-alive, close\r\n"))
    for e in standard_events():
        w.write(chunk(e))
    w.write(b"0\r\n\r\n")
    await w.drain()


async def crlf(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    evs = standard_events(b"\r\n")
    await _stream(w, [b": keep-alive\r\n\r\n", *evs[:3], b":ping\r\n\r\n", *evs[3:]])


async def no_done(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    await _stream(w, standard_events()[:-1])


async def usage_last(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    await _stream(w, [ev(delta("a")), ev(delta("b", finish="length", usage=USAGE)),
                      b"data: [DONE]\n\n"])


async def usage_deltas(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    """Several tokens per chunk, cumulative usage in every chunk (vLLM continuous usage)."""
    u = [{"prompt_tokens": 3, "completion_tokens": c, "total_tokens": 3 + c} for c in (3, 5)]
    await _stream(w, [ev(delta("one two three", usage=u[0])),
                      ev(delta(" four five", finish="stop", usage=u[1])), b"data: [DONE]\n\n"])


async def one_write(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    """Every event in a single write: several events per read."""
    w.write(sse_head() + chunk(b"".join(standard_events())) + b"0\r\n\r\n")
    await w.drain()


async def bytewise(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    w.write(sse_head())
    for b in b"".join(standard_events(b"\r\n")):
        w.write(chunk(bytes([b])))
        await w.drain()
        await asyncio.sleep(0)
    w.write(b"0\r\n\r\n")
    await w.drain()


async def slow_forever(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    """Byte by byte, never stalling long, never ending: only the total deadline ends it."""
    w.write(sse_head())
    while True:
        w.write(chunk(b":"))
        await w.drain()
        await asyncio.sleep(0.02)


async def hang(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    await asyncio.sleep(3600)


async def stall(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    w.write(sse_head() + chunk(ev(delta("a"))))
    await w.drain()
    await asyncio.sleep(3600)


async def reset(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    w.write(sse_head() + chunk(ev(delta("a"))))
    await w.drain()
    await asyncio.sleep(0.05)
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()


async def garbage_http(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    w.write(b"SURPRISE \x00\xff garbage\r\n\r\n")
    await w.drain()
    w.close()


async def garbage_sse(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    await _stream(w, [ev(delta("a")), b"data: {not json\n\n", b"data: [DONE]\n\n"])


async def not_sse(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    body = b"<html>hello</html>"
    w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body))
    await w.drain()


async def flood(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    w.write(sse_head())
    block = chunk(ev(delta("x" * 1000)) * 16)
    while True:
        w.write(block)
        await w.drain()


async def echo_key(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    """A careless service that echoes the Authorization header everywhere."""
    auth = req["headers"].get("authorization", "")
    body = json.dumps({"error": {"message": f"bad key {auth}"}}).encode()
    w.write(b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n"
            b"x-echo: %s\r\ncontent-length: %d\r\n\r\n%s" % (auth.encode(), len(body), body))
    await w.drain()


async def echo_key_stream(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    auth = req["headers"].get("authorization", "")
    await _stream(w, [ev(delta(f"your key is {auth}")), b"data: [DONE]\n\n"])


async def says_redacted(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    """A model that writes the redaction marker and a credential-shaped phrase itself."""
    await _stream(w, [ev(delta("the file said [REDACTED] and Basic averages")),
                      b"data: [DONE]\n\n"])


async def plain(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    doc = {"id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "m",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"},
                        "finish_reason": "stop",
                        "logprobs": {"content": [{"token": "Hi"}, {"token": " there"}]}}],
           "usage": USAGE, "echo": req["body"].decode()}
    body = json.dumps(doc).encode()
    w.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: r-1\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body))
    await w.drain()


async def server_error(w: asyncio.StreamWriter, req: dict[str, Any]) -> None:
    body = b'{"error": {"message": "boom"}}'
    w.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body))
    await w.drain()


ROUTES: dict[str, Handler] = {
    "ok": ok, "ok-close": ok_close, "crlf": crlf, "no-done": no_done, "usage-last": usage_last,
    "usage-deltas": usage_deltas, "one-write": one_write, "bytewise": bytewise,
    "slow-forever": slow_forever, "hang": hang, "stall": stall, "reset": reset,
    "garbage-http": garbage_http, "garbage-sse": garbage_sse, "not-sse": not_sse,
    "flood": flood, "echo-key": echo_key, "echo-key-stream": echo_key_stream,
    "says-redacted": says_redacted,
    "plain": plain, "server-error": server_error,
}


class RawServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.requests: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, route: str) -> str:
        return f"http://127.0.0.1:{self.port}/{route}/v1"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip()
                           for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await r.readexactly(int(headers.get("content-length", "0")))
                req = {"method": method, "path": path, "headers": headers, "body": body,
                       "peer": w.get_extra_info("peername")}
                self.requests.append(req)
                route = path.strip("/").split("/")[0]
                await ROUTES[route](w, req)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    def start(self) -> RawServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
