"""How long a run is expected to take: each planned phase's expected duration (for
`tokencert plan` and the progress line). The longest a phase may take and the run deadline
are ``conformance.plan.bounds``.

Pure arithmetic on the plan and the declared capacity (no I/O). *Expected*: a request takes
``ASSUMED_TTFT_S`` plus its output tokens at one stream's share of the declared capacity; a
phase with a duration takes that duration plus one request to drain; a phase with a request
count takes its rounds of requests (or its arrival schedule, if slower).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from conformance.declaration.models import Performance
from conformance.plan.model import PhasePlan, Plan

ASSUMED_TTFT_S = 0.5  # the declaration states no TTFT; the L2 p50 region
BURST_INTERVAL_S = 1.0  # the burst arrival's spacing (conformance.pytest_plugin.phases)


@dataclass(frozen=True)
class PhaseExpectation:
    phase: str
    requests: int  # expected to be sent
    duration_s: float  # expected wall time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def request_seconds(pp: PhasePlan, perf: Performance) -> float:
    """One request's expected end-to-end time at the declared per-stream token rate."""
    per_stream_tps = perf.output_tokens_per_s / max(1, perf.declared_concurrency)
    out = max(1, pp.output_tokens or 100)
    return ASSUMED_TTFT_S + out / max(per_stream_tps, 1e-9)


def expect_phase(pp: PhasePlan, perf: Performance) -> PhaseExpectation:
    e2e = request_seconds(pp, perf)
    conc = max(1, pp.concurrency)
    if pp.strategy == "sequential":
        conc = 1
    if pp.duration_s is not None:
        if pp.rate_rps is not None and pp.strategy in ("constant", "poisson"):
            rps = pp.rate_rps
        else:
            rps = conc / e2e
            if pp.rate_rps is not None:
                rps = min(rps, pp.rate_rps)
        duration = pp.duration_s + e2e + (pp.observe_s or 0.0)
        return PhaseExpectation(pp.name, max(1, math.ceil(pp.duration_s * rps)), duration)
    n = pp.requests if pp.requests is not None else conc * max(1, pp.repeats)
    if pp.strategy == "burst":
        duration = (math.ceil(n / conc) - 1) * BURST_INTERVAL_S + e2e
    else:
        duration = math.ceil(n / conc) * e2e
        if pp.rate_rps is not None:
            duration = max(duration, n / pp.rate_rps)
    return PhaseExpectation(pp.name, n, duration + (pp.observe_s or 0.0))


def expect_sweep(pp: PhasePlan, perf: Performance) -> PhaseExpectation:
    """The sweep runs one segment per level (conformance.plan.sweep)."""
    from conformance.plan.sweep import segments

    parts = [expect_phase(seg, perf) for seg in segments(pp, 0)]
    return PhaseExpectation(pp.name, sum(p.requests for p in parts),
                            sum(p.duration_s for p in parts))


def expect_plan(plan: Plan, perf: Performance) -> tuple[PhaseExpectation, ...]:
    """Each planned phase's expectation, in plan order (phases run one after another)."""
    return tuple(expect_sweep(pp, perf) if pp.name == "sweep" else expect_phase(pp, perf)
                 for pp in plan.phases.values())


def total_seconds(phases: tuple[PhaseExpectation, ...]) -> float:
    return sum(p.duration_s for p in phases)


def human_duration(seconds: float) -> str:
    """``42 s``, ``7 min 05 s``, ``24 h 01 min``: never a bare number of seconds past 90."""
    s = max(0, round(seconds))
    if s < 90:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 90:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"
