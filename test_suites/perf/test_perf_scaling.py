"""PERF-006 (TPOT at the declared concurrency ÷ TPOT alone) and PERF-007 (W-long TTFT).

PERF-006 reads two phases: the shared sustained phase (declared concurrency) and the
scaling phase (concurrency 1, same workload); the plan runs both when PERF-006 is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conformance.checks.latency import largest_limit, ttft_samples
from conformance.plan import Plan
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import PhaseData
from conformance.run.load.health import saturated_share
from conformance.run.records import RequestRecord
from conformance.spec import Catalog, Requirement
from conformance.stats import quantile, quantile_ratio
from conformance.verdicts import health_from_json

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import Audit, LoadRunner, Thresholds


def _tpot(phase: PhaseData, audit: Audit) -> list[tuple[RequestRecord, float, int]]:
    """(record, TPOT ms, audited output tokens): the auditor's count, not the service's."""
    out: list[tuple[RequestRecord, float, int]] = []
    for r in phase.measured:
        if r.ok and (t := r.tpot_ms(n := audit(r).audited)) is not None:
            out.append((r, float(t), n))
    return out


@pytest.mark.requirement("PERF-006")
def test_scaling(sustained_phase: PhaseData, load_runner: LoadRunner, record: Recorder,
                 catalog: Catalog, requirement: Requirement, plan: Plan, audit: Audit) -> None:
    alone = _tpot(load_runner("scaling"), audit)
    loaded = _tpot(sustained_phase, audit)
    num = [t for _, t, _ in loaded]
    den = [t for _, t, _ in alone]
    est = quantile_ratio(num, den, 0.5, catalog.confidence)
    sp, sc = plan.phase("sustained"), plan.phase("scaling")
    alone_p50_ms = quantile(den, 0.5) if den else None
    detail = {
        "tpot_p50_loaded_ms": quantile(num, 0.5) if num else None,
        "tpot_p50_alone_ms": alone_p50_ms,
        "n_loaded": len(num), "n_alone": len(den),
        "concurrency_loaded": sp.concurrency if sp else None,
        "concurrency_alone": sc.concurrency if sc else None,
        "bounded_by": list(sp.bounded_by) if sp else [],
        "bound": "upper(loaded p50) / lower(alone p50), each at 1 - alpha/2",
        "numerator_evidence": "the sustained phase's TPOT samples (PERF-002)",
    }
    if est.point is None:
        record.value("scaling_ratio", None, n=est.n, phase="sustained",
                     detail={**detail, "why": "no completed streams in one of the phases"})
        return
    # a client delay d moves a stream's TPOT by at most d / (tokens - 1): the ratio limit R
    # corresponds to R x TPOT-alone x (tokens - 1) ms of lag (2% of it tolerated)
    fewest = min((n for _, _, n in loaded), default=2)
    alone_p50 = float(alone_p50_ms or 0.0)
    lag_ms: dict[str, float] = {lvl: float(conds[0].value) * alone_p50 * max(1, fewest - 1)
              for lvl, conds in requirement.thresholds.items()}
    # the ratio is >= 0 for certain: a supplied bound makes the verdict judge the upper one,
    # so a sample too small for it is `insufficient_samples`, never a pass on the point
    lower = est.lower if est.lower is not None else 0.0
    m = record.value("scaling_ratio", est.point, lower=lower, upper=est.upper, n=est.n,
                     phase="sustained", duration_s=sustained_phase.outcome.duration_s,
                     evidence=[r.request_id for r, _, _ in alone], lag_sensitive_ms=lag_ms,
                     detail=detail)
    # lag in the single-stream phase inflates the denominator (in the service's favour)
    h = load_runner("scaling").outcome.health
    if h:
        rule = catalog.saturation
        share = saturated_share(health_from_json(h), threshold_ms=min(lag_ms.values()),
                                quantile=0.5, tolerance=rule.lag_tolerance)
        if share > rule.max_set_aside_share:
            record.flag("client_saturated", f"phase scaling: client lag or CPU saturated "
                        f"{share:.0%} of its 1-s windows (> {rule.max_set_aside_share:.0%})",
                        evidence=[m.id])


@pytest.mark.requirement("PERF-007")
def test_long_context_ttft(load_runner: LoadRunner, record: Recorder, thresholds: Thresholds,
                           plan: Plan) -> None:
    phase = load_runner("long_context")
    # a first token that came is a TTFT even if the answer then timed out; a request that
    # timed out before it counts at the timeout (a lower bound beyond every limit)
    pp = plan.phase("long_context")
    assert pp is not None, "the plan runs the long_context phase for PERF-007"
    s = ttft_samples(phase.measured, pp.timeout_s,
                     largest_limit(thresholds, "ttft_long_ms"))
    record.samples("ttft_long_ms", s.values, evidence=s.evidence, phase="long_context",
                   duration_s=phase.outcome.duration_s,
                   detail={"sent": len(phase.measured), **s.detail()})
