"""Client capacity: streamed chunks per second, decoded and recorded with full evidence.

    python benchmarks/capacity/chunk_rate.py                      # 64 streams, 10 s, in-process
    python benchmarks/capacity/chunk_rate.py --processes 1        # hot path in a worker process
    python benchmarks/capacity/chunk_rate.py --rate 250           # offer 50,000 chunks/s
    python benchmarks/capacity/chunk_rate.py --profile /tmp/p.out # cProfile of the parent

A pre-recorded replay (benchmarks/capacity/replay.py, its own process pinned to the last
CPU) answers every request with the same pre-built SSE stream of ``--chunks`` events, many
chunks per write, as fast as the socket takes them. The client is tokencert's real path:
the load engine (``LoadRunner``, closed loop of ``--streams``), the fast engine over a real
loopback socket, the openai-chat decoder with the reference tokenizer counting every chunk,
and ``run_phase`` writing every request record with every chunk event (timestamp and raw
``data:`` bytes) into an ``EvidenceStore`` on disk. The rate counts a chunk only once its
record is decoded and written, over the whole ``run_phase`` call.

Printed: chunks/s (decoded + recorded), tokens/s, evidence bytes per chunk, client CPU
(this process + its worker processes, % of one core), the replay server's CPU, and the
engine's own verdict on itself (health reasons, and the saturation rule at 40 ms ITL).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

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

from conformance.run.load import (
    Concurrency,
    ConstantRate,
    PhaseSpec,
    StopConditions,
    saturation,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=64,
                    help="closed loop: streams always in flight (the client at full speed)")
    ap.add_argument("--rate", type=float, default=None,
                    help="open loop instead: requests/s offered (x --chunks = chunks/s), at "
                    "most --streams in flight; shows whether the client keeps up unsaturated")
    ap.add_argument("--chunks", type=int, default=200, help="content chunks per response")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    ap.add_argument("--processes", type=int, default=0, help="load worker processes (0: here)")
    ap.add_argument("--no-tokenizer", action="store_true", help="skip per-chunk token counting")
    ap.add_argument("--out", type=Path, default=None, help="evidence dir (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the evidence dir")
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of the run")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    ap.add_argument("--no-pin", action="store_true",
                    help="let the client use every CPU (default: all but the server's)")
    a = ap.parse_args()

    scpu = server_cpu_default()
    server = ReplayServer(a.chunks, scpu)
    if not a.no_pin:
        pin_client(scpu)
    out = a.out or Path(tempfile.mkdtemp(prefix="tokencert-chunk-rate-"))
    try:
        store = open_store(out / "evidence")
        runner = make_runner(server.base_url, not a.no_tokenizer)
        arrival = (Concurrency(a.streams) if a.rate is None
                   else ConstantRate(a.rate, max_in_flight=a.streams))
        spec = PhaseSpec("capacity", arrival, StopConditions(duration_s=a.duration),
                         processes=a.processes)
        tally = Tally()
        prof = cProfile.Profile() if a.profile else None
        s0 = server.cpu_s()
        if prof:
            prof.enable()
        outcome, wall, cpu = run(runner, spec, Factory(a.chunks), store,
                                 lambda rec: tally.add(rec, a.chunks))
        if prof:
            prof.disable()
            prof.dump_stats(str(a.profile))
        srv_cpu = server.cpu_s() - s0
        store.close()
        ev_bytes = dir_bytes(out / "evidence")
    finally:
        server.close()
    assert runner.result is not None
    health = runner.result.health
    itl = saturation(health, threshold_ms=40.0, quantile=0.5)
    ttft = saturation(health, threshold_ms=1000.0, quantile=0.99)
    fig = {
        "streams": a.streams,
        "offered_chunks_per_s": round(a.rate * a.chunks) if a.rate else None,
        "chunks_per_response": a.chunks,
        "processes": a.processes,
        "tokenizer": not a.no_tokenizer,
        "client_cpus": sorted(os.sched_getaffinity(0)),
        "requests": tally.requests,
        "requests_ok": tally.ok,
        "chunks": tally.content_chunks,
        "events": tally.events,
        "wall_s": round(wall, 3),
        "load_s": round(outcome.duration_s, 3),
        "chunks_per_s": round(tally.content_chunks / wall),
        "tokens_per_s": round(tally.tokens / wall),
        "evidence_bytes": ev_bytes,
        "evidence_bytes_per_chunk": round(ev_bytes / max(1, tally.events), 1),
        "client_cpu_percent": round(100 * cpu / wall),
        "chunks_per_client_cpu_s": round(tally.content_chunks / cpu) if cpu else None,
        "server_cpu_percent": round(100 * srv_cpu / wall),
        "peak_rss_mb": round(peak_rss_mb()),
        "schedule_delay_p99_ms": round(health.schedule_delay_ms.p99, 2),
        "loop_lag_p50_ms": round(health.loop_lag_ms.p50, 2),
        "loop_lag_p99_ms": round(health.loop_lag_ms.p99, 2),
        "loop_lag_max_ms": round(health.loop_lag_ms.max, 2),
        "cpu_percent_max_window": round(health.cpu_percent_max),
        "engine_saturated": health.saturated,
        "engine_reasons": list(health.reasons),
        "itl_median_40ms_saturated": itl.saturated,
        "ttft_p99_1000ms_saturated": ttft.saturated,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if not a.keep and a.out is None:
        shutil.rmtree(out, ignore_errors=True)
    if a.json:
        print(json.dumps(fig))
    else:
        for k, v in fig.items():
            print(f"{k:28} {v}")
        if tally.bad:
            print("bad records:", *tally.bad, sep="\n  ")
    return 0 if tally.ok == tally.requests and tally.requests else 1


if __name__ == "__main__":
    sys.exit(main())
