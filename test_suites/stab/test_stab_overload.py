"""STAB-003 (graceful overload) and STAB-004 (recovery) from one overload episode.

The module's ``overload`` fixture runs, in this order and once per session: a pre-burst
baseline at the recovery phase's rate and workload (``recovery.duration_s``), the burst
phase (sized from the declared limits by plan.build.burst_concurrency, exempt from them),
and right after it the observation at the same rate, in short segments until TTFT p50 over
a sliding window is back within the catalog's ``recovery_factor`` x the baseline or
``recovery.observe_s`` (+ one window) has passed. STAB-003 alone runs only the burst;
selecting STAB-004 adds the burst to the plan (plan.build).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from conformance.checks import overload as ov
from conformance.plan import Plan, phase_seed
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import PhaseData, Session
from conformance.run.evidence import Obs
from conformance.run.load.health import saturation
from conformance.spec import Catalog, Requirement
from conformance.stats import quantile
from conformance.verdicts import health_from_json

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import LoadRunner

SEGMENT_EXTRA_S = 1.0  # an observation segment holds one sliding window and this much more


@dataclass
class Overload:
    burst: PhaseData
    baseline: PhaseData | None = None
    observed: tuple[PhaseData, ...] = ()  # segments after the burst
    window: int = 10
    result: ov.Recovery | None = None
    baseline_ms: float | None = None
    factor: float = 1.5  # the catalog's STAB-004 recovery_factor


def _ttfts(phase: PhaseData) -> list[tuple[int, float, str]]:
    return [(sent, float(ttft), r.request_id) for r in phase.measured
            if r.ok and (ttft := r.ttft_ms()) is not None and (sent := r.sent_ns) is not None]


def _burst_end(burst: PhaseData) -> int | None:
    ends = [e for r in burst.records
            if (e := r.last_byte_ns or r.headers_ns or r.sent_ns) is not None]
    return max(ends) if ends else None


@pytest.fixture(scope="module")
def overload(tokencert_session: Session, plan: Plan, load_runner: LoadRunner,
             catalog: Catalog) -> Overload:
    s = tokencert_session
    rp = plan.phase("recovery") if plan.applicable("STAB-004") else None
    if rp is None:
        return Overload(load_runner("burst"))

    def segment(name: str, duration_s: float) -> PhaseData:
        pp = dataclasses.replace(rp, name=name, seed=phase_seed(s.profile.seed, name),
                                 duration_s=duration_s, requests=None, observe_s=None)
        return s.run_plan_phase(pp)

    stab004 = catalog.get("STAB-004")
    factor = stab004.param("recovery_factor")
    window = max((e.samples or 1 for e in stab004.min_evidence.values()), default=10)
    baseline = segment("recovery-baseline", float(rp.duration_s or 15.0))
    base = [t for _, t, _ in _ttfts(baseline)]
    burst = load_runner("burst")
    end = _burst_end(burst)
    base_ms = quantile(base, 0.5) if base else None
    out = Overload(burst, baseline, (), window, None, base_ms, factor)
    if end is None or base_ms is None:
        return out
    rate = rp.rate_rps or 1.0
    horizon = float(rp.observe_s or 60.0) + window / rate
    seg_s = window / rate + SEGMENT_EXTRA_S  # the recovery is checked after each segment
    segs: list[PhaseData] = []
    for i in range(math.ceil(horizon / seg_s) + 1):
        segs.append(segment(f"recovery-{i}", seg_s))
        obs = [x for p in segs for x in _ttfts(p)]
        res = ov.recovery(base_ms, factor, end, obs, window)
        out = dataclasses.replace(out, observed=tuple(segs), result=res)
        if res.recovered or res.observed_s >= horizon:
            break
    return out


@pytest.mark.requirement("STAB-003")
def test_graceful_overload(overload: Overload, record: Recorder, requirement: Requirement) -> None:
    """Every burst answer: a server failure (5xx, no answer, a 2xx that is not a JSON or
    SSE answer) counts against ``burst_5xx_*``; every 429 must say when to retry; fewer
    than the catalog's ``min_refusals`` refusals leave ``refusal_well_formed`` undecided —
    a burst that drew no refusal has shown nothing about refusals."""
    b = overload.burst
    recs = b.records
    trials = []
    for r in recs:
        bad = ov.server_error(r)
        why = ov.failure(r) if bad else None
        what = why or (f"status {r.status}" if r.status is not None else f"no answer ({r.error})")
        trials.append(Obs(bad, what, None if bad is not None else "client_error",
                          (r.request_id,)))
    d = b.outcome.duration_s
    codes: dict[str, int] = {}
    for r in recs:
        k = str(r.status) if r.status is not None else str(r.error)
        codes[k] = codes.get(k, 0) + 1
    record.observations("burst_5xx_rate", trials, phase="burst", duration_s=d,
                        detail={"answers": codes})
    n5 = sum(1 for t in trials if t.ok)
    record.value("burst_5xx_count", n5, n=len(recs), phase="burst", duration_s=d,
                 evidence=[t.evidence[0] for t in trials if t.ok][:100],
                 detail={"requests": len(recs)})
    refused = [r for r in recs if r.status == 429]
    need = int(requirement.param("min_refusals"))
    refusals = ov.refusals_judged(recs, need)
    record.observations("refusal_well_formed", refusals, phase="burst", duration_s=d,
                        detail={"refused": len(refused), "min_refusals": need})
    record.value("refusals_provoked", len(refused), n=len(recs), phase="burst", duration_s=d,
                 evidence=[r.request_id for r in refused][:100],
                 detail={"min_refusals": need, "requests": len(recs)})


@pytest.mark.requirement("STAB-004")
def test_recovery(overload: Overload, record: Recorder, requirement: Requirement) -> None:
    o = overload
    base_n = len(_ttfts(o.baseline)) if o.baseline is not None else 0
    res = o.result
    first = o.observed[0].name if o.observed else "recovery"
    detail = {"baseline_ttft_p50_ms": o.baseline_ms, "baseline_n": base_n,
              "factor": o.factor, "window_requests": o.window,
              "segments": [p.name for p in o.observed]}
    if res is None:
        why = ("the burst got no answer" if o.baseline_ms is not None
               else "no baseline TTFT (no completed pre-burst request)")
        record.value("recovery_s", None, n=0, phase=first, detail={**detail, "why": why})
        return
    n_obs = sum(len(_ttfts(p)) for p in o.observed)
    detail |= {"limit_ms": res.limit_ms, "observed_s": res.observed_s, "recovered": res.recovered,
               "worst_miss_ms": res.worst_miss_ms}
    n = min(base_n, n_obs)
    if res.recovered:
        m = record.value("recovery_s", res.seconds, n=n, phase=first,
                         duration_s=res.observed_s, evidence=list(res.first_ok_window),
                         detail=detail)
    else:
        # not back within the observation: the recovery time is only known to exceed it
        m = record.value("recovery_s", res.observed_s, lower=res.observed_s, upper=None, n=n,
                         phase=first, duration_s=res.observed_s,
                         detail={**detail, "why": "not recovered within the observation; "
                                 "the value is a lower bound"})
    l1 = float(requirement.thresholds["L1"][0].value)
    if (not res.recovered or (res.seconds or 0.0) > l1) and res.worst_miss_ms is not None:
        # could the client's own lag have kept the windows above the limit?
        for p in o.observed:
            if p.outcome.health:
                chk = saturation(health_from_json(p.outcome.health),
                                 threshold_ms=res.worst_miss_ms, quantile=0.5, tolerance=1.0)
                if chk.saturated:
                    record.flag("client_saturated", f"phase {p.name}: " + "; ".join(chk.reasons),
                                evidence=[m.id])
                    break
