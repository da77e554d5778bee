"""Levels are monotonic for every requirement of the catalog, whatever the evidence.

Hypothesis draws synthetic measurements for each metric of a requirement (samples, trials
with unsettled ones, values with or without bounds, durations) around the catalog's own
limits, and the verdict must satisfy: a pass at Lk implies a pass at every lower level; a
fail at Lk implies a fail at every higher level; the requirement's level is the highest
level passed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.declaration import load_declaration
from conformance.plan import Plan, build_plan
from conformance.run.evidence import Measurement, Obs
from conformance.spec import Requirement, load_catalog, load_profile
from conformance.spec.models import LEVELS
from conformance.verdicts import judge_all

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"
CATALOG = load_catalog()
AUTOMATED = [r.id for r in CATALOG if r.automated]


@pytest.fixture(scope="module")
def plan() -> Plan:
    p = build_plan(CATALOG, load_profile("quick"), load_declaration(DECL))
    # judge every automated requirement, whatever the fixture declaration offers
    return dataclasses.replace(p, requirements=tuple(
        dataclasses.replace(r, applicable=True) for r in p.requirements))


def _limits(req: Requirement, metric: str) -> list[float]:
    vals = [float(c.value) for conds in req.thresholds.values() for c in conds
            if c.metric == metric and not isinstance(c.value, bool)]
    return vals or [1.0]


@st.composite
def measurement(draw: st.DrawFn, req: Requirement, metric: str, kind: str) -> Measurement:
    dur = draw(st.sampled_from([None, 30.0, 700.0, 4000.0, 90000.0]))
    if kind == "sample":
        lim = draw(st.sampled_from(_limits(req, metric)))
        n = draw(st.sampled_from([0, 3, 40, 299, 320]))
        base = draw(st.sampled_from([0.0, 0.3, 0.9, 1.0, 1.05, 3.0]))
        bad = draw(st.integers(0, max(0, n // 10)))
        vals = [lim * base] * (n - bad) + [lim * draw(st.sampled_from([1.1, 5.0]))] * bad
        return Measurement(req.id, metric, samples=tuple(vals), duration_s=dur)
    if kind in ("rate", "check"):
        n = draw(st.sampled_from([0, 2, 30, 60, 300, 700, 3000, 6000, 30000]))
        bad = draw(st.sampled_from([0, 0, 1, 3, n // 20, n // 2]))
        unsure = draw(st.sampled_from([0, 0, 1, 5]))
        ok_val = draw(st.booleans()) if kind == "rate" else True
        obs = ([Obs(ok_val)] * max(0, n - bad) + [Obs(not ok_val, "x")] * min(bad, n)
               + [Obs(None, "?", "unsettled")] * unsure)
        return Measurement(req.id, metric, observations=tuple(obs), duration_s=dur)
    unit = req.metric(metric).unit
    if unit == "bool":
        return Measurement(req.id, metric, value=draw(st.booleans()), n=1, duration_s=dur)
    lim = draw(st.sampled_from(_limits(req, metric)))
    v = lim * draw(st.sampled_from([0.0, 0.5, 0.95, 1.0, 1.02, 2.0]))
    width = draw(st.sampled_from([None, 0.0, 0.05, 0.5]))
    lo = hi = None
    if width is not None:
        lo, hi = v - width * max(lim, 1.0), v + width * max(lim, 1.0)
    return Measurement(req.id, metric, value=v, lower=lo, upper=hi,
                       n=draw(st.sampled_from([None, 1, 10, 40])), duration_s=dur)


@pytest.mark.parametrize("rid", AUTOMATED)
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
def test_levels_are_monotonic(rid: str, plan: Plan, data: st.DataObject) -> None:
    req = CATALOG.get(rid)
    ms = [data.draw(measurement(req, m.name, m.kind)) for m in req.metrics]
    v = next((x for x in judge_all(CATALOG, plan, ms, [], {}) if x.id == rid), None)
    if v is None or v.outcome in ("not_applicable", "manual"):
        return
    outcomes = [v.levels[lvl].outcome for lvl in LEVELS if lvl in v.levels]
    for i, o in enumerate(outcomes):
        if o == "pass":
            assert all(x == "pass" for x in outcomes[:i]), (rid, outcomes)
        if o == "fail":
            assert all(x == "fail" for x in outcomes[i:]), (rid, outcomes)
    passed = [lvl for lvl in LEVELS if lvl in v.levels and v.levels[lvl].outcome == "pass"]
    assert v.level == (passed[-1] if passed else None)
    assert v.outcome == outcomes[0]


def test_catalog_min_evidence_lets_a_perfect_service_pass() -> None:
    """Every level's evidence minimum is at least what its bounds need for a perfect
    service (Clopper–Pearson: 299 trials for a 99% floor; order statistics: 299 samples
    for a p99), so no level is out of reach by construction."""
    from conformance.verdicts.conditions import least_evidence

    short = []
    for r in CATALOG:
        for lvl, conds in r.thresholds.items():
            need = r.min_evidence.get(lvl)
            for c in conds:
                have = c.min_n if c.min_n is not None else (need.samples if need else None)
                least = least_evidence(c, CATALOG.confidence)
                if (have is None and least > 1) or (have is not None and have < least):
                    short.append((r.id, lvl, c.metric, have, least))
    assert not short
