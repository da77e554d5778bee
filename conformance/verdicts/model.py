"""Verdict data: per condition, per level, per requirement, and the run's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["pass", "fail", "inconclusive", "not_applicable", "manual"]

# Reason codes (stable, machine-readable; `detail` carries the human sentence)
INSUFFICIENT_SAMPLES = "insufficient_samples"
INSUFFICIENT_DURATION = "insufficient_duration"
CLIENT_SATURATED = "client_saturated"
CHECK_ERROR = "check_error"
NONDETERMINISTIC = "nondeterministic"
NO_EVIDENCE = "no_evidence"
NO_TEST = "no_test"
FEATURE_ABSENT = "feature_absent"
EVALUATOR_REVIEW = "evaluator_review"
THRESHOLD_EXCEEDED = "threshold_not_met"
PRECONDITION_NOT_MET = "precondition_not_met"  # what the condition must observe was not seen


@dataclass(frozen=True)
class ConditionResult:
    metric: str
    stat: str
    op: str
    limit: float | bool
    outcome: Outcome
    reason: str | None = None
    detail: str | None = None
    point: float | bool | None = None
    bound: float | None = None  # the favourable-side bound (a pass needs it to meet the limit)
    n: int | None = None
    fail_bound: float | None = None  # the other side's bound (a fail needs it beyond the limit)
    set_aside: int = 0  # samples left out: sent in windows where the client was saturated


@dataclass(frozen=True)
class LevelResult:
    outcome: Outcome
    reason: str | None = None
    detail: str | None = None
    conditions: tuple[ConditionResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class MeasuredValue:
    """One summary line for results.json: ``stat(metric) = value`` with its bounds."""

    metric: str
    stat: str
    value: float | bool | None
    unit: str
    lower: float | None = None
    upper: float | None = None
    n: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "stat": self.stat, "value": self.value,
                "unit": self.unit, "lower": self.lower, "upper": self.upper, "n": self.n}


@dataclass(frozen=True)
class Verdict:
    id: str
    category: str
    obligation: str
    method: str
    title: str
    outcome: Outcome
    level: str | None
    reason: str | None = None
    detail: str | None = None
    levels: dict[str, LevelResult] = field(default_factory=dict)
    measurements: tuple[MeasuredValue, ...] = ()
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "obligation": self.obligation,
            "method": self.method, "title": self.title, "outcome": self.outcome,
            "level": self.level, "reason": self.reason, "detail": self.detail,
            "measurements": [m.to_json() for m in self.measurements],
            "levels": {k: v.to_json() for k, v in self.levels.items()},
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class Summary:
    level: str | None
    certified: bool
    reason: str | None
    per_category: dict[str, dict[str, Any]]
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "certified": self.certified, "reason": self.reason,
                "per_category": self.per_category, "counts": self.counts}
