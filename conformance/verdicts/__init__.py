"""Pure verdicts: (catalog, plan, measurements, flags, client health) → outcome and level
per requirement, and the run's summary. Recomputable from saved evidence alone."""

from conformance.verdicts.judge import health_from_json, judge_all, judge_requirement
from conformance.verdicts.model import (
    CHECK_ERROR,
    CLIENT_SATURATED,
    INSUFFICIENT_DURATION,
    INSUFFICIENT_SAMPLES,
    NO_EVIDENCE,
    ConditionResult,
    LevelResult,
    MeasuredValue,
    Outcome,
    Summary,
    Verdict,
)
from conformance.verdicts.summary import summarise

__all__ = [
    "CHECK_ERROR",
    "CLIENT_SATURATED",
    "INSUFFICIENT_DURATION",
    "INSUFFICIENT_SAMPLES",
    "NO_EVIDENCE",
    "ConditionResult",
    "LevelResult",
    "MeasuredValue",
    "Outcome",
    "Summary",
    "Verdict",
    "health_from_json",
    "judge_all",
    "judge_requirement",
    "summarise",
]
