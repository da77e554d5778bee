"""The evidence record types: every JSONL line is one of these, versioned and typed.

A line is ``{"record_version": 1, "tool_version": ..., "type": ..., "id": ..., ...}``.
``id`` is idempotent: writing the same fact twice (a resumed run re-sending a probe)
gives the same id, and readers keep the last line with a given id. The JSON Schema is
``spec/schemas/evidence-record.schema.json``; the format is described in
``docs/evidence-format.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

EVIDENCE_RECORD_VERSION = 1

RecordType = Literal[
    "request",  # a RequestRecord (client view of one request)
    "phase_start",  # a segment of a load phase began (resume adds segments)
    "phase_end",  # the phase completed; carries the client's health
    "measurement",  # what a requirement's test observed
    "flag",  # client_saturated, nondeterministic, check_error, ...
    "test_start",  # a test (pytest node) began an attempt
    "test_end",  # a test finished (its measurements are final)
]

FLAG_NAMES = ("client_saturated", "nondeterministic", "check_error", "no_test")

MetricShape = Literal["samples", "observations", "value"]


@dataclass(frozen=True)
class Obs:
    """One boolean observation (a check of one response, or one trial of a rate).

    ``ok=None``: the evidence cannot settle it; ``reason`` says why (a reason code)."""

    ok: bool | None
    detail: str = ""
    reason: str | None = None
    evidence: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok}
        if self.detail:
            out["detail"] = self.detail
        if self.reason:
            out["reason"] = self.reason
        if self.evidence:
            out["evidence"] = list(self.evidence)
        if self.data:
            out["data"] = self.data
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Obs:
        return cls(
            d.get("ok"),
            str(d.get("detail", "")),
            d.get("reason"),
            tuple(d.get("evidence", ())),
            dict(d.get("data", {})),
        )


@dataclass(frozen=True)
class Measurement:
    """What one test observed for one metric of one requirement.

    Exactly one shape is filled:

    * ``samples`` — numbers for percentile conditions (e.g. TTFT per request, in the
      metric's unit), with ``sample_evidence`` the record id behind each number;
    * ``observations`` — booleans for ``stat: all`` and ``stat: rate`` conditions;
    * ``value`` — one number (or boolean) for ``stat: value``, optionally with a
      confidence bound (``lower``/``upper``) and the ``n`` it rests on.

    ``phase`` names the load phase the numbers come from (its client health decides
    ``client_saturated``); ``sample_sent_ns`` (or ``sent_ns`` in an observation's ``data``)
    says when each request was sent, so samples sent in a 1-s window where the client was
    saturated can be set aside; ``duration_s`` is the measured duration behind the value.
    ``lag_sensitive_ms``: for metrics derived from latencies but not themselves latencies
    (goodput), the latency limit per level that client lag could move. ``lag_scale``: how
    much of a client delay reaches one sample (1 for TTFT; 1/(tokens − 1) for TPOT, an
    average over the gaps of a stream).
    """

    requirement: str
    metric: str
    key: str = "0"
    samples: tuple[float, ...] | None = None
    sample_evidence: tuple[str, ...] = ()
    sample_sent_ns: tuple[int, ...] = ()  # when each sample's request was sent (monotonic)
    observations: tuple[Obs, ...] | None = None
    value: float | bool | None = None
    lower: float | None = None
    upper: float | None = None
    n: int | None = None
    duration_s: float | None = None
    phase: str | None = None
    lag_sensitive_ms: dict[str, float] = field(default_factory=dict)
    lag_scale: float = 1.0
    detail: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"m:{self.requirement}:{self.metric}:{self.key}"

    @property
    def shape(self) -> MetricShape:
        if self.samples is not None:
            return "samples"
        if self.observations is not None:
            return "observations"
        return "value"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requirement": self.requirement,
            "metric": self.metric,
            "key": self.key,
            "shape": self.shape,
        }
        if self.samples is not None:
            out["samples"] = list(self.samples)
            if self.sample_evidence:
                out["sample_evidence"] = list(self.sample_evidence)
            if self.sample_sent_ns:
                out["sample_sent_ns"] = list(self.sample_sent_ns)
        elif self.observations is not None:
            out["observations"] = [o.to_json() for o in self.observations]
        else:
            out["value"] = self.value
        for k in ("lower", "upper", "n", "duration_s", "phase"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        if self.lag_sensitive_ms:
            out["lag_sensitive_ms"] = dict(self.lag_sensitive_ms)
        if self.lag_scale != 1.0:
            out["lag_scale"] = self.lag_scale
        if self.detail:
            out["detail"] = self.detail
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Measurement:
        obs = d.get("observations")
        samples = d.get("samples")
        return cls(
            requirement=str(d["requirement"]),
            metric=str(d["metric"]),
            key=str(d.get("key", "0")),
            samples=tuple(float(x) for x in samples) if samples is not None else None,
            sample_evidence=tuple(d.get("sample_evidence", ())),
            sample_sent_ns=tuple(int(x) for x in d.get("sample_sent_ns", ())),
            observations=tuple(Obs.from_json(o) for o in obs) if obs is not None else None,
            value=d.get("value"),
            lower=d.get("lower"),
            upper=d.get("upper"),
            n=d.get("n"),
            duration_s=d.get("duration_s"),
            phase=d.get("phase"),
            lag_sensitive_ms=dict(d.get("lag_sensitive_ms", {})),
            lag_scale=float(d.get("lag_scale", 1.0)),
            detail=dict(d.get("detail", {})),
            evidence=tuple(d.get("evidence", ())),
        )


@dataclass(frozen=True)
class Flag:
    """A fact about a requirement's evidence that is not a measurement."""

    requirement: str
    name: str  # one of FLAG_NAMES
    detail: str = ""
    evidence: tuple[str, ...] = ()
    key: str = "0"

    @property
    def id(self) -> str:
        return f"f:{self.requirement}:{self.name}:{self.key}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requirement": self.requirement, "name": self.name}
        if self.detail:
            out["detail"] = self.detail
        if self.evidence:
            out["evidence"] = list(self.evidence)
        out["key"] = self.key
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Flag:
        return cls(
            str(d["requirement"]),
            str(d["name"]),
            str(d.get("detail", "")),
            tuple(d.get("evidence", ())),
            str(d.get("key", "0")),
        )


def observations(items: Sequence[tuple[bool | None, str]]) -> tuple[Obs, ...]:
    """Shorthand: ``[(ok, record_id), ...]`` → observations each citing one record."""
    return tuple(Obs(ok, evidence=(rid,) if rid else ()) for ok, rid in items)
