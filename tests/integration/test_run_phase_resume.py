"""A duration-bounded phase cut short resumes for the time still missing, no seq twice."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from conformance._core.redact import Redactor
from conformance.declaration import load_declaration
from conformance.reference import ReferenceService
from conformance.run.client import ChatParams, ClientConfig
from conformance.run.evidence import EvidenceStore, read_evidence, run_phase
from conformance.run.load import Concurrency, LoadRunner, PhaseSpec, StopConditions

pytestmark = pytest.mark.slow


def factory(seq: int, rng: random.Random) -> ChatParams:
    return ChatParams(messages=({"role": "user", "content": f"r{seq} {rng.random()}"},),
                      max_tokens=40, stream=True)


def test_duration_phase_resumes_for_the_missing_time(ref_fast: ReferenceService,
                                                     tmp_path: Path) -> None:
    decl = load_declaration(ref_fast.declaration_path)
    cfg = ClientConfig(base_url=ref_fast.base_url, model=decl.model.id,
                       api_key=ref_fast.api_key)
    ev = tmp_path / "ev"

    def phase(duration: float) -> PhaseSpec:
        return PhaseSpec("sustained", Concurrency(4), StopConditions(duration_s=duration),
                         seed=3)

    store = EvidenceStore.open(ev, {"run": 1}, Redactor())
    asyncio.run(run_phase(LoadRunner(cfg), phase(1.5), factory, store,
                          read_evidence(ev).phase("sustained")))
    store.close()
    # what a kill before the end leaves: the segment and its records, no phase_end
    path = ev / "phases" / "sustained.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(x for x in lines if '"type":"phase_end"' not in x))
    first = read_evidence(ev).phase("sustained")
    assert not first.complete and len(first.segments) == 1
    seqs_before = first.seqs()

    store = EvidenceStore.open(ev, {"run": 1}, Redactor(), resume=True)
    out = asyncio.run(run_phase(LoadRunner(cfg), phase(3.0), factory, store, first))
    store.close()
    after = read_evidence(ev).phase("sustained")
    assert after.complete and len(after.segments) == 2
    assert out.resumed and 2.9 <= out.duration_s <= 4.0
    assert seqs_before < after.seqs()
    assert len(after.requests) == len(after.seqs())  # every seq once
    assert after.segments[1]["prior_duration_s"] >= 1.4
    assert after.segments[1]["planned"]["duration_s"] <= 1.6
