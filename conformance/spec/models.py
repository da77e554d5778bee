"""Frozen, typed models of the catalog and of run profiles.

Built only from data that already passed the JSON Schema, so constructors trust types.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["L1", "L2", "L3"]
LEVELS: tuple[Level, ...] = ("L1", "L2", "L3")
Obligation = Literal["MUST", "SHOULD"]
Method = Literal["automated", "manual"]


@dataclass(frozen=True)
class SourceRef:
    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    kind: Literal["sample", "rate", "value", "check"]
    description: str


@dataclass(frozen=True)
class Condition:
    """One threshold: ``stat(metric) op value``, judged on the confidence bound."""

    metric: str
    stat: str
    op: str
    value: float | bool
    note: str | None = None
    min_n: int | None = None  # observations it must rest on (default: the level's samples)

    def describe(self, unit: str = "") -> str:
        if self.stat == "all":
            return f"every {self.metric} holds"
        u = f" {unit}" if unit and unit not in ("ratio", "bool", "count") else ""
        v = self.value
        shown = (
            f"{v * 100:g}%"
            if unit == "ratio" and isinstance(v, float)
            else f"{v:g}{u}"
            if isinstance(v, int | float) and not isinstance(v, bool)
            else str(v)
        )
        return f"{self.metric} {self.stat} {self.op} {shown}"


@dataclass(frozen=True)
class EvidenceMin:
    """What a level must observe before it can pass: ``samples`` per condition (decided
    observations, samples, or a value's ``n``), the phase ``duration_s``, and ``requires``:
    preconditions (conditions on other metrics, e.g. "at least 10 refusals were provoked")
    that must *pass* for the level to be judged at all — unmet, the level is
    ``inconclusive: precondition_not_met``, never pass and never fail."""

    samples: int | None = None
    duration_s: float | None = None
    requires: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class SaturationRule:
    """When client lag voids a latency verdict (catalog ``client_saturation``)."""

    lag_tolerance: float = 0.02  # lag may move a latency by at most this share of its limit
    max_set_aside_share: float = 0.10  # share of requests in saturated windows tolerated


@dataclass(frozen=True)
class Applicability:
    requires: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class Review:
    declaration_key: str | None
    guidance: str | None


@dataclass(frozen=True)
class Requirement:
    id: str
    category: str
    obligation: Obligation
    title: str
    rationale: str
    check: str
    method: Method
    applicability: Applicability
    phase: str | None = None
    workload: str | None = None
    metrics: tuple[Metric, ...] = ()
    thresholds: Mapping[Level, tuple[Condition, ...]] = field(default_factory=dict)
    min_evidence: Mapping[Level, EvidenceMin] = field(default_factory=dict)
    review: Review | None = None
    references: tuple[str, ...] = ()
    module: str = "core"
    parameters: Mapping[str, float | int | bool | str] = field(default_factory=dict)
    source: SourceRef | None = field(default=None, compare=False)

    @property
    def automated(self) -> bool:
        return self.method == "automated"

    def param(self, name: str) -> float:
        """A numeric policy value of the catalog (``parameters``); a missing one is a bug of
        the catalog edition, reported by name."""
        v = self.parameters.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise KeyError(f"{self.id}: the catalog gives no numeric parameter {name!r}")
        return float(v)

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"{self.id} has no metric {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as in the catalog (used for `spec show`, JSON output and the digest)."""
        out: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "obligation": self.obligation,
            "title": self.title,
            "rationale": self.rationale,
            "check": self.check,
            "method": self.method,
            "applicability": {"requires": list(self.applicability.requires)}
            | ({"reason": self.applicability.reason} if self.applicability.reason else {}),
            "module": self.module,
        }
        if self.phase:
            out["phase"] = self.phase
        if self.workload:
            out["workload"] = self.workload
        if self.metrics:
            out["metrics"] = [
                {"name": m.name, "unit": m.unit, "kind": m.kind, "description": m.description}
                for m in self.metrics
            ]
        if self.thresholds:
            out["thresholds"] = {
                lvl: [
                    _condition_dict(c)
                    for c in conds
                ]
                for lvl, conds in self.thresholds.items()
            }
        if self.min_evidence:
            out["min_evidence"] = {
                lvl: {
                    k: v
                    for k, v in (("samples", e.samples), ("duration_s", e.duration_s))
                    if v is not None
                }
                | ({"requires": [_condition_dict(c) for c in e.requires]} if e.requires else {})
                for lvl, e in self.min_evidence.items()
            }
        if self.review:
            out["review"] = {
                k: v
                for k, v in (
                    ("declaration_key", self.review.declaration_key),
                    ("guidance", self.review.guidance),
                )
                if v
            }
        if self.references:
            out["references"] = list(self.references)
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        return out


def _condition_dict(c: Condition) -> dict[str, Any]:
    return ({"metric": c.metric, "stat": c.stat, "op": c.op, "value": c.value}
            | ({"note": c.note} if c.note else {})
            | ({"min_n": c.min_n} if c.min_n is not None else {}))


@dataclass(frozen=True)
class Workload:
    id: str
    input_tokens: int
    output_tokens: int
    condition: str | None = None


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    module: str


@dataclass(frozen=True)
class Catalog:
    edition: str
    version: str
    title: str
    publisher: str
    confidence: float
    levels: Mapping[str, str]
    categories: tuple[Category, ...]
    workloads: tuple[Workload, ...]
    requirements: tuple[Requirement, ...]
    digest: str
    snapshot: Mapping[str, Any] = field(compare=False, repr=False, default_factory=dict)
    saturation: SaturationRule = field(default_factory=SaturationRule)

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.requirements)

    def get(self, rid: str) -> Requirement:
        for r in self.requirements:
            if r.id == rid:
                return r
        raise KeyError(rid)

    def workload(self, wid: str) -> Workload:
        for w in self.workloads:
            if w.id == wid:
                return w
        raise KeyError(wid)

    def by_category(self, category: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.category == category)


@dataclass(frozen=True)
class PhaseSettings:
    name: str
    strategy: str
    concurrency: int | None = None
    concurrency_multiple: float | None = None
    rate_rps: float | None = None
    requests: int | None = None
    duration_s: float | None = None
    warmup_requests: int = 0
    max_error_rate: float | None = None
    window_s: float | None = None
    workload: str | None = None
    repeats: int = 1
    observe_s: float | None = None

    def resolve_concurrency(self, declared: int) -> int:
        """Concurrency for this phase given the declared concurrency."""
        if self.concurrency is not None:
            return self.concurrency
        if self.concurrency_multiple is not None:
            return max(1, round(self.concurrency_multiple * declared))
        return 1


DEFAULT_CONNECTION_FAILURES = 10


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    description: str
    request_timeout_s: float
    seed: int
    phases: Mapping[str, PhaseSettings]
    validity_months: int
    eligible: bool
    digest: str
    source: str | None = field(default=None, compare=False)
    # a run ends as incomplete (exit 3) after this many requests in a row got no answer
    max_consecutive_connection_failures: int = DEFAULT_CONNECTION_FAILURES

    def phase(self, name: str) -> PhaseSettings | None:
        return self.phases.get(name)
