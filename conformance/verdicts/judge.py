"""Pure: (catalog, plan, measurements, flags, client health) → verdicts and a summary.

Per requirement and level: every condition of the level is judged (``conditions``: a pass
on the favourable bound, a fail only on the other side's bound), client lag taken into
account (``lag``: requests sent in saturated windows set aside). Then:

* a level whose phase was too short for its ``min_evidence.duration_s`` is
  ``inconclusive: insufficient_duration`` (a short run is never evidence of failure);
* a level whose preconditions (``min_evidence.requires``: what must have been observed,
  e.g. refusals provoked) do not pass is ``inconclusive: precondition_not_met`` — never
  pass, never fail;
* one failed condition fails the level; a condition resting on fewer observations than it
  declares (``min_n``, else the level's ``samples``) is ``insufficient_samples``, never a pass;
* a ``check_error`` / ``nondeterministic`` / ``client_saturated`` / ``no_test`` flag makes
  every level inconclusive with that reason.

Levels are monotonic by construction: a level passes only if the level below passes, and a
fail below is a fail at every stricter level (the catalog's levels are nested). The
requirement's level is the highest level passed; its outcome is L1's. The run's level is the
lowest level over the MUST requirements; SHOULD requirements never block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conformance.plan.model import Plan
from conformance.run.evidence.records import Flag, Measurement
from conformance.run.load.health import ClientHealth, HealthWindow, Summary
from conformance.spec.models import LEVELS, Catalog, Level, Requirement, SaturationRule
from conformance.verdicts import conditions, lag
from conformance.verdicts.model import (
    CLIENT_SATURATED,
    EVALUATOR_REVIEW,
    FEATURE_ABSENT,
    INSUFFICIENT_DURATION,
    INSUFFICIENT_SAMPLES,
    NO_EVIDENCE,
    PRECONDITION_NOT_MET,
    ConditionResult,
    LevelResult,
    MeasuredValue,
    Outcome,
    Verdict,
)

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
        t0_ns=int(d.get("t0_ns", 0)),
    )


def evidence_size(ms: Sequence[Measurement]) -> int:
    """How many observations ``ms`` rest on: samples, decided trials, or a value's ``n``."""
    n = 0
    for m in ms:
        if m.samples is not None:
            n += len(m.samples)
        elif m.observations is not None:
            n += len([o for o in m.observations if o.ok is not None])
        elif m.n is not None:
            n = max(n, m.n)
    return n


def _duration(ms: Sequence[Measurement]) -> float | None:
    ds = [m.duration_s for m in ms if m.duration_s is not None]
    return min(ds) if ds else None


def judge_level(req: Requirement, level: Level, by_metric: Mapping[str, list[Measurement]],
                confidence: float, health: Mapping[str, ClientHealth],
                rule: SaturationRule | None = None) -> LevelResult:
    """One level judged on its own conditions (``judge_requirement`` then makes the levels
    monotonic)."""
    rule = rule or SaturationRule()
    conds = req.thresholds.get(level, ())
    need = req.min_evidence.get(level)
    results: list[ConditionResult] = []
    for c in conds:
        r, used = lag.judge(req, level, c, by_metric.get(c.metric, []), health, confidence,
                            rule)
        want = c.min_n if c.min_n is not None else (need.samples if need else None)
        have = evidence_size(used)
        if want is not None and r.outcome == "pass" and have < want:
            r = conditions._res(c, "inconclusive", INSUFFICIENT_SAMPLES,
                                f"{have} samples < {want} required at {level} for "
                                f"{c.describe()}", r.point, r.bound, have, r.fail_bound)
        results.append(r)
    used_all = [m for c in conds for m in by_metric.get(c.metric, [])]
    if need is not None and need.duration_s is not None and used_all:
        dur = _duration(used_all)
        if dur is None or dur < need.duration_s:
            shown = "unknown" if dur is None else f"{dur:.0f} s"
            return LevelResult("inconclusive", INSUFFICIENT_DURATION,
                               f"measured duration {shown} < {need.duration_s:g} s required",
                               tuple(results))
    for pre in need.requires if need is not None else ():
        p = conditions.judge(pre, by_metric.get(pre.metric, []), confidence)
        if p.outcome != "pass":
            return LevelResult("inconclusive", PRECONDITION_NOT_MET,
                               f"requires {pre.describe()}: "
                               f"{p.detail or p.outcome}", tuple(results))
    if not results:
        return LevelResult("inconclusive", NO_EVIDENCE, f"no thresholds at {level}")
    order: tuple[tuple[Outcome, str | None], ...] = (
        ("fail", None), ("inconclusive", CLIENT_SATURATED),
        ("inconclusive", INSUFFICIENT_SAMPLES), ("inconclusive", None))
    for outcome, reason in order:
        hit = [r for r in results if r.outcome == outcome and reason in (None, r.reason)]
        if hit:
            return LevelResult(outcome, hit[0].reason, hit[0].detail,
                               tuple(results))
    notes = [r.detail for r in results if r.detail]
    return LevelResult("pass", None, "; ".join(notes) or None, tuple(results))


def monotonic(levels: Mapping[str, LevelResult]) -> dict[str, LevelResult]:
    """Levels made monotonic: Lk passes only if L(k−1) passes; a fail at L(k−1) is a fail at
    Lk (the catalog's levels are nested: each is at least as strict as the one below)."""
    out: dict[str, LevelResult] = {}
    below: tuple[str, LevelResult] | None = None
    for lvl in LEVELS:
        if lvl not in levels:
            continue
        r = levels[lvl]
        if below is not None:
            name, b = below
            if b.outcome == "fail" and r.outcome != "fail":
                r = LevelResult("fail", b.reason, f"fails {name}: {b.detail}", r.conditions)
            elif b.outcome != "pass" and r.outcome == "pass":
                r = LevelResult(b.outcome, b.reason, f"{name} not shown: {b.detail}",
                                r.conditions)
        out[lvl] = r
        below = (lvl, r)
    return out


def _evidence_ids(ms: Sequence[Measurement], flags: Sequence[Flag]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*(m.id for m in ms), *(f.id for f in flags)]))


def judge_requirement(req: Requirement, plan: Plan, ms: Sequence[Measurement],
                      flags: Sequence[Flag], health: Mapping[str, ClientHealth],
                      confidence: float, rule: SaturationRule | None = None) -> Verdict:
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
    levels = monotonic({lvl: judge_level(req, lvl, by_metric, confidence, health, rule)
                        for lvl in LEVELS if lvl in req.thresholds})
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
        reason, detail = None, ("; ".join([*short, *([first.detail] if first.detail else [])])
                                or None)
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
        out.append(judge_requirement(req, plan, ms, fl, hs, catalog.confidence,
                                     catalog.saturation))
    return out
