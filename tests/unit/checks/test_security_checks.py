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


def test_rate_limited() -> None:
    ok = hygiene.rate_limited([200] * 130 + [429], 120, 5.0)
    assert ok.ok and ok.data["status_429"] == 1
    # 200 answered in 6 s against 120/min (admits 132): exceeded without a 429
    never = hygiene.rate_limited([200] * 200, 120, 6.0)
    assert never.ok is False and "no 429" in never.detail
    # too few sent to exceed: cannot decide
    few = hygiene.rate_limited([200] * 100, 120, 6.0)
    assert few.ok is None and few.reason == "insufficient_samples"
    assert hygiene.rate_limited([200] * 50 + [503], 120, 1.0).ok is False
    # the token limit: 20 requests x 12000 prompt tokens > 200000/min + refill over 3 s
    tok = hygiene.rate_limited([200] * 20, 1200, 3.0, declared_tpm=200_000,
                               prompt_tokens=[12000] * 20)
    assert tok.ok is False and "prompt tokens" in tok.detail
    assert hygiene.rate_limited([200] * 20, 1200, 3.0, declared_tpm=300_000,
                                prompt_tokens=[12000] * 20).ok is None


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


def test_key_not_echoed_sees_the_redaction_marker() -> None:
    echoed = rec({"choices": []}, 200, headers={"x-debug-key": REDACTED})
    assert hygiene.key_not_echoed([echoed], [], redacted=True)[0].ok is False
    assert hygiene.key_not_echoed([echoed], [])[0].ok  # without redacted=True: not seen
    cookie = rec({"choices": []}, 200, headers={"set-cookie": REDACTED})
    assert hygiene.key_not_echoed([cookie], [], redacted=True)[0].ok  # redacted by name
    body = rec({"error": {"message": f"bad key {REDACTED}"}}, 401)
    assert hygiene.key_not_echoed([body], [], redacted=True)[0].ok is False


def test_stop_expected() -> None:
    doc = rec({}, 200, text="alpha beta", finish_reason="length")
    assert protocol.stop_honoured(doc, "gamma").ok
    assert protocol.stop_honoured(doc, "gamma", expect_stop=True).ok is False
    stopped = rec({}, 200, text="alpha beta", finish_reason="stop")
    assert protocol.stop_honoured(stopped, "gamma", expect_stop=True).ok
    assert protocol.stop_honoured(rec({}, 200, text="a gamma b", finish_reason="stop"),
                                  "gamma").ok is False
    assert protocol.stop_honoured(rec(ERR, 500), "gamma").ok is False
