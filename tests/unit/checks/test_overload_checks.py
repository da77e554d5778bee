"""STAB-003/004/005 checks: refusal hints, server failures, recovery time, window ratio."""

from __future__ import annotations

import random

import pytest

from conformance.checks import overload as ov
from conformance.run.records import RequestRecord


def rec(status: int | None = 429, error: str | None = None, **headers: str) -> RequestRecord:
    return RequestRecord(request_id="burst-1", phase="burst", seq=1, status=status, error=error,
                         headers={k.replace("_", "-"): v for k, v in headers.items()})


@pytest.mark.parametrize("headers", [
    {"retry_after": "2"}, {"Retry_After": "Wed, 21 Oct 2026 07:28:00 GMT"},
    {"x_ratelimit_reset_requests": "1.5s"}, {"x_ratelimit_reset_tokens": "6m0s"},
    {"x_ratelimit_reset_requests": "0.5"}])
def test_refusal_with_a_retry_hint_holds(headers: dict[str, str]) -> None:
    o = ov.refusal_actionable(rec(**headers))
    assert o.ok is True and o.metric == "refusal_well_formed" and o.evidence == ("burst-1",)


@pytest.mark.parametrize("headers", [
    {}, {"retry_after": "soon"}, {"x_ratelimit_remaining_requests": "0"},
    {"x_ratelimit_reset_requests": "later"}])
def test_refusal_without_a_usable_hint_fails(headers: dict[str, str]) -> None:
    o = ov.refusal_actionable(rec(**headers))
    assert o.ok is False and "429" in o.detail


def test_server_error_counts_5xx_and_no_answer_not_client_faults() -> None:
    assert ov.server_error(rec(503)) is True
    assert ov.server_error(rec(500)) is True
    assert ov.server_error(rec(429)) is False
    assert ov.server_error(rec(200, content_type="text/event-stream")) is False
    assert ov.server_error(rec(200, content_type="application/json; charset=utf-8")) is False
    assert ov.server_error(rec(None, "reset")) is True
    assert ov.server_error(rec(None, "timeout")) is True
    assert ov.server_error(rec(None, "client_error")) is None


def test_a_2xx_that_is_not_an_answer_is_a_server_failure() -> None:
    # 200 text/html (a sign-in page, a misrouted proxy) is not an answer of the dialect
    html = rec(200, "garbage", content_type="text/html; charset=utf-8")
    assert ov.server_error(html) is True and "text/html" in (ov.failure(html) or "")
    assert ov.server_error(rec(200)) is True  # no content type at all
    # JSON/SSE that does not decode, or a stream cut short
    assert ov.server_error(rec(200, "garbage", content_type="text/event-stream")) is True
    assert ov.server_error(rec(200, "reset", content_type="text/event-stream")) is True


def test_refusals_judged_never_pass_a_burst_that_drew_too_few() -> None:
    hint = {"retry_after": "1"}
    many = [rec(429, **hint) for _ in range(10)] + [rec(200, content_type="text/event-stream")]
    obs = ov.refusals_judged(many, 10)
    assert len(obs) == 11 and all(o.ok for o in obs)
    for few in ([rec(200, content_type="text/event-stream")] * 64, [rec(429, **hint)] * 9, []):
        obs = ov.refusals_judged(few, 10)
        assert obs[-1].ok is None and obs[-1].reason == "insufficient_samples"
        assert all(o.ok is not False for o in obs)
    # a refusal without a hint fails whatever the count
    bad = ov.refusals_judged([rec(429)] + [rec(429, **hint)] * 20, 10)
    assert [o.ok for o in bad].count(False) == 1


def _obs(ttfts: list[float], t0_s: float = 1.0, gap_s: float = 0.5) -> list[tuple[int, float, str]]:
    return [(int((t0_s + i * gap_s) * 1e9), v, f"r-{i}") for i, v in enumerate(ttfts)]


def test_recovery_time_is_the_end_of_the_first_window_back_in_bounds() -> None:
    # 8 slow requests, then fast ones: window of 4, p50 (nearest rank: 2nd of 4) is back
    # once 3 of 4 are fast, i.e. the window of requests 6..9 → ends at request 9's send
    slow, fast = [2050.0] * 8, [52.0] * 12
    r = ov.recovery(50.0, 1.5, 0, _obs(slow + fast), window=4)
    assert r.recovered and r.limit_ms == 75.0
    assert r.first_ok_window == ("r-6", "r-7", "r-8", "r-9")
    assert r.seconds == pytest.approx(1.0 + 9 * 0.5)
    assert r.worst_miss_ms == pytest.approx(2050.0 - 75.0)


def test_never_recovered_reports_the_observed_span() -> None:
    r = ov.recovery(50.0, 1.5, 0, _obs([2050.0] * 20), window=10)
    assert not r.recovered and r.seconds is None
    assert r.observed_s == pytest.approx(1.0 + 19 * 0.5)


def test_recovery_needs_a_full_window() -> None:
    r = ov.recovery(50.0, 1.5, 0, _obs([52.0] * 3), window=10)
    assert not r.recovered and r.worst_miss_ms is None


def _series(values_per_window: list[list[float]], window_s: float = 60.0
            ) -> list[tuple[int, float]]:
    out = []
    for i, vals in enumerate(values_per_window):
        for j, v in enumerate(vals):
            out.append((int((i * window_s + j * window_s / len(vals)) * 1e9), v))
    return out


def test_window_ratio_steady_service_is_near_one_with_a_bound() -> None:
    rng = random.Random(3)
    wins = [[100 + rng.random() * 10 for _ in range(60)] for _ in range(3)]
    wr = ov.window_ratio(_series(wins), 0, int(180e9), 60.0, 0.95)
    assert wr.point is not None and 1.0 <= wr.point < 1.1
    assert wr.upper is not None and wr.point <= wr.upper < 1.3
    assert wr.n == 180 and len(wr.windows) == 3


def test_window_ratio_sees_a_bad_minute() -> None:
    wins = [[100.0] * 50, [100.0] * 50, [450.0] * 50, [100.0] * 50]
    wr = ov.window_ratio(_series(wins), 0, int(240e9), 60.0, 0.95)
    assert wr.point == pytest.approx(4.5)
    # proven: the bad window's p50 lower bound (450) over the overall p50's upper (100)
    assert wr.lower == pytest.approx(4.5) and wr.upper is not None and wr.lower <= wr.upper


def test_window_ratio_lower_bound_is_distribution_free_and_below_the_point() -> None:
    rng = random.Random(7)
    wins = [[100 + rng.expovariate(1 / 30) for _ in range(40)] for _ in range(3)]
    wins[1] = [v * 3 for v in wins[1]]
    wr = ov.window_ratio(_series(wins), 0, int(180e9), 60.0, 0.95)
    assert wr.point is not None and wr.lower is not None and wr.upper is not None
    assert wr.lower <= wr.point <= wr.upper
    assert wr.lower > 1.0  # the slow window shows beyond a steady service's ratio of 1


def test_window_ratio_drops_the_partial_window_and_needs_one_full() -> None:
    wins = [[100.0] * 30, [900.0] * 3]
    wr = ov.window_ratio(_series(wins), 0, int(70e9), 60.0, 0.95)  # second window partial
    assert len(wr.windows) == 1 and wr.point == pytest.approx(1.0)
    short = ov.window_ratio(_series([[100.0] * 10]), 0, int(45e9), 60.0, 0.95)
    assert short.point is None and short.windows == ()


def test_window_ratio_without_enough_samples_has_no_upper_bound() -> None:
    wins = [[100.0] * 3, [100.0] * 3]  # a p50 upper bound at 1 - 0.05/3 needs >= 6
    wr = ov.window_ratio(_series(wins), 0, int(120e9), 60.0, 0.95)
    assert wr.point == pytest.approx(1.0) and wr.upper is None and wr.lower is None
