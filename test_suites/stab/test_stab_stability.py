"""STAB-005: worst window TTFT p50 ÷ overall TTFT p50 of the shared sustained phase.

Windows are the sustained phase's ``window_s`` (60 s in the shipped profiles, as the catalog
says); only full windows count. A phase shorter than the catalog's min_evidence duration is
``inconclusive: insufficient_duration`` whatever the ratio (the verdict stage decides)."""

from __future__ import annotations

import pytest

from conformance.checks.overload import window_ratio
from conformance.plan import Plan
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import PhaseData
from conformance.spec import Catalog, Requirement

DEFAULT_WINDOW_S = 60.0


@pytest.mark.requirement("STAB-005")
def test_latency_stability(sustained_phase: PhaseData, plan: Plan, catalog: Catalog,
                           record: Recorder, requirement: Requirement) -> None:
    pp = plan.phase("sustained")
    window_s = float((pp.window_s if pp is not None else None) or DEFAULT_WINDOW_S)
    sent = [r.sent_ns for r in sustained_phase.measured if r.sent_ns is not None]
    # (sent_ns, TTFT ms) of every completed stream
    recs = [(at, float(ttft)) for r in sustained_phase.measured
            if r.ok and (ttft := r.ttft_ms()) is not None and (at := r.sent_ns) is not None]
    if not sent or not recs:
        record.value("window_ratio", None, n=0, phase="sustained", duration_s=0.0,
                     detail={"why": "no completed streams", "window_s": window_s})
        return
    # the measured load runs from the first measured send to the last answer; requests
    # belong to the window they were sent in, and only windows inside that span count
    t0 = min(sent)
    t1 = max(r.last_byte_ns or r.sent_ns or t0 for r in sustained_phase.measured) + 1
    wr = window_ratio(recs, t0, t1, window_s, catalog.confidence)
    # the evidence spans the full windows only: one window alone (ratio 1 by construction)
    # is never 120 s of evidence, so it stays `insufficient_duration`
    d = len(wr.windows) * window_s
    detail: dict[str, object] = {
        "window_s": window_s, "overall_ttft_p50_ms": wr.overall_p50,
        "phase_duration_s": sustained_phase.outcome.duration_s,
        "windows": [{"start_s": s, "n": n, "ttft_p50_ms": p} for s, n, p in wr.windows],
        "full_windows": len(wr.windows)}
    if wr.point is None:
        why = ("the phase holds no full window" if not wr.windows
               else "a window without completed requests")
        record.value("window_ratio", None, n=wr.n, phase="sustained", duration_s=d,
                     detail={**detail, "why": why})
        return
    # a client delay d moves a window's p50 by at most d: against the limit R, R x overall p50
    lag_ms: dict[str, float] = {lvl: float(conds[0].value) * float(wr.overall_p50 or 0.0)
              for lvl, conds in requirement.thresholds.items()}
    # both bounds are order-statistic bounds (window_ratio): the pass needs the upper one
    # under the limit, the fail the lower one beyond it; a bound a window is too small for
    # is None, which decides nothing on its side (never a verdict on the point estimate)
    detail["ratio_bounds"] = {"lower": wr.lower, "upper": wr.upper}
    record.value("window_ratio", wr.point, lower=wr.lower, upper=wr.upper, n=wr.n,
                 phase="sustained", duration_s=d, lag_sensitive_ms=lag_ms, detail=detail)
