"""A plan phase run in worker processes with the suite's prompt factory (pickled)."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest

from conformance._core.redact import Redactor
from conformance.declaration import load_declaration
from conformance.plan import PhasePlan
from conformance.pytest_plugin.phases import PromptSource, default_factory, phase_spec
from conformance.reference import ReferenceService
from conformance.run.client import ClientConfig
from conformance.run.evidence import EvidenceStore, read_evidence, run_phase
from conformance.run.load import LoadRunner, request_rng

pytestmark = pytest.mark.slow


def test_phase_in_two_worker_processes(ref_fast: ReferenceService, tmp_path: Path) -> None:
    decl = load_declaration(ref_fast.declaration_path)
    m = decl.model
    source = PromptSource(m.tokenizer, m.chat_template.path, m.chat_template.bos_token,
                          m.chat_template.eos_token)
    pp = PhasePlan("sustained", "concurrent", seed=11, concurrency=4, requests=12,
                   input_tokens=200, output_tokens=30, processes=2)
    factory = default_factory(pp, source)
    factory.prepare(range(6))  # the rest is built in the workers from the declared files
    clone = pickle.loads(pickle.dumps(factory))
    assert clone(7, request_rng(11, 7)) == factory.build(7)  # same prompt either way

    cfg = ClientConfig(base_url=ref_fast.base_url, model=m.id, api_key=ref_fast.api_key)
    store = EvidenceStore.open(tmp_path / "ev", {"run": 1}, Redactor(ref_fast.api_keys))
    out = asyncio.run(run_phase(LoadRunner(cfg, redactor=Redactor(ref_fast.api_keys)),
                                phase_spec(pp), factory, store,
                                read_evidence(tmp_path / "ev").phase("sustained")))
    store.close()
    recs = read_evidence(tmp_path / "ev").phase("sustained").records()
    assert [r.seq for r in recs] == list(range(12))
    assert {r.worker for r in recs} == {0, 1}
    assert all(r.ok and r.usage and r.usage["prompt_tokens"] == 200 for r in recs)
    assert out.health["processes"] == 2
