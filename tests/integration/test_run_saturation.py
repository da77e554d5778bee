"""The instrument overloaded on purpose: a latency verdict becomes client_saturated.

A real load phase runs against the reference service twice, with the real runner,
evidence store and verdict stage. In the second run a thread in the client process burns
CPU holding the GIL (a stand-in for any client-side overload): the client's own health
figures must turn PERF-001 into ``inconclusive: client_saturated`` instead of judging
the service on latencies the client inflated.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance._core.redact import Redactor
from conformance.declaration import load_declaration
from conformance.plan import build_plan
from conformance.reference import ReferenceService
from conformance.run.client import ChatParams, ClientConfig
from conformance.run.evidence import EvidenceStore, Measurement, PhaseEvidence, run_phase
from conformance.run.load import Concurrency, LoadRunner, PhaseSpec, StopConditions
from conformance.spec import load_catalog, load_profile
from conformance.verdicts import judge_all

pytestmark = pytest.mark.slow


def factory(seq: int, rng: random.Random) -> ChatParams:
    return ChatParams(messages=({"role": "user", "content": f"request {seq} {rng.random()}"},),
                      max_tokens=64, stream=True)


@pytest.fixture
def hog() -> Iterator[None]:
    """A thread that keeps the GIL busy in pure Python (long switch interval)."""
    stop = threading.Event()
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.25)

    def burn() -> None:
        x = 0
        while not stop.is_set():
            x = (x * 31 + 7) % 1_000_003

    t = threading.Thread(target=burn, daemon=True)
    t.start()
    yield
    stop.set()
    t.join()
    sys.setswitchinterval(old)


def measure(svc: ReferenceService, out: Path) -> tuple[str | None, str]:
    decl = load_declaration(svc.declaration_path)
    store = EvidenceStore.open(out, {"run": str(out)}, Redactor(svc.api_keys))
    cfg = ClientConfig(base_url=svc.base_url, model=decl.model.id, api_key=svc.api_key)
    spec = PhaseSpec("sustained", Concurrency(8), StopConditions(max_requests=40), seed=1)
    outcome = asyncio.run(run_phase(LoadRunner(cfg), spec, factory, store,
                                    PhaseEvidence("sustained")))
    store.close()
    from conformance.run.evidence import read_evidence

    recs = [r for r in read_evidence(out).phase("sustained").records()
            if r.ok and r.ttft_ms() is not None and r.sent_ns is not None]
    # with the send times: requests sent in saturated 1-s windows are set aside
    m = Measurement("PERF-001", "ttft_ms", samples=tuple(r.ttft_ms() or 0.0 for r in recs),
                    sample_sent_ns=tuple(r.sent_ns or 0 for r in recs),
                    phase="sustained", duration_s=outcome.duration_s)
    catalog = load_catalog()
    plan = build_plan(catalog, load_profile("quick"), decl, "PERF-001")
    (v,) = judge_all(catalog, plan, [m], [], {"sustained": outcome.health})
    assert v.outcome != "pass"  # 40 samples never demonstrate a p99
    return v.reason, v.detail or ""


def test_idle_client_is_not_saturated(ref_fast: ReferenceService, tmp_path: Path) -> None:
    assert measure(ref_fast, tmp_path / "ev")[0] == "insufficient_samples"


def test_overloaded_client_gives_client_saturated(ref_fast: ReferenceService, tmp_path: Path,
                                                  hog: None) -> None:
    reason, detail = measure(ref_fast, tmp_path / "ev")
    assert reason == "client_saturated"
    # decided by window: the requests sent in saturated windows were counted
    assert "requests set aside" in detail and "> 10%" in detail
