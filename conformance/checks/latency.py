"""Latency samples from request records, with what a timeout proves.

A request that timed out before its first content token has no measured TTFT, yet its TTFT
is known to be at least the request timeout: dropping it would let a service that hangs on
some requests pass a TTFT percentile on the ones it answered. Such a request is kept as a
*censored* sample at the timeout — a lower bound, so including it can only raise a
percentile, never lower it below the truth. That is sound for an upper limit only when the
timeout itself is beyond every limit the sample is judged against (a censored value above
the limit fails it whatever the true value); otherwise the request proves nothing and is
left out (and counted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.run.records import RequestRecord
from conformance.spec import Condition, Level


def largest_limit(thresholds: Mapping[Level, Sequence[Condition]], metric: str) -> float:
    """The loosest limit any level puts on ``metric`` (a censored sample must exceed it)."""
    return max(float(c.value) for conds in thresholds.values() for c in conds
               if c.metric == metric)


@dataclass(frozen=True)
class LatencySamples:
    values: list[float] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    sent_ns: list[int | None] = field(default_factory=list)  # when each request was sent
    censored: int = 0  # timed out before the first token, kept at the timeout
    dropped: int = 0  # no first token and nothing proven (other errors, short timeout)
    reasoning: dict[str, Any] = field(default_factory=dict)  # see :func:`reasoning_detail`

    def detail(self) -> dict[str, Any]:
        return {"measured": len(self.values) - self.censored, "censored_at_timeout":
                self.censored, "dropped": self.dropped, **self.reasoning}


def ttft_samples(records: Iterable[RequestRecord], timeout_s: float,
                 largest_limit_ms: float) -> LatencySamples:
    """TTFT in ms of every request with a first token (answered in full or not), plus
    requests that timed out before it, censored at ``timeout_s`` when that exceeds
    ``largest_limit_ms``. Instrument failures are never the service's latency."""
    records = list(records)
    out = LatencySamples()
    timeout_ms = timeout_s * 1000.0
    dropped = censored = 0
    for r in records:
        if r.instrument_failed:
            continue
        t = r.ttft_ms()
        if t is not None:
            out.values.append(t)
            out.evidence.append(r.request_id)
            out.sent_ns.append(r.sent_ns)
        elif r.error == "timeout" and r.sent_ns is not None and timeout_ms > largest_limit_ms:
            out.values.append(timeout_ms)
            out.evidence.append(r.request_id)
            out.sent_ns.append(r.sent_ns)
            censored += 1
        elif r.ok or r.error == "timeout":
            dropped += 1
    return LatencySamples(out.values, out.evidence, out.sent_ns, censored, dropped,
                          reasoning_detail(records))


def reasoning_detail(records: Iterable[RequestRecord]) -> dict[str, Any]:
    """For streams that showed reasoning first: TTFT is the time to the first *answer*
    token; the time to the first reasoning token is shown beside it (never judged)."""
    firsts = sorted(t for r in records if r.ok and (t := r.ttfrt_ms()) is not None)
    if not firsts:
        return {}
    return {"reasoning_streams": len(firsts),
            "ttfrt_ms_median": firsts[len(firsts) // 2],
            "ttft_is": "time to the first answer token (visible reasoning comes before it)"}
