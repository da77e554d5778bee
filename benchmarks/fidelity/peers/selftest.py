"""End-to-end check of the peers: ``python -m benchmarks.fidelity.peers.selftest``.

Creates the peers' venvs if needed, starts the ground-truth server
(``benchmarks/fidelity/gtserver.py``) on 127.0.0.1, runs GuideLLM then AIPerf against it
(16 streams, 10 s each by default), matches their requests to the server's log and prints
their figures next to the truth, then PASS or FAIL. Exit status 0 on PASS, 1 on FAIL,
2 when something could not run. Everything it starts is stopped before it returns.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.fidelity.peers.bench import PEERS, gt_log_taker, run_peer
from benchmarks.fidelity.peers.result import PeerResult, PeerRunError
from benchmarks.fidelity.peers.truth import load_truth, match_records
from benchmarks.fidelity.peers.venv import ensure_all

GTSERVER = Path(__file__).resolve().parents[1] / "gtserver.py"
ROWS = [
    ("match method", "match"), ("requests (peer)", "requests"), ("errors (peer)", "errors"),
    ("cut off at the end (peer)", "incomplete"),
    ("matched ok", "matched"), ("unmatched truth", "unmatched_truth"),
    ("TTFT server view p50 (ms)", "ttft_server_view_p50"),
    ("TTFT true p50 (ms)", "ttft_true_p50"), ("TTFT measured p50 (ms)", "ttft_meas_p50"),
    ("TTFT error p50 (ms)", "ttft_err_p50"), ("TTFT error p99 (ms)", "ttft_err_p99"),
    ("TTFT err vs server p50 (ms)", "ttft_err_vs_server_p50"),
    ("TTFT err vs server p99 (ms)", "ttft_err_vs_server_p99"),
    ("ITL measured p50 (ms)", "itl_meas_p50"), ("|ITL error| p50 (ms)", "itl_err_p50"),
    ("|ITL error| p99 (ms)", "itl_err_p99"), ("read delay p50 (ms)", "read_delay_p50"),
    ("read delay p99 (ms)", "read_delay_p99"), ("tokens/s (client)", "tokens_per_s"),
    ("achieved req/s", "achieved_rate"), ("reported TTFT p50 (ms)", "reported_ttft_p50"),
    ("reported TTFT p99 (ms)", "reported_ttft_p99"), ("reported ITL p50 (ms)", "reported_itl_p50"),
]


class GroundTruthServer:
    """The ground-truth server as a child process on 127.0.0.1."""

    def __init__(self, ttft_ms: float, itl_ms: float, tokens: int, cpu: int | None,
                 log_path: Path) -> None:
        if not GTSERVER.is_file():
            raise PeerRunError(f"{GTSERVER} is missing; the selftest needs the ground-truth "
                               "server of benchmarks/fidelity")
        cmd = [sys.executable, str(GTSERVER), "--port", "0", "--ttft-ms", str(ttft_ms),
               "--itl-ms", str(itl_ms), "--tokens", str(tokens)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        # its stderr (asyncio's "socket.send() raised exception." when a peer hangs up
        # mid-stream, thousands of lines at 512 streams) goes to a file
        with log_path.open("wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                         stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING"):
            self.close()
            raise PeerRunError(f"ground-truth server did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else (f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}")
    return str(v)


def checks(res: PeerResult, col: dict[str, Any], *, ttft_ms: float, itl_ms: float,
           tokens: int, want: int, light: bool) -> tuple[list[str], list[str]]:
    """(failures, observations). Failures are about the set-up and the extraction; at a
    light load (``light``) an implausible TTFT or ITL fails too, at a heavy one it is the
    peer's own lag and only observed."""
    bad: list[str] = []
    seen: list[str] = []
    ok = res.ok
    if len(ok) < want:
        bad.append(f"only {len(ok)} successful requests (want ≥ {want})")
    if col["match"] != "response_id":
        bad.append(f"matched by {col['match']}, not by response id")
    if col["matched"] < 0.95 * len(ok):
        bad.append(f"matched {col['matched']} of {len(ok)} successful requests")
    if not abs(col["ttft_server_view_p50"] - ttft_ms) < 25.0:
        bad.append(f"server-side TTFT p50 {col['ttft_server_view_p50']:.1f} ms, schedule "
                   f"says {ttft_ms} (the server itself is late: machine overloaded?)")
    if any(r.output_tokens != tokens for r in ok):
        bad.append(f"some successful requests did not report {tokens} output tokens")
    rep = col["reported_ttft_p50"]
    if not abs(rep - col["ttft_meas_p50"]) <= max(1.0, 0.05 * rep):
        bad.append(f"peer's own TTFT p50 {rep:.2f} ≠ per-request p50 {col['ttft_meas_p50']:.2f}")
    if not col["achieved_rate"] > 0:
        bad.append("no achieved request rate")
    lag = seen if not light else bad
    if not abs(col["ttft_err_p50"]) < 50.0:
        lag.append(f"TTFT error p50 {col['ttft_err_p50']:+.1f} ms (its own lag)")
    if not abs(col["itl_meas_p50"] - itl_ms) < 0.25 * itl_ms:
        lag.append(f"measured ITL p50 {col['itl_meas_p50']:.2f} ms, schedule says {itl_ms}")
    return bad, seen


def order_agreement(res: PeerResult, log_path: Path) -> str:
    """How the arrival-order fallback fares against exact id matching on this run."""
    truth = load_truth(log_path)
    exact = {(m.peer.send_wall_ns, m.truth.key) for m in match_records(res, truth).matches}
    blind = replace(res, requests=tuple(replace(r, response_id=None) for r in res.requests))
    order = {(m.peer.send_wall_ns, m.truth.key) for m in match_records(blind, truth).matches}
    return (f"arrival-order matching (the fallback) pairs {len(exact & order)} of "
            f"{len(exact)} id-matched requests the same way")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="run GuideLLM and AIPerf against the "
                                 "ground-truth server and check their extracted figures")
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--rate", type=float, default=None,
                    help="Poisson arrivals at this many req/s instead of --streams")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--ttft-ms", type=float, default=200.0)
    ap.add_argument("--itl-ms", type=float, default=20.0)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--out", type=Path, default=None, help="keep the peers' outputs here")
    a = ap.parse_args(argv)
    try:
        envs = ensure_all()
    except PeerRunError as exc:
        print(f"FAIL: cannot install the peers: {exc}")
        return 2
    out = a.out or Path(tempfile.mkdtemp(prefix="tokencert-peers-"))
    ncpu = os.cpu_count() or 1
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    server_cpu = max(allowed) if len(allowed) > 1 else None
    client_cpus = allowed - {server_cpu} if server_cpu is not None else None
    print(f"peers selftest — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.machine()} {ncpu} CPUs (server on {server_cpu}, peers on "
          f"{sorted(client_cpus) if client_cpus else 'any'}); "
          + ", ".join(pe.requirement for pe in envs.values())
          + f"; schedule TTFT {a.ttft_ms:g} ms, {a.itl_ms:g} ms/token, {a.tokens} tokens; "
          + (f"Poisson {a.rate:g} req/s" if a.rate else f"{a.streams} streams")
          + f", {a.duration:g} s each; outputs in {out}", flush=True)
    failures: dict[str, list[str]] = {}
    observed: dict[str, list[str]] = {}
    cols: list[tuple[str, dict[str, Any]]] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        gt = GroundTruthServer(a.ttft_ms, a.itl_ms, a.tokens, server_cpu,
                               out / "gtserver.log")
    except PeerRunError as exc:
        print(f"FAIL: {exc}")
        return 2
    try:
        take = gt_log_taker(gt.base_url)
        for name in a.peers.split(","):
            t0 = time.monotonic()
            try:
                res, col = run_peer(name, gt.base_url, take, out_dir=out,
                                    streams=None if a.rate else a.streams, rate=a.rate,
                                    duration_s=a.duration, output_tokens=a.tokens,
                                    cpus=client_cpus)
            except PeerRunError as exc:
                failures[name] = [str(exc)]
                continue
            print(f"  {name}: {len(res.requests)} requests in {time.monotonic() - t0:.0f} s; "
                  f"$ {' '.join(res.command)}", flush=True)
            cols.append((f"{res.peer} {res.version}", col))
            want = int(a.rate * a.duration * 0.5) if a.rate else a.streams
            light = (a.rate or 0.0) <= 20.0 if a.rate else a.streams <= 16
            bad, seen = checks(res, col, ttft_ms=a.ttft_ms, itl_ms=a.itl_ms, tokens=a.tokens,
                               want=want, light=light)
            seen.append(order_agreement(res, out / name / "gt-log.json"))
            if bad:
                failures[name] = bad
            observed[name] = seen
    finally:
        gt.close()
    width = max(len(r[0]) for r in ROWS)
    print(" | ".join([f"{'':{width}}"] + [f"{c[0]:>15}" for c in cols]))
    for label, key in ROWS:
        print(" | ".join([f"{label:{width}}"] + [f"{fmt(c[1][key]):>15}" for c in cols]))
    for name, seen in observed.items():
        for line in seen:
            print(f"  observed, {name}: {line}")
    for name, bad in failures.items():
        for line in bad:
            print(f"  FAILED, {name}: {line}")
    print("FAIL" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
