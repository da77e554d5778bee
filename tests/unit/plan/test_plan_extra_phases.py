"""Requirements that read another requirement's phase get it planned (PERF-006, STAB-004)."""

from __future__ import annotations

from pathlib import Path

from conformance.declaration import load_declaration
from conformance.plan import build_plan
from conformance.spec import load_catalog, load_profile

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


def test_scaling_plans_the_sustained_phase_and_recovery_the_burst() -> None:
    catalog, profile, decl = load_catalog(), load_profile("quick"), load_declaration(DECL)
    p6 = build_plan(catalog, profile, decl, "PERF-006")
    assert set(p6.phases) == {"scaling", "sustained"}
    assert p6.phases["sustained"].workload == "W-std"
    assert p6.phases["sustained"].concurrency == decl.performance.declared_concurrency
    s4 = build_plan(catalog, profile, decl, "STAB-004")
    assert set(s4.phases) == {"recovery", "burst"}
    assert s4.phases["burst"].exempt_from_limits and s4.phases["burst"].workload == "W-short"
    assert not s4.phases["recovery"].exempt_from_limits
    assert set(build_plan(catalog, profile, decl, "STAB-003").phases) == {"burst"}
