"""METER/BILL checks added for the conformance suites (run-wide scope, bias reference,
export matching, cost per workload, cached price)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from conformance.checks import billing, metering
from conformance.declaration.models import Pricing
from conformance.run.records import ChunkEvent, RequestRecord

PRICING = Pricing("USD", "per_1m_tokens", Decimal("0.50"), Decimal("1.50"), Decimal("0.05"))
U = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}


def chat(*, stream: bool = False, include_usage: bool = False, max_tokens: int | None = 8,
         status: int = 200, usage: Any = U, finish: str | None = "length", rid: str = "m-1",
         headers: dict[str, str] | None = None, body: Any = None, **kw: Any) -> RequestRecord:
    js: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if max_tokens is not None:
        js["max_tokens"] = max_tokens
    if stream:
        js["stream"] = True
        if include_usage:
            js["stream_options"] = {"include_usage": True}
    return RequestRecord(
        request_id=rid, phase="metering", seq=0, stream=stream, status=status,
        request={"method": "POST", "path": "chat/completions", "json": js},
        usage=usage, finish_reason=finish, headers=headers or {},
        body=json.dumps(body).encode() if body is not None else None, **kw)


def test_usage_expected_scope() -> None:
    assert metering.usage_expected(chat())
    assert metering.usage_expected(chat(stream=True, include_usage=True))
    assert not metering.usage_expected(chat(stream=True))          # did not ask for usage
    assert not metering.usage_expected(chat(status=503))           # not successful
    assert not metering.usage_expected(chat(finish=None))          # cut off, incomplete
    models = RequestRecord("g", "protocol", 0, status=200,
                           request={"method": "GET", "path": "models"})
    assert not metering.is_chat(models) and not metering.usage_expected(models)


def test_requested_cap() -> None:
    assert metering.requested_cap(chat(max_tokens=8)) == 8
    assert metering.requested_cap(chat(max_tokens=None)) is None
    r = chat(max_tokens=None)
    r.request["json"]["max_completion_tokens"] = 5
    assert metering.requested_cap(r) == 5


def test_completion_reference_uses_only_settled_counts() -> None:
    from conformance.checks.audit import AuditedCount

    def a(exact: int | None, retok: int, reported: int = 11, eos: int = 0,
          problems: tuple[str, ...] = ()) -> AuditedCount:
        return AuditedCount(reported, exact, 1, 41, retok, "x", eos, problems=problems)

    assert metering.completion_reference(a(10, 12)) == 10
    assert metering.completion_reference(a(11, 12, eos=1)) == 11  # EOS billed
    assert metering.completion_reference(a(None, 11)) == 11       # re-tokenised = reported
    assert metering.completion_reference(a(None, 9)) is None      # unsettled
    assert metering.completion_reference(a(10, 10, problems=("forged",))) is None


def test_one_token_bias_is_visible() -> None:
    """A 1-token hidden prompt on a 20-token prompt is +5%: never absorbed."""
    r = chat(usage={"prompt_tokens": 21, "completion_tokens": 8, "total_tokens": 29})
    o = metering.billing_bias(r, 20, 8)
    assert o is not None and o.value is not None and abs(o.value - 1 / 28) < 1e-12
    assert metering.prompt_count(r, 20, "zh")[0].ok is False


def test_seen_ids_header_body_and_stream() -> None:
    plain = chat(headers={"x-request-id": "req_a"}, body={"id": "chatcmpl-a"},
                 response_id="req_a")
    assert billing.seen_ids(plain) == ("req_a", "chatcmpl-a")
    s = chat(stream=True, headers={"x-request-id": "req_b"},
             events=[ChunkEvent(1, b'{"id": "chatcmpl-b", "choices": []}'),
                     ChunkEvent(2, b"[DONE]")])
    assert billing.seen_ids(s) == ("req_b", "chatcmpl-b")
    assert billing.seen_ids(chat()) == ()


def test_reconcile_matches_any_id_and_flags_5xx_and_double_billing() -> None:
    ok = chat(headers={"x-request-id": "req_a"}, body={"id": "chatcmpl-a"})
    five = chat(rid="m-2", status=503, usage=None, headers={"x-request-id": "req_f"})
    charge = str(billing.cost(U, PRICING))
    rows = [{"request_id": "chatcmpl-a", "x_request_id": "req_a", "completion_tokens": "10",
             "charge": charge},
            {"request_id": "chatcmpl-f", "x_request_id": "req_f", "completion_tokens": "0",
             "charge": "0.00005"}]
    obs = billing.reconcile([ok, five], rows, PRICING)
    assert [o.ok for o in obs] == [True, False]
    assert "503" in obs[1].detail
    assert [o.ok for o in billing.reconcile([ok], rows[:1] * 2, PRICING)] == [False]
    # only the x-request-id column: still found
    assert billing.reconcile([ok], [{"x_request_id": "req_a", "charge": charge}],
                             PRICING)[0].ok
    models = RequestRecord("g", "protocol", 0, status=200, headers={"x-request-id": "req_g"},
                           request={"method": "GET", "path": "models"})
    assert billing.reconcile([models], [], PRICING) == []


def test_costs_reported_per_workload() -> None:
    a = chat(rid="w-1")
    b = chat(rid="w-2", usage={**U, "completion_tokens": 30, "total_tokens": 130})
    obs = billing.costs_reported([("W-std", a), ("W-std", b)], PRICING)
    assert len(obs) == 1 and obs[0].ok
    d = obs[0].data
    # (100*0.5 + 10*1.5) + (100*0.5 + 30*1.5) = 65 + 95 = 160 per 1M → 0.00016 for 40 output
    assert Decimal(d["total"]) == Decimal("0.00016") and d["output_tokens"] == 40
    assert Decimal(d["per_1m_output_tokens"]) == Decimal("4")
    assert d["cost_per_request"] == {"w-1": "0.000065", "w-2": "0.000095"}
    missing = chat(rid="w-3", usage=None)
    obs = billing.costs_reported([("W-std", a), ("W-std", missing), ("metering", a)],
                                 PRICING)
    assert [(o.data["workload"], o.ok) for o in obs] == [("W-std", False), ("metering", True)]
    assert obs[0].evidence == ("w-3",)


def test_cached_price_applied() -> None:
    u = {"prompt_tokens": 1000, "completion_tokens": 4, "total_tokens": 1004,
         "prompt_tokens_details": {"cached_tokens": 960}}
    r = chat(usage=u, headers={"x-request-id": "req_c"})
    right = {"x_request_id": "req_c", "charge": str(billing.cost(u, PRICING))}
    assert billing.cached_price_applied(r, [right], PRICING).ok
    full = billing.cost({**u, "prompt_tokens_details": {}}, PRICING)
    o = billing.cached_price_applied(r, [{"x_request_id": "req_c", "charge": str(full)}],
                                     PRICING)
    assert o.ok is False and "full input price" in o.detail
    assert billing.cached_price_applied(r, [], PRICING).ok is False


def test_reconcile_charges_only_delivered_tokens() -> None:
    ok = chat(headers={"x-request-id": "req_a"})
    row = {"x_request_id": "req_a", "completion_tokens": "10",
           "charge": str(billing.cost(U, PRICING))}
    assert billing.reconcile([ok], [row], PRICING, delivered={"m-1": 10})[0].ok
    o = billing.reconcile([ok], [row], PRICING, delivered={"m-1": 8})[0]
    assert o.ok is False and "8 delivered" in o.detail


def test_cached_price_applied_on_every_row() -> None:
    u = {"prompt_tokens": 1000, "completion_tokens": 4, "total_tokens": 1004,
         "prompt_tokens_details": {"cached_tokens": 960}}
    r = chat(usage=u, headers={"x-request-id": "req_c"})
    right = {"x_request_id": "req_c", "charge": str(billing.cost(u, PRICING))}
    assert billing.cached_price_applied(r, [right, right], PRICING).ok  # BILL-003's concern


def test_metered_skips_failures_and_missing_usage() -> None:
    assert metering.metered(chat())
    assert not metering.metered(chat(status=503, usage=None))
    assert not metering.metered(chat(usage=None))
    assert not metering.metered(chat(usage={"prompt_tokens": 3}), "completion_tokens")
