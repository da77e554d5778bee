"""Client memory over a long run: RSS against the number of requests, evidence on disk.

    python benchmarks/capacity/memory.py --requests 100000            # while developing
    python benchmarks/capacity/memory.py --requests 1000000 > mem.log  # issue 8's target

One load phase of ``--requests`` short streamed requests (``--chunks`` content chunks
each) through tokencert's real path — ``LoadRunner`` (closed loop of ``--streams``), the
fast engine over loopback, the decoder with the reference tokenizer, ``run_phase`` writing
every record with its chunk events to an ``EvidenceStore`` — against the pre-recorded
replay (benchmarks/capacity/replay.py, its own process). At 10k, 100k, 1M... completed
requests it prints the client's RSS now (this process + its worker processes) and its
peak so far (``ru_maxrss``), and at the end the evidence size on disk. Memory is flat when
RSS at 1M is about RSS at 10k: records stream to disk, only bounded summaries stay.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Factory,
    ReplayServer,
    Tally,
    dir_bytes,
    make_runner,
    open_store,
    peak_rss_mb,
    pin_client,
    run,
    server_cpu_default,
)

from conformance.run.load import Concurrency, PhaseSpec, StopConditions
from conformance.run.records import RequestRecord


def rss_mb(server_pid: int) -> float:
    """Current RSS of this process and its children (the load worker processes), less the
    replay server's."""
    me = psutil.Process()
    total = me.memory_info().rss
    for c in me.children(recursive=True):
        if c.pid == server_pid:
            continue
        with contextlib.suppress(psutil.Error):
            total += c.memory_info().rss
    return total / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--chunks", type=int, default=4, help="content chunks per response")
    ap.add_argument("--processes", type=int, default=0, help="load worker processes (0: here)")
    ap.add_argument("--out", type=Path, default=None, help="evidence dir (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the evidence dir")
    a = ap.parse_args()

    scpu = server_cpu_default()
    server = ReplayServer(a.chunks, scpu)
    pin_client(scpu)
    out = a.out or Path(tempfile.mkdtemp(prefix="tokencert-memory-"))
    marks = sorted({m for m in (1_000, 10_000, 100_000, 1_000_000) if m < a.requests}
                   | {a.requests})
    tally = Tally()
    rows: list[dict[str, float]] = []
    t0 = time.perf_counter()
    print(f"{'requests':>10} {'rss_mb':>8} {'peak_rss_mb':>11} {'evidence_mb':>11} "
          f"{'elapsed_s':>9}", flush=True)

    def on_record(rec: RequestRecord) -> None:
        tally.add(rec, a.chunks)
        if tally.requests in marks:
            row = {"requests": tally.requests, "rss_mb": round(rss_mb(server.proc.pid), 1),
                   "peak_rss_mb": round(peak_rss_mb(), 1),
                   "evidence_mb": round(dir_bytes(out / "evidence") / 2**20, 1),
                   "elapsed_s": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            print(f"{row['requests']:>10} {row['rss_mb']:>8} {row['peak_rss_mb']:>11} "
                  f"{row['evidence_mb']:>11} {row['elapsed_s']:>9}", flush=True)

    try:
        store = open_store(out / "evidence")
        runner = make_runner(server.base_url, True)
        spec = PhaseSpec("memory", Concurrency(a.streams),
                         StopConditions(max_requests=a.requests), processes=a.processes)
        outcome, wall, cpu = run(runner, spec, Factory(a.chunks), store, on_record)
        store.close()
        ev = dir_bytes(out / "evidence")
    finally:
        server.close()
    fig = {
        "requests": tally.requests,
        "requests_ok": tally.ok,
        "streams": a.streams,
        "chunks_per_response": a.chunks,
        "processes": a.processes,
        "wall_s": round(wall, 1),
        "requests_per_s": round(tally.requests / wall),
        "client_cpu_percent": round(100 * cpu / wall),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "evidence_bytes": ev,
        "evidence_bytes_per_request": round(ev / max(1, tally.requests)),
        "stop_reason": outcome.stop_reason,
        "engine_saturated": bool(outcome.health.get("reasons")),
        "marks": rows,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(fig))
    if tally.bad:
        print("bad records:", *tally.bad, sep="\n  ")
    if not a.keep and a.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0 if tally.ok == tally.requests == a.requests else 1


if __name__ == "__main__":
    sys.exit(main())
