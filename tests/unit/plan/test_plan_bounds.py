"""The bounds a plan states: the per-request deadline, each phase's expected and longest
duration, the run deadline; and the run's rule for a service that stopped answering."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from conformance._core.errors import InputError
from conformance._core.redact import Redactor
from conformance.declaration import load_declaration
from conformance.declaration.models import Declaration
from conformance.plan import PhasePlan, build_plan
from conformance.plan.bounds import phase_bound, run_bound
from conformance.plan.build import request_timeout
from conformance.pytest_plugin.guard import no_answer
from conformance.run.evidence import EvidenceStore, PhaseEvidence, read_evidence
from conformance.run.evidence.phase import _unanswered_tail
from conformance.run.records import RequestRecord
from conformance.spec import load_catalog, load_profile

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


@pytest.fixture(scope="module")
def decl() -> Declaration:
    return load_declaration(DECL)


def test_request_deadline_is_the_declared_one_capped_by_the_profile(decl: Declaration) -> None:
    quick, cert = load_profile("quick"), load_profile("certification")
    assert decl.endpoint.timeout_s == 120
    assert request_timeout(quick, decl) == 60  # the profile caps it
    assert request_timeout(cert, decl) == 120  # the declaration's own, below the cap
    plan = build_plan(load_catalog(), cert, decl)
    assert {p.timeout_s for p in plan.phases.values()} == {120}
    assert load_profile("quick").max_consecutive_connection_failures == 10


def test_phase_bounds(decl: Declaration) -> None:
    # 800 tokens/s over 16 streams: 50 tokens/s per stream, 100 tokens in 2 s
    seq = PhasePlan("protocol", "sequential", 1, requests=12, output_tokens=100,
                    timeout_s=60)
    d = phase_bound(seq, decl)
    assert (d.requests, d.expected_s, d.maximum_s) == (12, 24.0, 720.0)
    conc = dataclasses.replace(seq, name="sustained", strategy="concurrent", concurrency=16,
                               requests=None, duration_s=45)
    d = phase_bound(conc, decl)
    assert d.expected_s == 47.0 and d.maximum_s == 105.0 and d.requests == 360
    rate = dataclasses.replace(seq, name="recovery", strategy="constant", rate_rps=2,
                               requests=None, duration_s=15, observe_s=60)
    d = phase_bound(rate, decl)
    assert d.maximum_s == 15 + 60 + 60 and d.requests == 30


def test_run_deadline_bounds_every_phase(decl: Declaration) -> None:
    quick = load_profile("quick")
    plan = build_plan(load_catalog(), quick, decl)
    run = run_bound(plan, decl, request_timeout(quick, decl))
    assert {p.phase for p in run.phases} == set(plan.phases)
    assert run.expected_s < run.deadline_s
    assert run.deadline_s >= sum(p.maximum_s for p in run.phases) + run.probes_maximum_s
    assert json.loads(json.dumps(run.to_json()))["deadline_s"] == run.deadline_s


def _rec(seq: int, error: str | None = None, status: int | None = 200,
         phase: str = "sustained") -> RequestRecord:
    return RequestRecord(f"{phase}-{seq}", phase, seq, status=status, error=error,
                         first_byte_ns=None if status is None else 1)


def test_no_answer_is_no_connection_or_not_one_byte() -> None:
    assert no_answer(_rec(0, "connect", None))
    assert no_answer(_rec(0, "timeout", None))
    assert not no_answer(_rec(0, "timeout", None, phase="burst"))  # a queued burst
    assert not no_answer(_rec(0, "reset", None))  # an answer of sorts
    assert not no_answer(_rec(0, "timeout", 200))  # it answered, then stalled
    assert not no_answer(_rec(0, None, 503))


def test_requests_that_never_connected_are_superseded_on_resume(tmp_path: Path) -> None:
    manifest = {"spec": {}, "profile": {}, "candidate": {}, "only": None, "plan_digest": "d"}
    store = EvidenceStore.open(tmp_path, manifest, Redactor())
    store.append("phases/sustained", "phase_start", "phase:sustained:start:0",
                 {"phase": "sustained", "segment": 0})
    for seq, err, status in [(0, None, 200), (1, "reset", 200), (2, "connect", None),
                             (3, "connect", None)]:
        store.request(_rec(seq, err, status), segment=0)
    store.close()
    ph = read_evidence(tmp_path).phase("sustained")
    assert _unanswered_tail(ph) == ["sustained-2", "sustained-3"]
    assert _unanswered_tail(PhaseEvidence("x")) == []
    # the superseded line drops them; the records sent again after it count instead
    store = EvidenceStore.open(tmp_path, manifest, Redactor(), resume=True)
    store.append("phases/sustained", "superseded", "phase:sustained:superseded:1",
                 {"phase": "sustained", "ids": ["sustained-2", "sustained-3"]})
    assert read_evidence(tmp_path).phase("sustained").seqs() == {0, 1}
    store.request(_rec(2), segment=1)
    store.close()
    ph = read_evidence(tmp_path).phase("sustained")
    assert ph.seqs() == {0, 1, 2} and ph.requests["sustained-2"]["record"]["status"] == 200


def test_resume_reads_its_inputs_from_the_run_directory(tmp_path: Path) -> None:
    from conformance.cli.run_inputs import resume_inputs

    out = tmp_path / "run1"
    (out / "evidence").mkdir(parents=True)
    (out / "evidence" / "run.json").write_text(json.dumps({
        "only": "API-*", "inputs": {"candidate": "../c/candidate.yaml",
                                    "profile": "../p/tiny.yaml", "catalog": None}}))
    cand, prof, cat, only = resume_inputs(out, None, None, None, None)
    assert cand == out / "../c/candidate.yaml" and prof == str(out / "../p/tiny.yaml")
    assert cat is None and only == "API-*"
    assert resume_inputs(out, DECL, "quick", None, "API-001")[1:] == ("quick", None, "API-001")
    (out / "evidence" / "run.json").write_text(json.dumps({"only": None}))
    with pytest.raises(InputError, match="does not say which candidate"):
        resume_inputs(out, None, None, None, None)


def test_the_watchdog_interrupts_the_run_at_its_deadline() -> None:
    import time

    from conformance.pytest_plugin.guard import Watchdog

    why: list[str] = []
    try:
        Watchdog(0.05, why)
        for _ in range(600):  # interrupted long before (KeyboardInterrupt, as Ctrl-C)
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    assert why and "deadline" in why[0]
    quiet: list[str] = []
    Watchdog(0.05, quiet).cancel()
    time.sleep(0.2)
    assert quiet == []


def test_an_interrupted_attempts_probes_are_superseded(tmp_path: Path) -> None:
    """Probe records carry the test attempt that sent them; once the test is re-run
    (resume), the earlier attempt's probes no longer count, whatever their ids."""
    manifest = {"spec": {}, "profile": {}, "candidate": {}, "only": None, "plan_digest": "d"}
    store = EvidenceStore.open(tmp_path, manifest, Redactor())
    t = "test_meter.py::test_prompt_tokens"
    store.append("tests", "test_start", f"t:{t}:start:1", {"test": t, "attempt": 1})
    store.context = {"test": t, "attempt": 1}
    store.request(_rec(0, phase="metering"))  # the interrupted attempt's probes
    store.request(_rec(1, phase="metering"))
    store.request(_rec(5, phase="sustained"), segment=0)  # a load phase: resumed, kept
    assert read_evidence(tmp_path).phase("metering").seqs() == {0, 1}
    store.append("tests", "test_start", f"t:{t}:start:2", {"test": t, "attempt": 2})
    store.context = {"test": t, "attempt": 2}
    store.request(_rec(1, phase="metering"))  # the re-run sends one of them again
    store.close()
    lines = [json.loads(x) for x in (tmp_path / "phases" / "metering.jsonl").read_text()
             .splitlines()]
    assert [x["attempt"] for x in lines] == [1, 1, 2]
    ev = read_evidence(tmp_path)
    assert ev.phase("metering").seqs() == {1}
    assert ev.phase("metering").requests["metering-1"]["attempt"] == 2
    assert ev.phase("sustained").seqs() == {5}


def test_a_sweep_is_bounded_at_every_level(decl: Declaration) -> None:
    sweep = PhasePlan("sweep", "concurrent", 1, concurrency=8, requests=12,
                      output_tokens=100, timeout_s=60)
    b = phase_bound(sweep, decl)  # levels 1, 2, 4, 8: 12 + 6 + 3 + 2 waves
    assert b.requests == 48 and b.maximum_s == 23 * 60
