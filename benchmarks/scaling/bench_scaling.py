"""How the achievable chunk rate grows with load workers on this machine.

    python benchmarks/scaling/bench_scaling.py [--streams 64] [--output 400] [--seconds 8]
                                               [--workers 1,2] [--ray]

A closed loop of ``--streams`` streaming requests runs against the reference service (sim
engine, over TLS on 127.0.0.1, token delay near zero so that the client — not the model —
is the limit) for ``--seconds``, once with the whole load in one event loop in this
process, then split over 1, 2, ... spawned worker processes (the split `tokencert run`
uses beyond 64 streams a loop), and with ``--ray`` over 1, 2, ... Ray load workers on a
private loopback Ray cluster. For each it prints the content chunks received per second,
the bytes per second, the p99 event-loop lag of the busiest loop and whether the client was
saturated by the toolkit's own rule. The service runs on the same cores: on a 2-core machine
its own CPU use bounds what any number of workers can achieve — the figures say what this
machine can drive, which is what `tokencert plan` needs to know.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from dataclasses import dataclass

from conformance.reference import ReferenceService
from conformance.run.client import ChatParams, ClientConfig
from conformance.run.load import (
    Concurrency,
    Distributed,
    LoadRunner,
    PhaseSpec,
    StopConditions,
)
from conformance.run.records import RequestRecord

FAST = {"tpot_ms": 0.05, "base_ttft_ms": 5.0, "capacity": 1024, "tpot_growth": 0.0,
        "jitter": 0.0}


@dataclass(frozen=True)
class Factory:
    output: int

    def __call__(self, seq: int, rng: random.Random) -> ChatParams:
        return ChatParams(messages=({"role": "user", "content": f"count {seq} " * 20},),
                          max_tokens=self.output, stream=True,
                          extra={"stream_options": {"include_usage": True}})


def measure(svc: ReferenceService, label: str, streams: int, output: int, seconds: float,
            processes: int = 0, ray_workers: int | None = None) -> dict[str, object]:
    cfg = ClientConfig(base_url=svc.base_url, model="tokencert-ref-1", api_key=svc.api_key,
                       ca_bundle=svc.ca_bundle, read_timeout_s=60, total_timeout_s=120)
    dist = Distributed("local", ray_workers) if ray_workers else None
    runner = LoadRunner(cfg, distributed=dist)
    spec = PhaseSpec("scaling", Concurrency(streams),
                     StopConditions(duration_s=seconds), seed=1, processes=processes)
    chunks = nbytes = ok = 0
    first: list[int] = []
    last = [0]

    def on(rec: RequestRecord) -> None:
        nonlocal chunks, nbytes, ok
        if rec.ok:
            ok += 1
        for e in rec.events:
            chunks += 1
            nbytes += len(e.data)
            if not first or e.t_ns < first[0]:
                first[:] = [e.t_ns]
            last[0] = max(last[0], e.t_ns)

    res = asyncio.run(runner.run(spec, Factory(output), on))
    span = max(1e-9, (last[0] - first[0]) / 1e9) if first else 0.0
    h = res.health
    out = {"setup": label, "streams": streams, "requests_ok": ok,
           "chunks_per_s": round(chunks / span) if span else 0,
           "bytes_per_s": round(nbytes / span) if span else 0,
           "loop_lag_p99_ms": round(h.loop_lag_ms.p99, 2),
           "cpu_percent_max": round(h.cpu_percent_max), "saturated": h.saturated}
    print(json.dumps(out), flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--output", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--ray", action="store_true", help="also over Ray load workers")
    a = ap.parse_args()
    counts = [int(x) for x in a.workers.split(",") if x.strip()]
    print(f"# cpu_count={os.cpu_count()} streams={a.streams} output={a.output} "
          f"seconds={a.seconds}", flush=True)
    rows = []
    with ReferenceService.start(tls=True, sim_config=FAST) as svc:
        rows.append(measure(svc, "in-process loop", a.streams, a.output, a.seconds))
        for n in counts:
            rows.append(measure(svc, f"{n} worker process(es)", a.streams, a.output,
                                a.seconds, processes=n))
        if a.ray:
            for n in counts:
                rows.append(measure(svc, f"{n} Ray worker(s)", a.streams, a.output,
                                    a.seconds, ray_workers=n))
    base = rows[0]["chunks_per_s"] or 1
    print("\n| setup | chunks/s | bytes/s | x in-process | loop lag p99 ms | saturated |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['setup']} | {r['chunks_per_s']} | {r['bytes_per_s']} | "
              f"{float(r['chunks_per_s']) / float(base):.2f} | {r['loop_lag_p99_ms']} | "
              f"{r['saturated']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
