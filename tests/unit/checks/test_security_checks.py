"""The SEC checks added for SEC-001/002/004/005/006/007 and API-005's expect_stop."""

from __future__ import annotations

import json
from typing import Any

from conformance._core.redact import REDACTED
from conformance.checks import hygiene, protocol
from conformance.checks.hygiene import TransportFacts
from conformance.run.records import ChunkEvent, RequestRecord


def rec(body: Any = None, status: int | None = 200, **kw: Any) -> RequestRecord:
    raw = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    return RequestRecord(request_id=kw.pop("rid", "s-1"), phase="security", seq=0,
                         status=status, body=raw, **kw)


ERR = {"error": {"message": "Incorrect API key", "type": "invalid_request_error",
                 "code": "invalid_api_key"}}


def test_auth_refused() -> None:
    assert hygiene.auth_refused(rec(ERR, 401), "wrong key").ok
    assert hygiene.auth_refused(rec(ERR, 403), "wrong key").ok
    served = hygiene.auth_refused(rec({"choices": [{"message": {}}]}, 200), "missing key")
    assert served.ok is False and "200" in served.detail
    assert hygiene.auth_refused(rec({"data": [{"id": "m"}]}, 401), "x").ok is False
    assert hygiene.auth_refused(rec(ERR, 401, events=[ChunkEvent(1, b"{}")]), "x").ok is False
    assert hygiene.auth_refused(rec(None, None, error="reset"), "x").ok is False
    assert hygiene.auth_refused(rec(ERR, 400), "x").ok is False


def test_transport_secure() -> None:
    good = TransportFacts("https", "TLSv1.3", plain_error="no HTTP answer")
    assert hygiene.transport_secure(good).ok
    assert hygiene.transport_secure(TransportFacts("https", "TLSv1.2", plain_status=301,
                                                   plain_location="https://x/v1")).ok
    assert hygiene.transport_secure(TransportFacts("https", "TLSv1.2", plain_status=400)).ok
    http = hygiene.transport_secure(TransportFacts("http", plain_status=200))
    assert http.ok is False and "self-assessment" in http.detail
    assert hygiene.transport_secure(TransportFacts(
        "https", None, chain_error="CERTIFICATE_VERIFY_FAILED")).ok is False
    assert hygiene.transport_secure(TransportFacts("https", "TLSv1.1")).ok is False
    assert hygiene.transport_secure(TransportFacts("https", "TLSv1.3",
                                                   old_tls_accepted=True)).ok is False
    assert hygiene.transport_secure(TransportFacts("https", "TLSv1.3", plain_status=401)
                                    ).ok is False  # the API answers over plain http
    assert hygiene.transport_secure(TransportFacts("https", "TLSv1.3", plain_status=302,
                                                   plain_location="http://x/")).ok is False


def test_bad_input_handled() -> None:
    assert hygiene.bad_input_handled(rec(ERR, 400), "bad-json").ok
    assert hygiene.bad_input_handled(rec(ERR, 413), "huge").ok
    five = hygiene.bad_input_handled(rec(ERR, 500), "messages-string")
    assert five.ok is False and "500" in five.detail
    hang = hygiene.bad_input_handled(rec(None, None, error="timeout"), "deep")
    assert hang.ok is False and "hung" in hang.detail
    assert hygiene.bad_input_handled(rec(None, None, error="reset"), "huge").ok is False
    assert hygiene.bad_input_handled(rec({}, 200), "nan").ok is False
    assert hygiene.bad_input_handled(rec({}, 200), "nan", ("4xx", "2xx")).ok
    assert hygiene.healthy_after(rec({"choices": []}, 200)).ok
    assert hygiene.healthy_after(rec(ERR, 503)).ok is False


def test_allowance_covers_bucket_sliding_and_fixed_windows() -> None:
    assert hygiene.allowance(120, 0.0) == 120
    assert hygiene.allowance(120, 0.5) == 240  # a fixed window's boundary inside half a second
    assert hygiene.allowance(120, 60.0) == 240
    assert hygiene.allowance(120, 61.0) == 360
    assert hygiene.allowance(120, 30.0, 1.2) == 288


def test_rate_limited() -> None:
    # 120/min, 5 s, tolerance 1.2: allowance 288. 130 admitted, 170 refused: pass
    ok = hygiene.rate_limited([200] * 130 + [429] * 170, 120, 5.0, tolerance=1.2)
    assert ok.ok and ok.data["status_429"] == 170
    # 400 admitted in 6 s: more than any limiter at 120/min admits, no 429
    never = hygiene.rate_limited([200] * 400, 120, 6.0, tolerance=1.2)
    assert never.ok is False and "no 429" in never.detail
    # 10,000 admitted against 120/min fails even though a 429 came eventually
    late = hygiene.rate_limited([200] * 10_000 + [429] * 5, 120, 20.0, tolerance=1.2)
    assert late.ok is False and "although 5 requests got 429" in late.detail
    assert hygiene.rate_limited([200] * 50 + [503], 120, 1.0).ok is False
    # the token limit: 50 x 12000 prompt tokens admitted > 1.2 x 2 x 200000
    tok = hygiene.rate_limited([200] * 50, 1200, 3.0, declared_tpm=200_000,
                               prompt_tokens=[12000] * 50, tolerance=1.2)
    assert tok.ok is False and "prompt tokens" in tok.detail


def test_rate_limited_is_never_a_pass_below_the_declared_rate() -> None:
    # a 429 came, but the client offered fewer than the limits allow: nothing is shown
    few = hygiene.rate_limited([200] * 100 + [429], 120, 6.0, tolerance=1.2)
    assert few.ok is None and few.reason == "rate_not_reached"
    assert hygiene.rate_limited([], 120, 0.0).ok is None
    assert hygiene.rate_limited([None] * 500, 120, 6.0).ok is None  # no answers at all
    tok = hygiene.rate_limited([200] * 20, 1200, 3.0, declared_tpm=300_000,
                               prompt_tokens=[12000] * 20, tolerance=1.2)
    assert tok.ok is None and tok.reason == "rate_not_reached"
    # the excess refused with something other than 429: a rate limit answers 429
    other = hygiene.rate_limited([200] * 100 + [403] * 300, 120, 6.0, tolerance=1.2)
    assert other.ok is False and "403" in other.detail


def test_cache_isolation_checks() -> None:
    def u(cached: int) -> dict[str, Any]:
        return {"prompt_tokens": 4000, "completion_tokens": 1, "total_tokens": 4001,
                "prompt_tokens_details": {"cached_tokens": cached}}

    assert hygiene.no_cross_tenant_hit(rec({}, 200, usage=u(0))).ok
    assert hygiene.no_cross_tenant_hit(rec({}, 200, usage={"prompt_tokens": 3})).ok
    hit = hygiene.no_cross_tenant_hit(rec({}, 200, usage=u(3968)))
    assert hit.ok is False and "3968" in hit.detail
    assert hygiene.no_cross_tenant_hit(rec(ERR, 429)).ok is False
    cold = [140.0, 150.0, 145.0, 138.0, 152.0, 147.0, 143.0, 149.0]
    assert hygiene.no_ttft_drop([c + 1 for c in cold], cold).ok
    drop = hygiene.no_ttft_drop([c - 80 for c in cold], cold)
    assert drop.ok is False and drop.data["p_value"] < 0.05
    assert hygiene.no_ttft_drop([1.0, 2.0], cold).ok is None


def test_key_not_echoed_reads_where_the_client_found_a_key() -> None:
    echoed = rec({"choices": []}, 200, headers={"x-debug-key": REDACTED},
                 secrets_echoed=["header x-debug-key"])
    assert hygiene.key_not_echoed([echoed], [], redacted=True)[0].ok is False
    assert hygiene.key_not_echoed([echoed], [])[0].ok  # without redacted=True: not seen
    body = rec({"error": {"message": f"bad key {REDACTED}"}}, 401, secrets_echoed=["body"])
    assert hygiene.key_not_echoed([body], [], redacted=True)[0].ok is False
    # the marker alone is what a model may write: no echo
    said = rec({"choices": [{"message": {"content": f"it said {REDACTED}"}}]}, 200)
    assert hygiene.key_not_echoed([said], [], redacted=True)[0].ok


def test_stop_expected() -> None:
    doc = rec({}, 200, text="alpha beta", finish_reason="length")
    assert protocol.stop_honoured(doc, "gamma").ok
    assert protocol.stop_honoured(doc, "gamma", expect_stop=True).ok is False
    stopped = rec({}, 200, text="alpha beta", finish_reason="stop")
    assert protocol.stop_honoured(stopped, "gamma", expect_stop=True).ok
    assert protocol.stop_honoured(rec({}, 200, text="a gamma b", finish_reason="stop"),
                                  "gamma").ok is False
    assert protocol.stop_honoured(rec(ERR, 500), "gamma").ok is False
