"""The highest level a profile can demonstrate for each requirement, for a perfect service.

A static check: no request is sent. For each automated requirement the profile's plan says
how much evidence the run collects (samples, measured duration): from the planned phases
and the declared capacity (a perfect service delivers exactly its declared throughput), or
from the suite's own probe sets. Evidence of that size from a service that meets every
limit with room to spare is then judged by the verdict stage itself (``judge_all``:
``min_evidence`` and the confidence bounds alike), so a profile too small for a level's
bound shows here before anyone runs it. ``tokencert plan --levels`` prints it.

The numbers are a *best case*: a real service's noise, refusals or an instrument that
saturates can only lower what a run shows, never raise it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.declaration.models import Declaration
from conformance.plan import Plan, build_plan
from conformance.run.corpora import fingerprint_cases, metering_schedule
from conformance.run.evidence.records import Measurement, Obs
from conformance.spec.models import LEVELS, Catalog, Metric, Profile, Requirement
from conformance.verdicts import judge_all

# requirements judged on the requests of the sustained phase (one sample per request)
SUSTAINED = frozenset({"PERF-001", "PERF-002", "PERF-003", "PERF-004", "STAB-001",
                       "STAB-002", "STAB-005"})
# requirements judged on every response of the run
RUN_WIDE = frozenset({"METER-005", "METER-006", "BILL-003", "SEC-003", "SEC-006"})
EVIDENCE_CAP_FACTOR, EVIDENCE_CAP_MIN = 4, 2000


@dataclass(frozen=True)
class Planned:
    """The evidence a profile plans for one requirement."""

    samples: int
    duration_s: float | None
    source: str


@dataclass(frozen=True)
class Reach:
    id: str
    obligation: str
    level: str | None          # the highest level shown (None: not even L1)
    outcome: str               # pass | inconclusive | not_applicable | ...
    planned: Planned | None
    blocker: str | None        # why the next level is not shown

    def to_json(self) -> dict[str, Any]:
        p = self.planned
        return {"id": self.id, "obligation": self.obligation, "level": self.level,
                "outcome": self.outcome, "blocker": self.blocker,
                "samples": p.samples if p else None, "duration_s": p.duration_s if p else None,
                "source": p.source if p else None}


def _sustained(plan: Plan, decl: Declaration) -> tuple[int, float]:
    """(requests measured, seconds) of the sustained phase for a service that delivers
    exactly its declared capacity at the declared concurrency."""
    pp = plan.phase("sustained")
    if pp is None:
        return 0, 0.0
    rate = decl.performance.output_tokens_per_s / max(1, pp.output_tokens or 1000)
    if pp.rate_rps is not None:
        rate = min(rate, pp.rate_rps)
    if pp.requests:
        return max(0, pp.requests - pp.warmup_requests), pp.requests / max(rate, 1e-9)
    dur = float(pp.duration_s or 0.0)
    return max(0, math.floor(rate * dur) - pp.warmup_requests), dur


def _requests(plan: Plan, phase: str) -> int:
    pp = plan.phase(phase)
    if pp is None:
        return 0
    if pp.requests:
        return pp.requests
    if pp.rate_rps and pp.duration_s:
        return math.floor(pp.rate_rps * pp.duration_s)
    return 0


def _run_responses(plan: Plan, decl: Declaration) -> int:
    n, _ = _sustained(plan, decl)
    metering = plan.phase("metering")
    reps = metering.repeats if metering is not None else 1
    return n + len(metering_schedule(reps)) + sum(
        _requests(plan, p) for p in plan.phases if p not in ("sustained", "metering"))


def planned_evidence(req: Requirement, plan: Plan, decl: Declaration) -> Planned:
    """How much evidence the plan gives ``req`` (a perfect service answering every probe)."""
    rid = req.id
    need = max((e.samples or 1 for e in req.min_evidence.values()), default=1)
    if rid in SUSTAINED or rid in ("PERF-005", "STAB-006"):
        n, dur = _sustained(plan, decl)
        if rid == "PERF-005":  # one throughput figure per 1-second window
            return Planned(math.floor(dur), dur, "sustained phase, 1 s windows")
        if rid == "STAB-006":
            return Planned(1, dur, "sustained phase duration")
        return Planned(n, dur, "sustained phase requests at the declared capacity")
    if rid.startswith("METER-00") and rid[-1] in "123":
        mp = plan.phase("metering")
        sched = metering_schedule(mp.repeats if mp is not None else 1)
        f = decl.model.features
        if rid == "METER-001" or f.logprobs or f.one_token_per_chunk:
            return Planned(len(sched), None, "metering corpus x repeats")
        return Planned(sum(1 for s in sched if s.cut), None,
                       "metering probes cut by max_tokens (settled without logprobs)")
    if rid == "METER-007":
        return Planned(len(fingerprint_cases()), None, "fingerprint corpus")
    if rid == "METER-008":
        pp = plan.phase("caching")
        return Planned(pp.repeats if pp else 0, None, "caching repeats")
    if rid == "PERF-006":
        return Planned(min(_requests(plan, "scaling"), _sustained(plan, decl)[0]), None,
                       "scaling phase requests")
    if rid == "PERF-007":
        return Planned(_requests(plan, "long_context"), None, "long-context requests")
    if rid == "STAB-003":
        return Planned(_requests(plan, "burst"), None, "burst requests")
    if rid == "STAB-004":
        return Planned(_requests(plan, "recovery"), None, "recovery requests")
    if rid in RUN_WIDE:
        return Planned(_run_responses(plan, decl), None, "every response of the run")
    return Planned(need, None, "the suite's own probe set (sized to the catalog)")


def _conditions(req: Requirement, metric: str) -> list[Any]:
    return [c for lvl in LEVELS for c in req.thresholds.get(lvl, ()) if c.metric == metric]


def _perfect(req: Requirement, m: Metric, p: Planned) -> Measurement:
    """The measurement a perfect service gives ``m``: every check holds, every rate trial
    goes its way, every sample and value meets the strictest limit (a duration is what the
    plan measures)."""
    conds = _conditions(req, m.name)
    kw: dict[str, Any] = {"requirement": req.id, "metric": m.name, "key": "reach",
                          "duration_s": p.duration_s}
    # more evidence from a perfect service only tightens its bounds: beyond a few times the
    # largest minimum evidence the outcome cannot change, so the synthetic sample stops there
    need = max((e.samples or 1 for e in req.min_evidence.values()), default=1)
    n = min(p.samples, max(EVIDENCE_CAP_FACTOR * need, EVIDENCE_CAP_MIN))
    upper = any(c.op in ("<=", "<") for c in conds)
    if m.kind in ("check", "rate"):
        ok = not upper if m.kind == "rate" else True
        return Measurement(**kw, observations=(Obs(ok),) * n)
    eq = [c.value for c in conds if c.op == "=="]
    lows = [float(c.value) for c in conds if c.op in (">=", ">")]
    ups = [float(c.value) for c in conds if c.op in ("<=", "<")]
    good: float | bool
    if eq:
        good = eq[0]
    elif lows and m.unit == "s":
        good = float(p.duration_s or 0.0)
    elif lows:
        good = max(lows)
    else:
        good = min(0.0, *ups) if ups else 0.0
    if m.kind == "sample":
        return Measurement(**kw, samples=(float(good),) * n)
    bound = None if isinstance(good, bool) else float(good)
    return Measurement(**kw, value=good, lower=bound, upper=bound, n=p.samples)


def reach(catalog: Catalog, profile: Profile, decl: Declaration,
          only: str | None = None) -> list[Reach]:
    """The highest level ``profile`` can show for each requirement of ``catalog``."""
    plan = build_plan(catalog, profile, decl, only)
    planned: dict[str, Planned] = {}
    ms: list[Measurement] = []
    for req in catalog:
        if not (plan.selected(req.id) and plan.applicable(req.id) and req.automated):
            continue
        p = planned[req.id] = planned_evidence(req, plan, decl)
        ms.extend(_perfect(req, m, p) for m in req.metrics)
    out: list[Reach] = []
    for v in judge_all(catalog, plan, ms, [], {}):
        blocker = next((f"{lvl}: {r.reason}" + (f" ({r.detail})" if r.detail else "")
                        for lvl, r in v.levels.items() if r.outcome != "pass"), None)
        if v.outcome in ("manual", "not_applicable"):
            blocker = v.reason
        out.append(Reach(v.id, v.obligation, v.level, v.outcome, planned.get(v.id), blocker))
    return out


def automated(rows: Sequence[Reach]) -> list[Reach]:
    """The rows of automated requirements that apply to the declaration."""
    return [r for r in rows if r.outcome not in ("manual", "not_applicable")]
