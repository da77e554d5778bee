"""Hostile candidates: one loopback server whose every path prefix is a misbehaviour.

``http://127.0.0.1:<port>/<behaviour>/v1`` answers every request (``/models``, chat, ...)
with that behaviour. Raw asyncio sockets in a thread of their own, so a behaviour can do
what no framework allows: never answer, reset, lie about framing, never stop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]

SSE_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def event(content: str) -> bytes:
    doc = {"id": "c-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


async def hang(w: asyncio.StreamWriter) -> None:
    """Accepts, reads the request, never answers."""
    await asyncio.sleep(3600)


async def reset(w: asyncio.StreamWriter) -> None:
    """Starts a stream, then resets the connection (RST, not FIN)."""
    w.write(SSE_HEAD + chunk(event("a")))
    await w.drain()
    await asyncio.sleep(0.05)
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()


async def garbage(w: asyncio.StreamWriter) -> None:
    """Bytes that are not HTTP at all."""
    w.write(b"\x16\x03\x01\x02\x00 SURPRISE \x00\xff\xfe garbage\r\n\r\n" * 4)
    await w.drain()
    await asyncio.sleep(3600)


async def endless(w: asyncio.StreamWriter) -> None:
    """A well-formed stream that never ends (about 0.5 MB/s)."""
    w.write(SSE_HEAD)
    burst = chunk(event("x") * 100)
    while True:
        w.write(burst)
        await w.drain()
        await asyncio.sleep(0.02)


async def slow_bytes(w: asyncio.StreamWriter) -> None:
    """A byte at a time, never silent for long, never done."""
    w.write(SSE_HEAD)
    for b in event("slow") * 1000:
        w.write(chunk(bytes([b])))
        await w.drain()
        await asyncio.sleep(0.05)


async def huge_event(w: asyncio.StreamWriter) -> None:
    """One 2 MiB SSE event (then a proper end)."""
    w.write(SSE_HEAD + chunk(b"data: {\"pad\": \"" + b"A" * (2 << 20) + b"\"}\n\n")
            + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await w.drain()


async def headers_then_silence(w: asyncio.StreamWriter) -> None:
    w.write(SSE_HEAD)
    await w.drain()
    await asyncio.sleep(3600)


async def lying_chunks(w: asyncio.StreamWriter) -> None:
    """A chunk-size line that says 5 bytes before 100."""
    w.write(SSE_HEAD + b"5\r\n" + event("liar")[:100] + b"\r\n0\r\n\r\n")
    await w.drain()
    await asyncio.sleep(3600)


async def lying_length(w: asyncio.StreamWriter) -> None:
    """Content-Length says 1 MB; 20 bytes come, then the connection closes."""
    w.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: 1000000\r\n\r\n{\"id\": \"short\"")
    await w.drain()
    w.close()


async def invalid_utf8(w: asyncio.StreamWriter) -> None:
    w.write(SSE_HEAD + chunk(b'data: {"choices": [{"delta": {"content": "\xff\xfe\xc3"}}]}\n\n')
            + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await w.drain()


async def html(w: asyncio.StreamWriter) -> None:
    body = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
    w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body))
    await w.drain()


async def json_bomb(w: asyncio.StreamWriter) -> None:
    """Nesting 20,000 deep, then a usage count of 1e999 — in a stream and in a body."""
    deep = b"[" * 20_000 + b"]" * 20_000
    big = (b'{"id": "b", "choices": [{"index": 0, "delta": {"content": "x"}}], '
           b'"usage": {"prompt_tokens": 1, "completion_tokens": 1e999, "total_tokens": '
           + b"9" * 4000 + b"}}")
    w.write(SSE_HEAD + chunk(b"data: " + deep + b"\n\n") + chunk(b"data: " + big + b"\n\n")
            + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await w.drain()


async def obs_fold_trailers(w: asyncio.StreamWriter) -> None:
    """Odd but valid HTTP/1.1: a folded header and trailers. Both engines must accept it."""
    w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-note: folded\r\n"
            b" onto two lines\r\ntrailer: x-digest\r\ntransfer-encoding: chunked\r\n\r\n"
            + chunk(event("fine")) + chunk(b"data: [DONE]\n\n")
            + b"0\r\nx-digest: abc\r\n\r\n")
    await w.drain()


BEHAVIOURS: dict[str, Handler] = {
    "hang": hang, "reset": reset, "garbage": garbage, "endless": endless,
    "slow-bytes": slow_bytes, "huge-event": huge_event,
    "headers-then-silence": headers_then_silence, "lying-chunks": lying_chunks,
    "lying-length": lying_length, "invalid-utf8": invalid_utf8, "html": html,
    "json-bomb": json_bomb, "obs-fold-trailers": obs_fold_trailers,
}


class HostileServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/v1"

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
        self.loop.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = next((int(v) for k, _, v in (ln.partition(":") for ln in lines[1:])
                               if k.strip().lower() == "content-length"), 0)
                await r.readexactly(length)
                await BEHAVIOURS[path.strip("/").split("/")[0]](w)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                asyncio.CancelledError, KeyError):
            pass
        finally:
            w.close()

    def start(self) -> HostileServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
