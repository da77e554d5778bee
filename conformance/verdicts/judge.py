"""Pure: (catalog, plan, measurements, flags, client health) → verdicts and a summary.

Per requirement and level: every condition of the level is judged (``conditions``);
the level fails if one fails, is inconclusive if one is, passes otherwise. Then:

* too few samples for the level's ``min_evidence`` → ``inconclusive: insufficient_samples``
  unless a condition already fails; too short → ``insufficient_duration`` (always: a short
  run is never evidence of failure for a duration metric);
* client lag that could move a latency percentile by more than 2% of its limit →
  ``inconclusive: client_saturated`` instead of any latency verdict;
* a ``check_error`` / ``nondeterministic`` / ``client_saturated`` / ``no_test`` flag makes
  every level inconclusive with that reason.

The requirement's level is the highest level reached through consecutive passes from L1;
its outcome is L1's. The run's level is the lowest level over the MUST requirements;
SHOULD requirements never block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from conformance.plan.model import Plan
from conformance.run.evidence.records import Flag, Measurement
from conformance.run.load.health import ClientHealth, HealthWindow, Summary, saturation
from conformance.spec.models import LEVELS, Catalog, Level, Requirement
from conformance.verdicts import conditions
from conformance.verdicts.model import (
    CLIENT_SATURATED,
    EVALUATOR_REVIEW,
    FEATURE_ABSENT,
    INSUFFICIENT_DURATION,
    INSUFFICIENT_SAMPLES,
    NO_EVIDENCE,
    ConditionResult,
    LevelResult,
    MeasuredValue,
    Verdict,
)

SATURATION_TOLERANCE = 0.02  # client lag may move a percentile by at most 2% of its limit
BLOCKING_FLAGS = ("check_error", "nondeterministic", "client_saturated", "no_test")


def health_from_json(d: Mapping[str, Any]) -> ClientHealth:
    """Rebuild a phase's :class:`ClientHealth` from its ``phase_end`` evidence."""
    return ClientHealth(
        processes=int(d.get("processes", 0)),
        duration_s=float(d.get("duration_s", 0.0)),
        schedule_delay_ms=Summary(**d.get("schedule_delay_ms", {})),
        loop_lag_ms=Summary(**d.get("loop_lag_ms", {})),
        cpu_percent_max=float(d.get("cpu_percent_max", 0.0)),
        cpu_percent_mean=float(d.get("cpu_percent_mean", 0.0)),
        windows=tuple(HealthWindow(**w) for w in d.get("windows", ())),
        reasons=tuple(d.get("reasons", ())),
    )


def _saturated(req: Requirement, level: str, cond: ConditionResult,
               ms: Sequence[Measurement], health: Mapping[str, ClientHealth]) -> str | None:
    """Why client lag makes this condition's verdict untrustworthy, or None."""
    unit = next((m.unit for m in req.metrics if m.name == cond.metric), "")
    for m in ms:
        h = health.get(m.phase) if m.phase else None
        if h is None:
            continue
        q = conditions.percentile_q(cond.stat)
        if unit == "ms" and q is not None and not isinstance(cond.limit, bool):
            scale = m.lag_scale if m.lag_scale > 0 else 1.0
            chk = saturation(h, threshold_ms=float(cond.limit) / scale, quantile=q,
                             tolerance=SATURATION_TOLERANCE)
        elif level in m.lag_sensitive_ms:
            chk = saturation(h, threshold_ms=m.lag_sensitive_ms[level], quantile=0.99,
                             tolerance=SATURATION_TOLERANCE)
        else:
            continue
        if chk.saturated:
            return f"phase {m.phase}: " + "; ".join(chk.reasons)
    return None


def _fail_beyond_lag(req: Requirement, level: str, cond: ConditionResult,
                     ms: Sequence[Measurement], health: Mapping[str, ClientHealth]) -> bool:
    """A failed upper limit that client lag cannot explain stays a fail.

    Timestamps only err late, by at most the largest loop lag the phase saw (d_max), so
    every true latency is at least its measured value minus d_max (times ``lag_scale``
    where a delay reaches a sample only in part). A lag-sensitive value (a ratio of
    latencies) moves by at most ``limit × d_max / T`` with T its ``lag_sensitive_ms``
    scale. If the failing figure minus that slack still exceeds the limit, the lag that
    made the condition untrustworthy for a pass cannot have produced the fail."""
    if cond.outcome != "fail" or cond.op not in ("<=", "<") or isinstance(cond.limit, bool) \
            or not isinstance(cond.point, int | float) or isinstance(cond.point, bool):
        return False
    unit = next((m.unit for m in req.metrics if m.name == cond.metric), "")
    q = conditions.percentile_q(cond.stat)
    limit = float(cond.limit)
    slack = 0.0
    for m in ms:
        h = health.get(m.phase) if m.phase else None
        if h is None:
            continue
        lag = h.loop_lag_ms
        if lag.n == 0 or not math.isfinite(lag.max):
            return False
        if unit == "ms" and q is not None:
            slack = max(slack, lag.max * (m.lag_scale if m.lag_scale > 0 else 1.0))
        elif level in m.lag_sensitive_ms and m.lag_sensitive_ms[level] > 0:
            slack = max(slack, limit * lag.max / m.lag_sensitive_ms[level])
        else:
            return False
    return float(cond.point) - slack > limit


def _n_and_duration(by_metric: Mapping[str, Sequence[Measurement]]
                    ) -> tuple[int, float | None]:
    """Evidence size (the smallest pooled count over the level's metrics) and the
    shortest measured duration behind it."""
    counts: list[int] = []
    dur: float | None = None
    for ms in by_metric.values():
        n = 0
        for m in ms:
            if m.samples is not None:
                n += len(m.samples)
            elif m.observations is not None:
                n += len([o for o in m.observations if o.ok is not None])
            elif m.n is not None:
                n = max(n, m.n)
            if m.duration_s is not None:
                dur = m.duration_s if dur is None else min(dur, m.duration_s)
        counts.append(n)
    return min(counts, default=0), dur


def judge_level(req: Requirement, level: Level, by_metric: Mapping[str, list[Measurement]],
                confidence: float, health: Mapping[str, ClientHealth]) -> LevelResult:
    conds = req.thresholds.get(level, ())
    results: list[ConditionResult] = []
    for c in conds:
        ms = by_metric.get(c.metric, [])
        r = conditions.judge(c, ms, confidence)
        sat = _saturated(req, level, r, ms, health)
        if sat and not _fail_beyond_lag(req, level, r, ms, health):
            r = conditions._res(c, "inconclusive", CLIENT_SATURATED, sat, r.point, r.bound,
                                r.n)
        results.append(r)
    used_by = {c.metric: by_metric.get(c.metric, []) for c in conds}
    used = [m for ms in used_by.values() for m in ms]
    need = req.min_evidence.get(level)
    n, dur = _n_and_duration(used_by)
    if need is not None and need.duration_s is not None and used and (
        dur is None or dur < need.duration_s
    ):
        shown = "unknown" if dur is None else f"{dur:.0f} s"
        return LevelResult("inconclusive", INSUFFICIENT_DURATION,
                           f"measured duration {shown} < {need.duration_s:g} s required",
                           tuple(results))
    fails = [r for r in results if r.outcome == "fail"]
    if fails:
        return LevelResult("fail", fails[0].reason, fails[0].detail, tuple(results))
    incs = [r for r in results if r.outcome == "inconclusive"]
    sat_r = [r for r in incs if r.reason == CLIENT_SATURATED]
    if sat_r:
        return LevelResult("inconclusive", CLIENT_SATURATED, sat_r[0].detail, tuple(results))
    if need is not None and need.samples is not None and n < need.samples:
        return LevelResult("inconclusive", INSUFFICIENT_SAMPLES,
                           f"{n} samples < {need.samples} required at {level}", tuple(results))
    if incs:
        return LevelResult("inconclusive", incs[0].reason, incs[0].detail, tuple(results))
    if not results:
        return LevelResult("inconclusive", NO_EVIDENCE, f"no thresholds at {level}")
    return LevelResult("pass", None, None, tuple(results))


def _evidence_ids(ms: Sequence[Measurement], flags: Sequence[Flag]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*(m.id for m in ms), *(f.id for f in flags)]))


def judge_requirement(req: Requirement, plan: Plan, ms: Sequence[Measurement],
                      flags: Sequence[Flag], health: Mapping[str, ClientHealth],
                      confidence: float) -> Verdict:
    base: dict[str, Any] = {"id": req.id, "category": req.category,
                            "obligation": req.obligation, "method": req.method,
                            "title": req.title}
    planned = plan.get(req.id)
    if planned is not None and not planned.applicable:
        lv: dict[str, LevelResult] = {
            lvl: LevelResult("not_applicable", FEATURE_ABSENT, planned.reason)
            for lvl in req.thresholds}
        return Verdict(**base, outcome="not_applicable", level=None, reason=FEATURE_ABSENT,
                       detail=f"{planned.reason} (missing: {', '.join(planned.missing)})",
                       levels=lv)
    if not req.automated:
        return Verdict(**base, outcome="manual", level=None, reason=EVALUATOR_REVIEW,
                       detail="needs an evaluator's recorded decision",
                       levels={lvl: LevelResult("manual", EVALUATOR_REVIEW)
                               for lvl in req.thresholds},
                       evidence=_evidence_ids(ms, flags))
    by_metric: dict[str, list[Measurement]] = {}
    for m in ms:
        by_metric.setdefault(m.metric, []).append(m)
    measured = _measured(req, by_metric, confidence)
    blocking = [f for f in flags if f.name in BLOCKING_FLAGS]
    if blocking or not ms:
        why = blocking[0].name if blocking else NO_EVIDENCE
        text = blocking[0].detail if blocking else "no measurement was recorded"
        return Verdict(**base, outcome="inconclusive", level=None, reason=why,
                       detail=text[:2000],
                       levels={lvl: LevelResult("inconclusive", why) for lvl in LEVELS
                               if lvl in req.thresholds},
                       measurements=measured, evidence=_evidence_ids(ms, flags))
    levels: dict[str, LevelResult] = {lvl: judge_level(req, lvl, by_metric, confidence, health)
              for lvl in LEVELS if lvl in req.thresholds}
    achieved = None
    for lvl in LEVELS:
        if lvl in levels and levels[lvl].outcome == "pass":
            achieved = lvl
        else:
            break
    first = levels.get("L1") or LevelResult("inconclusive", NO_EVIDENCE)
    outcome = first.outcome
    reason: str | None = first.reason
    detail: str | None = first.detail
    if outcome == "pass":
        short = [f"{k}: {v.reason}" for k, v in levels.items() if v.outcome != "pass"]
        reason, detail = None, ("; ".join(short) or None)
    return Verdict(**base, outcome=outcome, level=achieved, reason=reason, detail=detail,
                   levels=levels, measurements=measured, evidence=_evidence_ids(ms, flags))


def _measured(req: Requirement, by_metric: Mapping[str, list[Measurement]],
              confidence: float) -> tuple[MeasuredValue, ...]:
    seen: dict[tuple[str, str], MeasuredValue] = {}
    for lvl in LEVELS:
        for c in req.thresholds.get(lvl, ()):
            key = (c.metric, c.stat)
            if key not in seen and c.metric in by_metric:
                unit = next((m.unit for m in req.metrics if m.name == c.metric), "")
                seen[key] = conditions.summarise(c, by_metric[c.metric], unit, confidence)
    return tuple(seen.values())


def judge_all(catalog: Catalog, plan: Plan, measurements: Sequence[Measurement],
              flags: Sequence[Flag], health: Mapping[str, Mapping[str, Any]]) -> list[Verdict]:
    """Verdicts for every requirement the plan selected, in catalog order."""
    hs = {k: health_from_json(v) for k, v in health.items() if v}
    out = []
    for req in catalog:
        if not plan.selected(req.id):
            continue
        ms = [m for m in measurements if m.requirement == req.id]
        fl = [f for f in flags if f.requirement == req.id]
        out.append(judge_requirement(req, plan, ms, fl, hs, catalog.confidence))
    return out
