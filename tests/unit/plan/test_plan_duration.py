"""Expected duration of each planned phase (for `tokencert plan` and the progress line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.declaration.models import Performance
from conformance.plan import PhasePlan
from conformance.plan.duration import expect_phase, human_duration, request_seconds

PERF = Performance(declared_concurrency=10, output_tokens_per_s=500.0)  # 50 tokens/s a stream


def test_request_time_from_the_declared_per_stream_rate() -> None:
    pp = PhasePlan("protocol", "sequential", seed=1, output_tokens=100)
    assert request_seconds(pp, PERF) == pytest.approx(0.5 + 2.0)


@pytest.mark.parametrize(("pp", "requests", "seconds"), [
    (PhasePlan("protocol", "sequential", 1, requests=12, output_tokens=100), 12, 12 * 2.5),
    (PhasePlan("scaling", "concurrent", 1, concurrency=4, requests=10, output_tokens=100),
     10, 3 * 2.5),
    (PhasePlan("sustained", "concurrent", 1, concurrency=10, duration_s=600,
               output_tokens=100), 2400, 600 + 2.5),
    (PhasePlan("recovery", "constant", 1, rate_rps=2.0, duration_s=60, observe_s=120,
               output_tokens=100), 120, 60 + 2.5 + 120),
    (PhasePlan("burst", "burst", 1, concurrency=64, requests=300, output_tokens=100),
     300, 4 * 1.0 + 2.5),
    (PhasePlan("slow", "sequential", 1, requests=10, rate_rps=0.1, output_tokens=100),
     10, 100.0),
])
def test_phase_expectations(pp: PhasePlan, requests: int, seconds: float) -> None:
    e = expect_phase(pp, PERF)
    assert (e.phase, e.requests) == (pp.name, requests)
    assert e.duration_s == pytest.approx(seconds)


def test_human_duration() -> None:
    assert [human_duration(s) for s in (0, 42.4, 89, 90, 3599, 5400, 86460)] == [
        "0 s", "42 s", "89 s", "1 min 30 s", "59 min 59 s", "1 h 30 min", "24 h 01 min"]


def test_plan_command_prints_phase_durations_and_total(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    decl = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"
    r = cli("plan", "--candidate", str(decl), "--profile", "standard")
    assert r.code == 0, r.err
    assert "Expected" in r.out and "expected duration: ~" in r.out
    j = cli("plan", "--candidate", str(decl), "--profile", "standard", "--json")
    import json

    doc = json.loads(j.out)
    total = doc["duration"]["expected_s"]
    assert total == pytest.approx(sum(p["duration_s"] for p in doc["duration"]["phases"]),
                                  abs=0.1)


def test_standard_and_certification_sweep_the_concurrency() -> None:
    from conformance.declaration import load_declaration
    from conformance.plan import build_plan
    from conformance.plan.duration import expect_plan
    from conformance.plan.sweep import level_of, levels, segments
    from conformance.spec import load_catalog, load_profile

    assert (levels(16), levels(3), levels(2), levels(1)) == ([2, 4, 8], [2], [], [])
    assert (level_of("sweep-4"), level_of("sweep"), level_of("scaling")) == (4, None, None)
    decl = load_declaration(Path(__file__).parents[2] / "fixtures" / "declarations" / "valid"
                            / "candidate.yaml")
    for name in ("standard", "certification"):
        plan = build_plan(load_catalog(), load_profile(name), decl, "PERF-006")
        sw = plan.phases["sweep"]
        assert sw.workload == plan.phases["sustained"].workload == "W-std"
        segs = segments(sw, 1)
        # with the scaling phase (1) and the sustained phase (declared): >= 4 levels
        assert len({1, *(s.concurrency for s in segs), sw.concurrency}) >= 4
        assert all(s.strategy == "concurrent" and s.requests == sw.requests for s in segs)
        exp = {e.phase: e for e in expect_plan(plan, decl.performance)}
        assert exp["sweep"].requests == sw.requests * len(segs)
    assert "sweep" not in build_plan(load_catalog(), load_profile("quick"), decl,
                                     "PERF-006").phases
