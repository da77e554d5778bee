"""Measurement fidelity: tokencert's load engine against a ground-truth streaming server.

    python benchmarks/fidelity/run.py                        # 16, 128, 512 streams
    python benchmarks/fidelity/run.py --streams 16 --ttft-ms 200 --itl-ms 20
    python benchmarks/fidelity/run.py --poisson 10 --duration 60

The server (benchmarks/fidelity/gtserver.py, another process, pinned to the last CPU) logs
the instant it wrote every chunk; the client runs in this process (pinned to CPU 0) or in
``--processes`` workers. Both read CLOCK_MONOTONIC, so per event:

* true TTFT = server's first-content send − client's send; measured TTFT = client's first
  content timestamp − client's send. Their difference is exactly the instrument's error.
* ITL error = measured gap − true gap, for every pair of successive tokens.
* read delay = client timestamp − server send time, per chunk (one-way loopback + lag).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.run.client import ChatParams, ClientConfig
from conformance.run.load import (
    Concurrency,
    LoadRunner,
    PhaseResult,
    PhaseSpec,
    Poisson,
    StopConditions,
    saturation,
)
from conformance.run.records import RequestRecord
from conformance.stats import quantile

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Factory:
    """Picklable request factory: the ``user`` field keys the server's send log."""

    tokens: int

    def __call__(self, seq: int, rng: Any) -> ChatParams:
        return ChatParams(
            [{"role": "user", "content": f"fidelity {seq} {rng.random():.6f}"}],
            max_tokens=self.tokens,
            extra={"user": f"seq-{seq}"},
        )


class GroundTruth:
    def __init__(self, ttft_ms: float, itl_ms: float, tokens: int, cpu: int | None) -> None:
        cmd = [
            sys.executable,
            str(HERE / "gtserver.py"),
            "--ttft-ms",
            str(ttft_ms),
            "--itl-ms",
            str(itl_ms),
            "--tokens",
            str(tokens),
        ]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"ground-truth server did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def take_log(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/gt/log", timeout=60) as r:
            return dict(json.load(r))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _q(values: list[float], q: float) -> float:
    v = quantile(values, q)
    return float("nan") if v is None else v


def compare(recs: list[RequestRecord], log: dict[str, Any], res: PhaseResult) -> dict[str, Any]:
    ttft_m, ttft_t, ttft_err, ttft_srv, itl_err, itl_m, delay = [], [], [], [], [], [], []
    itl_t: list[float] = []
    tokens_client = 0
    errors = 0
    for r in recs:
        entry = log.get(f"seq-{r.seq}")
        if not r.ok or entry is None or r.sent_ns is None or r.ttft_ms() is None:
            errors += 1
            continue
        sends = entry["sends"]
        times = [t for t, _, _ in r.content_chunks]
        if len(times) != len(sends) or not sends:
            errors += 1
            continue
        m = r.ttft_ms()
        assert m is not None
        true = (sends[0] - r.sent_ns) / 1e6
        ttft_m.append(m)
        ttft_t.append(true)
        ttft_err.append(m - true)
        ttft_srv.append((sends[0] - entry["recv"]) / 1e6)
        tokens_client += len(times)
        for i in range(len(times)):
            delay.append((times[i] - sends[i]) / 1e6)
            if i:
                g = (times[i] - times[i - 1]) / 1e6
                tg = (sends[i] - sends[i - 1]) / 1e6
                itl_m.append(g)
                itl_t.append(tg)
                itl_err.append(g - tg)
    h = res.health
    return {
        "requests": len(recs),
        "errors": errors,
        "ttft_true_p50": _q(ttft_t, 0.5),
        "ttft_meas_p50": _q(ttft_m, 0.5),
        "ttft_err_p50": _q(ttft_err, 0.5),
        "ttft_err_p99": _q(ttft_err, 0.99),
        "ttft_server_view_p50": _q(ttft_srv, 0.5),
        "ttft_p99_shift": _q(ttft_m, 0.99) - _q(ttft_t, 0.99),
        "itl_p99_shift": _q(itl_m, 0.99) - _q(itl_t, 0.99),
        "itl_meas_p50": _q(itl_m, 0.5),
        "itl_err_p50": _q([abs(x) for x in itl_err], 0.5),
        "itl_err_p99": _q([abs(x) for x in itl_err], 0.99),
        "read_delay_p50": _q(delay, 0.5),
        "read_delay_p99": _q(delay, 0.99),
        "tokens_per_s": tokens_client / res.duration_s if res.duration_s else 0.0,
        "achieved_rate": res.achieved_rate(),
        "loop_lag_p50": h.loop_lag_ms.p50,
        "loop_lag_p99": h.loop_lag_ms.p99,
        "loop_lag_max": h.loop_lag_ms.max,
        "cpu_max": h.cpu_percent_max,
        "sched_delay_p99": h.schedule_delay_ms.p99,
        "saturated_ttft": saturation(h, threshold_ms=1000.0, quantile=0.99).saturated,
        "saturated_itl": saturation(h, threshold_ms=40.0, quantile=0.99).saturated,
    }


async def run_phase(
    gt: GroundTruth, spec: PhaseSpec, tokens: int, engine: str = "fast"
) -> tuple[list[RequestRecord], PhaseResult]:
    cfg = ClientConfig(
        base_url=gt.base_url, model="gt", read_timeout_s=30, total_timeout_s=120, engine=engine
    )
    runner = LoadRunner(cfg)
    recs = [r async for r in runner.stream(spec, Factory(tokens))]
    assert runner.result is not None
    return recs, runner.result


ROWS = [
    ("TTFT true p50 (ms)", "ttft_true_p50"),
    ("TTFT measured p50 (ms)", "ttft_meas_p50"),
    ("TTFT error p50 (ms)", "ttft_err_p50"),
    ("TTFT error p99 (ms)", "ttft_err_p99"),
    ("TTFT p99 shift (ms)", "ttft_p99_shift"),
    ("ITL measured p50 (ms)", "itl_meas_p50"),
    ("|ITL error| p50 (ms)", "itl_err_p50"),
    ("|ITL error| p99 (ms)", "itl_err_p99"),
    ("ITL p99 shift (ms)", "itl_p99_shift"),
    ("read delay p50 (ms)", "read_delay_p50"),
    ("read delay p99 (ms)", "read_delay_p99"),
    ("tokens/s (client)", "tokens_per_s"),
    ("achieved req/s", "achieved_rate"),
    ("requests", "requests"),
    ("errors", "errors"),
    ("loop lag p50 (ms)", "loop_lag_p50"),
    ("loop lag p99 (ms)", "loop_lag_p99"),
    ("loop lag max (ms)", "loop_lag_max"),
    ("client CPU max (%)", "cpu_max"),
    ("schedule delay p99 (ms)", "sched_delay_p99"),
    ("saturated @TTFT 1000 ms", "saturated_ttft"),
    ("saturated @ITL 40 ms", "saturated_itl"),
]


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "YES" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="tokencert measurement fidelity benchmark")
    ap.add_argument("--streams", default="16,128,512")
    ap.add_argument("--ttft-ms", type=float, default=50.0)
    ap.add_argument("--itl-ms", type=float, default=10.0)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    ap.add_argument("--poisson", type=float, default=None, help="req/s instead of --streams")
    ap.add_argument("--processes", type=int, default=0, help="client worker processes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine", choices=["fast", "httpx"], default="fast")
    ap.add_argument(
        "--peers",
        action="store_true",
        help="also run GuideLLM and AIPerf (own venvs, see docs/peers.md) on the same server",
    )
    ap.add_argument(
        "--peers-out",
        type=Path,
        default=Path("fidelity-peers"),
        help="where the peers' raw exports and logs go (with --peers)",
    )
    a = ap.parse_args(argv)
    run_peers = None
    if a.peers:
        sys.path.insert(0, str(HERE.parents[1]))  # the repository root: benchmarks.*
        from benchmarks.fidelity.peers.bench import run_peers
    ncpu = os.cpu_count() or 1
    server_cpu = ncpu - 1 if ncpu > 1 and hasattr(os, "sched_setaffinity") else None
    if server_cpu is not None:
        os.sched_setaffinity(0, {0})
    gt = GroundTruth(a.ttft_ms, a.itl_ms, a.tokens, server_cpu)
    cols: list[tuple[str, dict[str, Any]]] = []
    try:
        stop = StopConditions(duration_s=a.duration)
        if a.poisson is not None:
            specs = [
                (
                    f"Poisson {a.poisson:g}/s",
                    PhaseSpec(
                        "poisson", Poisson(a.poisson), stop, seed=a.seed, processes=a.processes
                    ),
                )
            ]
        else:
            specs = [
                (
                    f"{n} streams",
                    PhaseSpec(f"c{n}", Concurrency(n), stop, seed=a.seed, processes=a.processes),
                )
                for n in (int(x) for x in a.streams.split(","))
            ]
        for label, spec in specs:
            gt.take_log()
            recs, res = asyncio.run(run_phase(gt, spec, a.tokens, a.engine))
            cols.append((f"tokencert {label}", compare(recs, gt.take_log(), res)))
            print(f"  done: {label}", file=sys.stderr, flush=True)
            if run_peers is not None:
                n = spec.arrival.n if isinstance(spec.arrival, Concurrency) else None
                for peer, col in run_peers(
                    gt.base_url,
                    gt.take_log,
                    out_dir=a.peers_out / spec.name,
                    streams=n,
                    rate=a.poisson,
                    duration_s=a.duration,
                    output_tokens=a.tokens,
                    cpus={0} if server_cpu is not None else None,
                ):
                    cols.append((f"{peer} {label}", col))
    finally:
        gt.close()
    print(
        f"tokencert fidelity — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()} {ncpu} CPUs, Python {platform.python_version()}; schedule "
        f"TTFT {a.ttft_ms:g} ms, {a.itl_ms:g} ms/token, {a.tokens} tokens; {a.duration:g} s "
        f"per phase; client engine {a.engine}, processes {a.processes or 'in-process'}; "
        f"server CPU {server_cpu}"
    )
    if a.poisson is not None:
        from conformance.run.load.drive import offsets_ns, share

        planned = 0
        for k in range(max(1, a.processes)):
            arr = share(specs[0][1].arrival, k, a.processes)
            assert arr is not None
            for off in offsets_ns(arr, specs[0][1], k, a.processes):
                if off >= a.duration * 1e9:
                    break
                planned += 1
        n = int(cols[0][1]["requests"])
        sd = (a.poisson * a.duration) ** 0.5
        print(
            f"target rate {a.poisson:g} req/s: a Poisson count over {a.duration:g} s is "
            f"{a.poisson * a.duration:.0f} ± {sd:.0f} (1σ); the seeded schedule planned "
            f"{planned} arrivals ({planned / a.duration:.3f}/s), the engine sent {n} "
            f"({(n - planned) / planned:+.2%} vs plan)"
        )
    width = max(len(r[0]) for r in ROWS)
    cw = max(12, *(len(c[0]) for c in cols))
    print(" | ".join([f"{'':{width}}"] + [f"{c[0]:>{cw}}" for c in cols]))
    for name, key in ROWS:
        print(" | ".join([f"{name:{width}}"] + [f"{fmt(c[1].get(key)):>{cw}}" for c in cols]))
    for label, col in cols:
        if "error" in col:
            print(f"{label}: {col['error']}")


if __name__ == "__main__":
    main()
