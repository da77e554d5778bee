"""Saturation by window, preconditions and per-condition evidence minimums."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from conformance.declaration import load_declaration
from conformance.plan import Plan, build_plan
from conformance.run.evidence import Measurement, Obs
from conformance.run.load.health import ClientHealth, HealthWindow, Summary
from conformance.spec import Catalog, Condition, EvidenceMin, load_catalog, load_profile
from conformance.verdicts import Verdict, judge_all
from conformance.verdicts.judge import judge_requirement

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"
T0 = 10_000_000_000


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def plan(catalog: Catalog) -> Plan:
    return build_plan(catalog, load_profile("quick"), load_declaration(DECL))


def health(busy: set[int], windows: int = 100,
           lag_ms: float = 300.0) -> dict[str, dict[str, Any]]:
    """A phase of ``windows`` 1-s windows; those in ``busy`` had a CPU-bound client with
    ``lag_ms`` of loop lag, the rest were idle."""
    ws = tuple(HealthWindow(float(i), 0.1, lag_ms if i in busy else 0.2,
                            95.0 if i in busy else 20.0, 50.0, 1.0) for i in range(windows))
    lag = Summary(n=50_000, p50=0.02, p75=0.03, p90=0.05, p95=0.1, p99=0.2, p995=0.3,
                  p999=lag_ms, max=lag_ms)
    h = ClientHealth(1, float(windows), Summary(), lag, 95.0, 25.0, ws,
                     ("client process at 95% of a core in its busiest second",), T0)
    return {"sustained": h.to_json()}


def ttft(values: list[float], every_s: float = 0.1) -> Measurement:
    sent = tuple(T0 + int(i * every_s * 1e9) for i in range(len(values)))
    return Measurement("PERF-001", "ttft_ms", samples=tuple(values), sample_sent_ns=sent,
                       phase="sustained")


def one(catalog: Catalog, plan: Plan, ms: list[Measurement],
        h: dict[str, dict[str, Any]]) -> Verdict:
    return next(v for v in judge_all(catalog, plan, ms, [], h) if v.id == ms[0].requirement)


def test_one_busy_second_sets_aside_its_requests_only(catalog: Catalog, plan: Plan) -> None:
    # 1000 requests over 100 s; the 10 sent in the one busy second read 9 s
    vals = [9000.0 if 50 <= i < 60 else 100.0 for i in range(1000)]
    v = one(catalog, plan, [ttft(vals)], health({5}))
    assert (v.outcome, v.level) == ("pass", "L3")
    r = v.levels["L1"].conditions[0]
    assert r.set_aside == 10 and r.n == 990
    assert "10 of 1000 requests set aside" in (v.levels["L1"].detail or "")


def test_a_large_set_aside_share_is_client_saturated(catalog: Catalog, plan: Plan) -> None:
    busy = set(range(0, 100, 7))  # 15 of 100 windows: 15% > the catalog's 10%
    near = one(catalog, plan, [ttft([4900.0] * 1000)], health(busy))
    assert (near.outcome, near.reason) == ("inconclusive", "client_saturated")
    assert "> 10%" in (near.detail or "")
    # the same share, but the bound holds with the largest lag (300 ms) added
    far = one(catalog, plan, [ttft([150.0] * 1000)], health(busy))
    assert (far.outcome, far.level) == ("pass", "L3")
    # and a fail beyond the lag stays a fail
    slow = one(catalog, plan, [ttft([9000.0] * 1000)], health(busy))
    assert slow.outcome == "fail"


def test_threshold_is_read_from_the_catalog(catalog: Catalog, plan: Plan) -> None:
    busy = set(range(0, 100, 7))
    lax = dataclasses.replace(catalog, saturation=dataclasses.replace(
        catalog.saturation, max_set_aside_share=0.2))
    v = one(lax, plan, [ttft([4900.0] * 1000)], health(busy))
    assert (v.outcome, v.level) == ("pass", "L1")


def test_samples_without_send_times_fall_back_to_the_phase(catalog: Catalog,
                                                           plan: Plan) -> None:
    m = dataclasses.replace(ttft([4900.0] * 1000), sample_sent_ns=())
    v = one(catalog, plan, [m], health({5}))
    assert (v.outcome, v.reason) == ("inconclusive", "client_saturated")


def test_trials_are_set_aside_by_their_send_time(catalog: Catalog, plan: Plan) -> None:
    obs = tuple(Obs(i // 10 != 5, data={"sent_ns": T0 + i * 100_000_000}) for i in range(1000))
    m = Measurement("PERF-004", "goodput_l1", observations=obs, phase="sustained",
                    lag_sensitive_ms={"L1": 5000.0})
    v = one(catalog, plan, [m], health({5}))
    assert v.levels["L1"].outcome == "pass"
    assert v.levels["L1"].conditions[0].set_aside == 10


def test_preconditions_block_pass_and_fail(catalog: Catalog, plan: Plan) -> None:
    req = catalog.get("STAB-003")
    pre = Condition("burst_5xx_count", "value", ">=", 1)  # stands for "N refusals seen"
    gated = dataclasses.replace(req, min_evidence={
        lvl: dataclasses.replace(e, requires=(pre,)) for lvl, e in req.min_evidence.items()})
    trials = Measurement("STAB-003", "burst_5xx_rate",
                         observations=tuple([Obs(False)] * 400))
    refusals = Measurement("STAB-003", "refusal_well_formed",
                           observations=tuple([Obs(True)] * 400))
    count = Measurement("STAB-003", "burst_5xx_count", value=0, n=400)
    v = judge_requirement(gated, plan, [trials, refusals, count], [], {}, 0.95)
    assert (v.outcome, v.reason) == ("inconclusive", "precondition_not_met")
    assert "requires burst_5xx_count value >= 1" in (v.detail or "")
    plain = judge_requirement(req, plan, [trials, refusals, count], [], {}, 0.95)
    assert plain.level == "L3"


def test_a_condition_declares_its_own_minimum(catalog: Catalog, plan: Plan) -> None:
    req = catalog.get("API-001")
    strict = dataclasses.replace(req, thresholds={
        lvl: tuple(dataclasses.replace(c, min_n=10) for c in conds)
        for lvl, conds in req.thresholds.items()})
    few = Measurement("API-001", "schema_valid", observations=tuple([Obs(True)] * 5))
    v = judge_requirement(strict, plan, [few], [], {}, 0.95)
    assert (v.outcome, v.reason) == ("inconclusive", "insufficient_samples")
    assert judge_requirement(req, plan, [few], [], {}, 0.95).outcome == "pass"
    assert EvidenceMin().requires == ()


def test_saturated_share_of_windows() -> None:
    from conformance.run.load.health import busy_share, saturated_share
    from conformance.verdicts import health_from_json

    h = health_from_json(health({1, 2, 3})["sustained"])
    assert saturated_share(h, threshold_ms=1000.0) == pytest.approx(0.03)
    assert busy_share(h) == pytest.approx(0.03)
    blind = dataclasses.replace(h, windows=())
    assert saturated_share(blind, threshold_ms=1000.0) == 1.0  # the phase-wide rule
