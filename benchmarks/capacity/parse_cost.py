"""CPU cost of the fast path's per-read work: HTTP/1.1 framing + SSE splitting + evidence cap.

No sockets and no server: a chunked SSE response is cut into reads as a socket would
deliver them and fed to the fast engine's exchange (what ``data_received`` calls), timed in
process CPU time — so the figure holds on a busy machine, where the wall-clock capacity
benchmark (chunk_rate.py) does not. Prints CPU µs per read and reads per CPU second.

    python benchmarks/capacity/parse_cost.py [--reads 200000] [--events-per-read 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from conformance.run.client import fast
from conformance.run.records import RequestRecord

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"x-request-id: req-1\r\ntransfer-encoding: chunked\r\n\r\n")


def event(i: int) -> bytes:
    doc = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": {"content": f" tok{i % 97}"},
                        "finish_reason": None}]}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def reads(n: int, per: int) -> list[bytes]:
    out = [HEAD]
    for i in range(n):
        body = b"".join(event(i * per + k) for k in range(per))
        out.append(b"%x\r\n%s\r\n" % (len(body), body))
    out.append(b"0\r\n\r\n")
    return out


async def once(data: list[bytes], events: int) -> float:
    rec = RequestRecord(request_id="b-1", phase="b", seq=0)
    ex = fast._Exchange(rec, True, 1 << 40, 1 << 40)  # (record, sse, limit, kept bytes)
    clock = time.perf_counter_ns
    t0 = time.process_time()
    for d in data:
        ex.feed(d, clock())
    took = time.process_time() - t0
    await ex.done
    assert rec.status == 200 and len(rec.events) == events, len(rec.events)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=200_000)
    ap.add_argument("--events-per-read", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    a = ap.parse_args()
    data = reads(a.reads, a.events_per_read)
    n = a.reads * a.events_per_read
    best = min(asyncio.run(once(data, n)) for _ in range(a.repeat))
    print(json.dumps({"reads": a.reads, "events_per_read": a.events_per_read,
                      "cpu_us_per_read": round(best / a.reads * 1e6, 3),
                      "reads_per_cpu_s": round(a.reads / best)}))


if __name__ == "__main__":
    main()
