"""`tokencert plan`: the client load of each phase and the load workers a run needs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from conformance.declaration import load_declaration
from conformance.declaration.models import Declaration
from conformance.plan import PhasePlan, build_plan
from conformance.plan.load import (
    CHUNK_BYTES,
    CHUNKS_PER_S_PER_PROCESS,
    UTILISATION,
    estimate,
    phase_load,
)
from conformance.spec import load_catalog, load_profile

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


def _decl(concurrency: int, tps: float) -> Declaration:
    d = load_declaration(DECL)
    perf = dataclasses.replace(d.performance, declared_concurrency=concurrency,
                               output_tokens_per_s=tps)
    return dataclasses.replace(d, performance=perf)


def test_closed_loop_load_follows_the_declared_capacity() -> None:
    d = _decl(100, 5_000.0)  # 50 tokens/s per stream
    pp = PhasePlan("sustained", "concurrent", seed=1, concurrency=100, output_tokens=1000)
    load = phase_load(pp, d)
    assert load.streams == 100 and load.chunks_per_s == 5_000.0
    assert load.bytes_per_s == 5_000.0 * CHUNK_BYTES
    assert load.workers == 2 and load.limited_by == "streams"  # 64 streams per loop


def test_chunk_rate_beyond_one_process_needs_more_workers() -> None:
    d = _decl(64, 40_000.0)
    pp = PhasePlan("sustained", "concurrent", seed=1, concurrency=64, output_tokens=500)
    load = phase_load(pp, d)
    per_worker = CHUNKS_PER_S_PER_PROCESS * UTILISATION
    assert load.workers == -(-40_000 // int(per_worker)) and load.limited_by == "chunks"
    assert phase_load(pp, d, capacity=1e9).workers == 1


def test_open_loop_streams_from_rate_and_stream_duration() -> None:
    d = _decl(10, 1_000.0)  # 100 tokens/s per stream: 200 tokens last 2 s
    pp = PhasePlan("recovery", "constant", seed=1, concurrency=1, rate_rps=5.0,
                   output_tokens=200)
    load = phase_load(pp, d)
    assert load.streams == 10 and load.chunks_per_s == 1_000.0


def test_estimate_covers_every_planned_phase() -> None:
    d = load_declaration(DECL)
    plan = build_plan(load_catalog(), load_profile("certification"), d)
    est = estimate(plan, d)
    assert [p.phase for p in est.phases] == list(plan.phases)
    assert est.workers == max(p.workers for p in est.phases) >= 1


def test_plan_command_json() -> None:
    p = subprocess.run([sys.executable, "-m", "conformance", "plan", "--candidate", str(DECL),
                        "--profile", "quick", "--json"], capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["workers"] >= 1 and doc["capacity"]["chunks_per_s_per_process"] > 0
    assert {"streams", "chunks_per_s", "bytes_per_s", "workers"} <= set(doc["phases"][0])
    bad = subprocess.run([sys.executable, "-m", "conformance", "plan", "--candidate",
                          "/nonexistent.yaml"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert bad.returncode == 2
