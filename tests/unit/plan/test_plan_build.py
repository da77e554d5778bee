"""The plan: selection, applicability, phases resolved and bounded by declared limits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conformance._core.errors import InputError
from conformance.declaration import load_declaration
from conformance.declaration.models import Declaration, Limits, Performance
from conformance.plan import Plan, build_plan, select
from conformance.spec import Catalog, load_catalog, load_profile

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def decl() -> Declaration:
    return load_declaration(DECL)


def test_only_selects_by_glob_and_list(catalog: Catalog) -> None:
    assert select(catalog, "PERF-*") == tuple(f"PERF-00{i}" for i in range(1, 8))
    assert select(catalog, "api-001, SEC-004") == ("API-001", "SEC-004")
    assert select(catalog, None) == catalog.ids
    with pytest.raises(InputError, match="NOPE-\\*"):
        select(catalog, "API-001,NOPE-*")


def test_applicability_from_declared_features(catalog: Catalog, decl: Declaration) -> None:
    plan = build_plan(catalog, load_profile("quick"), decl)
    sec7 = plan.get("SEC-007")
    assert sec7 is not None and not sec7.applicable
    assert sec7.missing == ("prompt_caching",)
    assert sec7.reason == catalog.get("SEC-007").applicability.reason
    assert plan.applicable("PERF-001")


def test_phases_resolved_with_fixed_seeds(catalog: Catalog, decl: Declaration) -> None:
    plan = build_plan(catalog, load_profile("quick"), decl, "PERF-00[1-5],STAB-003")
    assert set(plan.phases) == {"sustained", "burst"}
    s = plan.phases["sustained"]
    assert (s.concurrency, s.duration_s, s.workload, s.input_tokens, s.output_tokens) == (
        16, 45, "W-std", 1000, 1000)
    # 4 x declared concurrency (64) < 3 x max_concurrency 64 (catalog burst_multiple)
    assert plan.phases["burst"].concurrency == 192
    assert s.seed != plan.phases["burst"].seed
    again = build_plan(catalog, load_profile("quick"), decl, "PERF-00[1-5],STAB-003")
    assert again == plan and again.digest == plan.digest
    assert Plan.from_json(plan.to_json()) == plan


def test_limits_bound_every_phase_but_the_burst(catalog: Catalog, decl: Declaration) -> None:
    tight = dataclasses.replace(decl, limits=Limits(rpm=600, tpm=2_000_000, max_concurrency=8),
                                performance=Performance(16, 100_000.0))
    plan = build_plan(catalog, load_profile("quick"), tight, "PERF-001,STAB-003")
    s = plan.phases["sustained"]
    assert s.concurrency == 8
    assert s.rate_rps == pytest.approx(10.0)  # rpm 600: the closed loop is capped
    assert s.bounded_by == ("max_concurrency", "rpm")
    b = plan.phases["burst"]
    assert b.exempt_from_limits and b.concurrency == 64 and b.bounded_by == ()
    assert b.requests == 64  # 3 x 8 = 24 < 4 x 16: the profile's burst already exceeds it


def test_the_burst_is_sized_so_an_honest_service_must_refuse(catalog: Catalog,
                                                            decl: Declaration) -> None:
    wide = dataclasses.replace(decl, limits=Limits(rpm=600, tpm=2_000_000, max_concurrency=50),
                               performance=Performance(8, 1000.0))
    b = build_plan(catalog, load_profile("quick"), wide, "STAB-003").phases["burst"]
    k = catalog.get("STAB-003").param("burst_multiple")
    assert b.concurrency == 150 == k * 50 and b.requests == 150  # one whole wave at least
    assert b.processes == 3  # 150 streams at one instant, 64 per event loop


def test_many_streams_get_worker_processes(catalog: Catalog, decl: Declaration) -> None:
    big = dataclasses.replace(decl, performance=Performance(200, 800.0),
                              limits=Limits(rpm=100_000, tpm=10**9, max_concurrency=256))
    plan = build_plan(catalog, load_profile("quick"), big, "PERF-001,API-001")
    assert plan.phases["sustained"].processes == 4  # 200 streams, 64 per event loop
    assert plan.phases["protocol"].processes == 0
