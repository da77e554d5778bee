"""TTFT samples keep what a timeout proves (a censored lower bound) and nothing more."""

from __future__ import annotations

from conformance.checks.latency import largest_limit, ttft_samples
from conformance.run.records import RequestRecord
from conformance.spec import load_catalog


def rec(i: int, *, ttft_ms: float | None = None, error: str | None = None,
        status: int | None = 200) -> RequestRecord:
    r = RequestRecord(request_id=f"s-{i}", phase="sustained", seq=i, status=status,
                      error=error, sent_ns=1_000_000)
    if ttft_ms is not None:
        r.first_token_ns = r.sent_ns + int(ttft_ms * 1e6)  # type: ignore[operator]
    return r


def test_timeouts_before_the_first_token_count_at_the_timeout() -> None:
    recs = [rec(0, ttft_ms=100.0), rec(1, error="timeout", status=None),
            rec(2, ttft_ms=300.0, error="timeout"),  # first token came, then it stalled
            rec(3, error="server_error", status=500), rec(4, error="client_error")]
    s = ttft_samples(recs, timeout_s=60.0, largest_limit_ms=5000.0)
    assert s.values == [100.0, 60_000.0, 300.0]
    assert s.evidence == ["s-0", "s-1", "s-2"]
    assert (s.censored, s.dropped) == (1, 0)


def test_a_timeout_within_a_limit_proves_nothing() -> None:
    s = ttft_samples([rec(0, ttft_ms=100.0), rec(1, error="timeout", status=None)],
                     timeout_s=3.0, largest_limit_ms=5000.0)
    assert s.values == [100.0] and (s.censored, s.dropped) == (0, 1)


def test_largest_limit_is_the_loosest_level() -> None:
    req = load_catalog().get("PERF-001")
    assert largest_limit(req.thresholds, "ttft_ms") == 5000.0
