from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from conformance.checks import billing, hygiene, metering, protocol
from conformance.declaration.models import Pricing
from conformance.run.records import ChunkEvent, RequestRecord

PRICING = Pricing("USD", "per_1m_tokens", Decimal("0.50"), Decimal("1.50"), Decimal("0.05"))


def completion(**over: Any) -> dict[str, Any]:
    doc = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}
    doc.update(over)
    return doc


def rec(body: Any = None, status: int = 200, **kw: Any) -> RequestRecord:
    raw = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    return RequestRecord(request_id=kw.pop("rid", "p-1"), phase="protocol", seq=0,
                         status=status, body=raw, **kw)


def stream(chunks: list[dict[str, Any]], done: bool = True, ctype: str = "text/event-stream",
           **kw: Any) -> RequestRecord:
    events = [ChunkEvent(i, json.dumps(c).encode()) for i, c in enumerate(chunks)]
    if done:
        events.append(ChunkEvent(99, b"[DONE]"))
    return RequestRecord(request_id="s-1", phase="protocol", seq=0, status=200,
                         headers={"content-type": ctype}, events=events, done_seen=done, **kw)


def chunk(content: str | None = "x", finish: str | None = None, usage: Any = None,
          choices: bool = True) -> dict[str, Any]:
    c: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": content},
                                      "finish_reason": finish}] if choices else []}
    if usage is not None:
        c["usage"] = usage
    return c


def test_api001_schema() -> None:
    assert protocol.completion_schema(rec(completion())).ok
    bad = completion()
    del bad["usage"]
    o = protocol.completion_schema(rec(bad))
    assert o.ok is False and "usage" in o.detail
    assert protocol.completion_schema(rec(b"not json")).ok is False


def test_api002_stream() -> None:
    good = [chunk("a"), chunk("b", "stop")]
    assert protocol.stream_conformance(stream(good)).ok
    assert protocol.stream_conformance(stream(good, done=False)).ok is False
    assert protocol.stream_conformance(stream([chunk("a"), chunk("b")])).ok is False
    o = protocol.stream_conformance(stream(good, ctype="application/json"))
    assert o.ok is False and "content-type" in o.detail


def test_api003_usage_chunk() -> None:
    u = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert protocol.usage_chunk(stream([chunk("a", "stop"), chunk(usage=u, choices=False)])).ok
    assert not protocol.usage_chunk(stream([chunk("a", "stop", usage=u)])).ok
    assert not protocol.usage_chunk(stream([chunk("a", "stop")])).ok


def test_api004_max_tokens() -> None:
    r = rec(completion(), usage={"completion_tokens": 5}, finish_reason="length")
    assert protocol.max_tokens_honoured(r, 5).ok
    r = rec(completion(), usage={"completion_tokens": 7}, finish_reason="length")
    assert protocol.max_tokens_honoured(r, 5).ok is False


def test_api004_without_usage_judges_only_what_chunks_prove() -> None:
    few = RequestRecord(request_id="p-2", phase="protocol", seq=0, status=200, stream=True,
                        content_chunks=[(i, "ab", 1) for i in range(3)], finish_reason="length")
    o = protocol.max_tokens_honoured(few, 5)
    assert (o.ok, o.reason) == (None, "no_usage")
    many = RequestRecord(request_id="p-3", phase="protocol", seq=0, status=200, stream=True,
                         content_chunks=[(i, "ab", 1) for i in range(9)],
                         finish_reason="length")
    assert protocol.max_tokens_honoured(many, 5).ok is False


def test_api006_and_008() -> None:
    err = {"error": {"message": "maximum context length is 4096 tokens", "type": "invalid",
                     "code": "context_length_exceeded"}}
    assert protocol.client_error(rec(err, status=400), "x").ok
    assert protocol.client_error(rec(err, status=500), "x").ok is False
    assert protocol.client_error(rec({"detail": "x"}, status=422), "x").ok is False
    assert protocol.overlong_rejected(rec(err, status=400), 4096).ok
    assert protocol.overlong_rejected(rec(completion()), 4096).ok is False


def test_api009_and_010() -> None:
    a = rec(completion(), rid="a", response_id="x1")
    b = rec(completion(), rid="b", response_id="x1")
    c = rec(completion(), rid="c", response_id="x2")
    obs = protocol.request_ids_unique([a, b, c])
    assert [o.ok for o in obs] == [False, False, True]
    assert protocol.model_matches(rec(model="m-alias"), "m", {"m": ["m-alias"]}).ok
    assert protocol.model_matches(rec(model="other"), "m", {"m": []}).ok is False


def test_meter001_hidden_system_prompt_is_not_calibrated_away() -> None:
    obs = metering.prompt_count(rec(usage={"prompt_tokens": 112}), reference=100, lang="en")
    assert obs[0].ok is False and obs[1].value == 0.12
    assert metering.prompt_count(rec(usage={"prompt_tokens": 100}), 100)[0].ok


def test_meter003_evidence_hierarchy() -> None:
    from conformance.checks.audit import audit_completion

    def count(text: str) -> int:
        return len(text.split())

    r = stream([chunk("a")], usage={"completion_tokens": 3}, text="one two three",
               content_chunks=[(1, "one", 1), (2, " two", 1), (3, " three", 1)],
               finish_reason="stop")
    a = audit_completion(r, count, None, one_token_per_chunk=True)
    assert a.basis.startswith("one token per chunk") and metering.completion_count(r, a).ok
    r.usage = {"completion_tokens": 4}
    a = audit_completion(r, count, None, one_token_per_chunk=True)
    assert metering.completion_count(r, a).ok is False
    # re-tokenisation only: a plausible mismatch is undecided, an impossible one fails
    a = audit_completion(r, count, None)
    o = metering.completion_count(r, a)
    assert o.ok is None and o.reason == "unsettled_by_retokenization"
    r.usage = {"completion_tokens": 500}
    assert metering.completion_count(r, audit_completion(r, count, None)).ok is False


def test_meter004_prompt_tokens_on_every_twin_completion_where_texts_match() -> None:
    u = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    a = rec(usage=u, text="same")
    b = rec(usage=u, text="same")
    assert metering.stream_usage_equal(a, b).ok
    b2 = rec(usage={**u, "completion_tokens": 4, "total_tokens": 9}, text="same")
    assert metering.stream_usage_equal(a, b2).ok is False
    # texts differ (a batched service): prompt_tokens still judged, completion not
    c = rec(usage={**u, "completion_tokens": 4, "total_tokens": 9}, text="different")
    o = metering.stream_usage_equal(a, c)
    assert o.ok is True and o.data["compared"] == ["prompt_tokens"]
    d = rec(usage={**u, "prompt_tokens": 6, "total_tokens": 9}, text="different")
    assert metering.stream_usage_equal(a, d).ok is False


def test_meter005_006() -> None:
    good = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 2}}
    assert metering.usage_consistent(rec(usage=good)).ok
    assert not metering.usage_consistent(rec(usage={**good, "total_tokens": 9})).ok
    assert not metering.usage_consistent(rec(usage={**good, "prompt_tokens_details":
                                                    {"cached_tokens": 6}})).ok
    assert not metering.usage_consistent(rec(usage=None)).ok
    assert metering.within_cap(rec(usage=good), 3).ok
    assert metering.within_cap(rec(usage=good), 2).ok is False


def test_billing_exact_decimal_and_reconcile() -> None:
    u = {"prompt_tokens": 1000, "completion_tokens": 2000, "total_tokens": 3000,
         "prompt_tokens_details": {"cached_tokens": 400}}
    # 600*0.50 + 400*0.05 + 2000*1.50 = 300 + 20 + 3000 = 3320 per 1M
    assert billing.cost(u, PRICING) == Decimal("0.00332")
    ok = rec(usage=u, response_id="r1")
    five = rec(status=503, rid="p-2", response_id="r2")
    rows = [{"request_id": "r1", "completion_tokens": 2000, "charge": "0.00332"},
            {"request_id": "r2", "charge": "0.001"}]
    obs = billing.reconcile([ok, five], rows, PRICING)
    assert [o.ok for o in obs] == [True, False]
    rows[0]["charge"] = "0.00340"
    assert billing.reconcile([ok], rows[:1], PRICING)[0].ok is False
    assert billing.reconcile([ok], rows[:1] * 2, PRICING)[0].ok is False  # billed twice
    costs = billing.workload_costs([("W-std", ok)], PRICING)
    assert costs[0].per_million_output == Decimal("1.66")


def test_sec003_and_sec006_scanners() -> None:
    leak = rec({"error": {"message": 'Traceback (most recent call last):\n  File "/app/x.py", '
                          "line 3"}}, status=500)
    obs = hygiene.error_hygiene([leak, rec(completion())])
    assert len(obs) == 1 and obs[0].ok is False and "traceback" in obs[0].detail
    clean = rec({"error": {"message": "bad request", "type": "x", "code": "y"}}, status=400)
    assert hygiene.error_hygiene([clean])[0].ok
    key = "sk-test-0123456789abcdefXYZ"
    echo = rec({"error": {"message": f"invalid key {key[:20]}"}}, status=401)
    assert hygiene.key_not_echoed([echo], [key])[0].ok is False
    assert hygiene.key_not_echoed([clean], [key])[0].ok
    assert "private address" in hygiene.leaks_in("upstream 10.1.2.3 refused")
