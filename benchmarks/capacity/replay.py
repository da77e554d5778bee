"""Pre-recorded replay server: answers every chat request with the same pre-built SSE bytes.

    python benchmarks/capacity/replay.py --chunks 200 [--cpu 1]   # prints "LISTENING <port>"

A separate process on loopback (plain HTTP/1.1, keep-alive) so that the measuring client
runs its real path: a real socket, the fast engine's ``data_received``, de-chunking, the
SSE splitter. The response (head + every event, each event its own HTTP chunk, as
OpenAI-compatible servers send them) is built once at start; for each request the server
writes it in one ``transport.write`` — many chunks per write, as fast as the socket takes
them — so the server costs almost nothing per chunk and the client is what is measured.

Each response: ``--chunks`` content events (successive words of the reference corpus), one
final event with ``finish_reason`` and ``usage``, then ``data: [DONE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "conformance/reference/assets/corpus/en.txt"


def _words(n: int) -> list[str]:
    """``n`` chunk texts as a model streams them (a word with its leading space), taken in
    order from the reference corpus: real text repeats words the way real streams do."""
    words = CORPUS.read_text(encoding="utf-8").split()
    return [" " + words[i % len(words)] for i in range(n)]


def build_response(chunks: int, text: str, model: str = "replay") -> bytes:
    def event(doc: object) -> bytes:
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"

    base = {"id": "chatcmpl-replay", "object": "chat.completion.chunk", "created": 0,
            "model": model}
    words = _words(chunks) if not text else [text] * chunks
    events = [event({**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                 "content": words[0]},
                                          "finish_reason": None}]})]
    events += [event({**base, "choices": [{"index": 0, "delta": {"content": w},
                                           "finish_reason": None}]}) for w in words[1:]]
    events.append(event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 8, "completion_tokens": chunks,
                                   "total_tokens": chunks + 8}}))
    events.append(b"data: [DONE]\n\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\nx-request-id: replay\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
    return head + body


class Replay(asyncio.Protocol):
    response = b""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buf[:end].split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            total = end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            assert self.transport is not None
            self.transport.write(self.response)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=200, help="content events per response")
    ap.add_argument("--text", default="", help="delta.content of every content event "
                    "(default: successive words of the reference corpus)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    a = ap.parse_args()
    if a.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {a.cpu})
    Replay.response = build_response(a.chunks, a.text)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Replay, "127.0.0.1", a.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"LISTENING {port} {len(Replay.response)}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
