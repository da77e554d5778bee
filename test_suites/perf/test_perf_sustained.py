"""PERF-001..005 from the one shared sustained-load phase at the declared concurrency.

Tests record per-request samples (with the request id behind each) and leave every
comparison with a limit to the verdict stage. Output tokens (TPOT, goodput, throughput) are
the auditor's count (``audit``), never the service's own ``completion_tokens``: an
over-count must not improve a performance verdict.
"""

from __future__ import annotations

import pytest

from conformance.checks.audit import audited_events
from conformance.checks.latency import largest_limit, ttft_samples
from conformance.run.evidence import Obs
from conformance.run.load.health import busy_share
from conformance.stats import throughput
from conformance.verdicts import health_from_json

PHASE = "sustained"


def _ok(phase):  # type: ignore[no-untyped-def]
    return [r for r in phase.measured if r.ok]


@pytest.mark.requirement("PERF-001")
def test_ttft(sustained_phase, record, thresholds, plan):  # type: ignore[no-untyped-def]
    # a request that timed out before its first token counts at the timeout (a lower bound)
    s = ttft_samples(sustained_phase.measured, plan.phase(PHASE).timeout_s,
                     largest_limit(thresholds, "ttft_ms"))
    record.samples("ttft_ms", s.values, evidence=s.evidence, phase=PHASE, sent_ns=s.sent_ns,
                   duration_s=sustained_phase.outcome.duration_s, detail=s.detail())


@pytest.mark.requirement("PERF-002")
def test_tpot(sustained_phase, record, audit):  # type: ignore[no-untyped-def]
    # output tokens are the auditor's count, never the service's own completion_tokens
    recs = [(r, n) for r in _ok(sustained_phase)
            if r.tpot_ms(n := audit(r).audited) is not None]
    # TPOT averages the gaps of a stream: a client delay reaches it divided by (tokens - 1)
    fewest = min((n for _, n in recs), default=2)
    record.samples("tpot_ms", [r.tpot_ms(n) for r, n in recs],
                   evidence=[r.request_id for r, _ in recs], phase=PHASE,
                   sent_ns=[r.sent_ns for r, _ in recs],
                   duration_s=sustained_phase.outcome.duration_s,
                   lag_scale=1.0 / max(1, fewest - 1),
                   detail=_counts([audit(r) for r, _ in recs]))


def _counts(audited):  # type: ignore[no-untyped-def]
    """The auditor's output-token total beside the service's (shown, never used)."""
    return {"output_tokens_audited": sum(a.audited for a in audited),
            "output_tokens_reported": sum(a.reported or 0 for a in audited)}


@pytest.mark.requirement("PERF-003")
def test_longest_stall(sustained_phase, record):  # type: ignore[no-untyped-def]
    recs = [r for r in _ok(sustained_phase) if r.max_stall_ms() is not None]
    record.samples("max_stall_ms", [r.max_stall_ms() for r in recs],
                   evidence=[r.request_id for r in recs], phase=PHASE,
                   sent_ns=[r.sent_ns for r in recs],
                   duration_s=sustained_phase.outcome.duration_s)


@pytest.mark.requirement("PERF-004")
def test_goodput(sustained_phase, record, catalog, audit):  # type: ignore[no-untyped-def]
    # the level's TTFT and TPOT limits come from PERF-001/PERF-002 in the catalog
    def limit(rid: str, level: str) -> float:
        conds = catalog.get(rid).thresholds[level]
        return float(next(c.value for c in conds if c.stat == "p99"))

    recs = sustained_phase.measured
    for level in ("L1", "L2", "L3"):
        ttft_max, tpot_max = limit("PERF-001", level), limit("PERF-002", level)
        trials = []
        for r in recs:
            ttft, tpot = r.ttft_ms(), r.tpot_ms(audit(r).audited) if r.ok else None
            good = r.ok and ttft is not None and tpot is not None \
                and ttft <= ttft_max and tpot <= tpot_max
            # when it was sent: a trial sent while the client was saturated is set aside
            trials.append(Obs(bool(good), evidence=(r.request_id,),
                              data={"sent_ns": r.sent_ns} if r.sent_ns is not None else {}))
        record.observations(f"goodput_{level.lower()}", trials, phase=PHASE,
                            duration_s=sustained_phase.outcome.duration_s,
                            lag_sensitive_ms={level: ttft_max},
                            detail={"ttft_limit_ms": ttft_max, "tpot_limit_ms": tpot_max})


@pytest.mark.requirement("PERF-005")
def test_capacity(sustained_phase, record, declaration, requirement, audit, catalog):  # type: ignore[no-untyped-def]
    recs = _ok(sustained_phase)
    declared = float(declaration.performance.output_tokens_per_s)
    sent = [r.sent_ns for r in sustained_phase.measured if r.sent_ns is not None]
    events = audited_events(recs, audit)
    if len(sent) < 2 or not events:
        record.value("capacity_ratio", None, n=0, phase=PHASE,
                     detail={"why": "no completed streams to measure"})
        return
    # the window in which the declared concurrency was in flight: first to last send
    t0, t1 = min(sent), max(sent)
    tp = throughput(events, t0, t1, window_s=1.0)
    wm = tp.window_mean
    ratio = tp.per_s / declared
    lower = wm.lower / declared if wm.lower is not None else None
    upper = wm.upper / declared if wm.upper is not None else None
    m = record.value("capacity_ratio", ratio, lower=lower, upper=upper, n=wm.n,
                     duration_s=tp.span_s, phase=PHASE,
                     detail={"tokens_per_s": tp.per_s, "declared_tokens_per_s": declared,
                             "window_s": 1.0, **_counts([audit(r) for r in recs])})
    health = sustained_phase.outcome.health
    l1 = float(requirement.thresholds["L1"][0].value)
    busy = busy_share(health_from_json(health)) if health else 0.0
    if busy > catalog.saturation.max_set_aside_share and (lower is None or lower < l1):
        # a client CPU-bound for much of the phase under-measures throughput: do not blame
        # the service (one busy second of a long phase does not)
        record.flag("client_saturated", f"client CPU-bound in {busy:.0%} of the phase's "
                    f"1-s windows: " + "; ".join(health.get("reasons", [])), evidence=[m.id])
