"""The observation a check returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Observation:
    """One observation of one metric.

    ``ok``: True / False for a check or a rate trial; None when the evidence cannot settle it
    (the verdict stage turns that into ``inconclusive`` with ``reason``).
    ``value``: the measured number for sample/value metrics.
    """

    metric: str
    ok: bool | None = None
    value: float | None = None
    detail: str = ""
    reason: str | None = None
    evidence: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "ok": self.ok, "value": self.value, "detail": self.detail,
            "reason": self.reason, "evidence": list(self.evidence), "data": self.data,
        }


def passed(metric: str, detail: str = "", **kw: Any) -> Observation:
    return Observation(metric, True, detail=detail, **kw)


def failed(metric: str, detail: str, **kw: Any) -> Observation:
    return Observation(metric, False, detail=detail, **kw)


def undecided(metric: str, reason: str, detail: str, **kw: Any) -> Observation:
    return Observation(metric, None, detail=detail, reason=reason, **kw)
