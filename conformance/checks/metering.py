"""METER-001..008: token metering checks.

Reference counts come from the declared tokenizer over the declared chat template; nothing
is calibrated, so a constant offset (a hidden system prompt) shows up as an error.
Delivered completion tokens use the strongest evidence the service offers (outline,
METER-003): per-token logprobs, then one-token-per-chunk streaming, then re-tokenisation only
as a bound — a mismatch re-tokenisation alone cannot settle is undecided, never a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.checks.findings import Observation, failed, passed, undecided
from conformance.run.records import RequestRecord


def _ev(rec: RequestRecord) -> tuple[str, ...]:
    return (rec.request_id,)


def _int(usage: dict[str, Any] | None, key: str) -> int | None:
    v = (usage or {}).get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def prompt_count(rec: RequestRecord, reference: int, lang: str = "") -> list[Observation]:
    """METER-001: ``prompt_exact`` trial and ``prompt_abs_rel_error`` sample."""
    reported = _int(rec.usage, "prompt_tokens")
    data = {"field": "prompt_tokens", "reported": reported, "reference": reference,
            "lang": lang}
    if reported is None:
        return [failed("prompt_exact", "usage.prompt_tokens missing", evidence=_ev(rec),
                       data=data)]
    rel = abs(reported - reference) / reference if reference else float(reported != 0)
    detail = f"reported {reported}, reference {reference} ({lang})"
    return [
        Observation("prompt_exact", reported == reference, detail=detail, evidence=_ev(rec),
                    data=data),
        Observation("prompt_abs_rel_error", value=rel, detail=detail, evidence=_ev(rec),
                    data=data),
    ]


@dataclass(frozen=True)
class DeliveredCount:
    """How many completion tokens were delivered, and how sure we are."""

    exact: int | None          # known exactly (logprobs / one token per chunk)
    retokenized: int | None    # canonical re-encoding of the text (a bound, not proof)
    text_bytes: int
    basis: str


def delivered_tokens(rec: RequestRecord, count_text: Callable[[str], int], *,
                     logprobs: bool, one_token_per_chunk: bool) -> DeliveredCount:
    text = rec.text or ""
    nbytes = len(text.encode("utf-8"))
    retok = count_text(text) if text else 0
    if logprobs and rec.logprob_tokens is not None:
        return DeliveredCount(rec.logprob_tokens, retok, nbytes, "logprobs")
    if one_token_per_chunk and rec.stream and rec.content_chunks:
        return DeliveredCount(len(rec.content_chunks), retok, nbytes, "one token per chunk")
    return DeliveredCount(None, retok, nbytes, "re-tokenisation (bound only)")


def completion_count(rec: RequestRecord, delivered: DeliveredCount, eos_counted: bool,
                     max_token_bytes: int = 64) -> Observation:
    """METER-003: completion_tokens against the tokens actually delivered."""
    m = "completion_exact"
    reported = _int(rec.usage, "completion_tokens")
    if reported is None:
        return failed(m, "usage.completion_tokens missing", evidence=_ev(rec))
    eos = 1 if eos_counted and rec.finish_reason == "stop" else 0
    data = {"field": "completion_tokens", "reported": reported, "basis": delivered.basis,
            "delivered": delivered.exact, "retokenized": delivered.retokenized}
    if delivered.exact is not None:
        ok = reported in (delivered.exact + eos, delivered.exact) if eos else \
            reported == delivered.exact
        return Observation(m, ok, detail=f"reported {reported}, delivered {delivered.exact} "
                           f"({delivered.basis})", evidence=_ev(rec), data=data)
    # Re-tokenisation is only a bound: each generated token decodes to >= 1 byte (byte-level
    # BPE) and to at most ``max_token_bytes`` bytes.
    upper = delivered.text_bytes + eos + 1
    lower = -(-delivered.text_bytes // max_token_bytes)
    if reported > upper or reported < lower:
        return failed(m, f"reported {reported} tokens for {delivered.text_bytes} bytes of text: "
                      f"impossible (bounds {lower}..{upper})", evidence=_ev(rec), data=data)
    if delivered.retokenized is not None and reported in (delivered.retokenized,
                                                         delivered.retokenized + eos):
        return passed(m, f"reported {reported} = re-tokenised count", evidence=_ev(rec),
                      data=data)
    return undecided(m, "unsettled_by_retokenization",
                     f"reported {reported}, re-tokenised {delivered.retokenized}: a model may "
                     "emit non-canonical token sequences; declare logprobs or "
                     "one-token-per-chunk streaming to settle it", evidence=_ev(rec), data=data)


def billing_bias(rec: RequestRecord, prompt_reference: int,
                 completion_reference: int | None) -> Observation | None:
    """METER-002 sample: signed relative error of prompt+completion against the reference.
    ``None`` when the delivered completion count is not known exactly."""
    p, c = _int(rec.usage, "prompt_tokens"), _int(rec.usage, "completion_tokens")
    if p is None or c is None or completion_reference is None:
        return None
    ref = prompt_reference + completion_reference
    return Observation("billing_bias", value=((p + c) - ref) / ref if ref else 0.0,
                       detail=f"billed {p + c}, reference {ref}", evidence=_ev(rec))


def stream_usage_equal(streamed: RequestRecord, plain: RequestRecord) -> Observation:
    """METER-004: usage of a streamed and a non-streamed twin request agree."""
    m = "stream_usage_equal"
    ev = (streamed.request_id, plain.request_id)
    if not (streamed.ok and plain.ok):
        return failed(m, f"twin request failed ({streamed.status}/{plain.status})", evidence=ev)
    if (streamed.text or "") != (plain.text or ""):
        return undecided(m, "nondeterministic",
                         "texts differ at temperature 0 with a seed: the service is not "
                         "deterministic, so usage cannot be compared", evidence=ev)
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    a = {k: _int(streamed.usage, k) for k in keys}
    b = {k: _int(plain.usage, k) for k in keys}
    if a != b:
        return failed(m, f"stream usage {a} != non-stream usage {b}", evidence=ev)
    return passed(m, evidence=ev)


def usage_consistent(rec: RequestRecord) -> Observation:
    """METER-005: usage present, non-negative integers, total = prompt + completion,
    cached <= prompt, reasoning <= completion."""
    m = "usage_consistent"
    u = rec.usage
    if not isinstance(u, dict):
        return failed(m, "no usage in a successful response", evidence=_ev(rec))
    p, c, t = (_int(u, k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if p is None or c is None or t is None or min(p, c, t) < 0:
        return failed(m, f"usage fields not non-negative integers: {u}", evidence=_ev(rec))
    if t != p + c:
        return failed(m, f"total {t} != prompt {p} + completion {c}", evidence=_ev(rec))
    cached = _int(u.get("prompt_tokens_details") or {}, "cached_tokens")
    if cached is not None and not 0 <= cached <= p:
        return failed(m, f"cached_tokens {cached} outside 0..prompt {p}", evidence=_ev(rec))
    reasoning = _int(u.get("completion_tokens_details") or {}, "reasoning_tokens")
    if reasoning is not None and not 0 <= reasoning <= c:
        return failed(m, f"reasoning_tokens {reasoning} outside 0..completion {c}",
                      evidence=_ev(rec))
    return passed(m, evidence=_ev(rec))


def within_cap(rec: RequestRecord, max_tokens: int) -> Observation:
    """METER-006: never billed beyond the cap."""
    c = _int(rec.usage, "completion_tokens")
    if c is None:
        return failed("within_cap", "usage.completion_tokens missing", evidence=_ev(rec))
    return Observation("within_cap", c <= max_tokens,
                       detail=f"completion_tokens {c}, max_tokens {max_tokens}",
                       evidence=_ev(rec))


def fingerprint(rec: RequestRecord, reference: int, case: str) -> Observation:
    """METER-007: adversarial prompt counts equal the declared tokenizer's exactly."""
    reported = _int(rec.usage, "prompt_tokens")
    ok = reported == reference
    return Observation("fingerprint_match", ok,
                       detail=f"{case}: reported {reported}, declared tokenizer {reference}",
                       evidence=_ev(rec), data={"case": case, "reported": reported,
                                                "reference": reference})


def caching(first: RequestRecord, repeat: RequestRecord, has_cached_price: bool) -> Observation:
    """METER-008: a repeated long prefix reports cached tokens, bounded by the prompt, and a
    cached-input price exists to bill them at."""
    m = "caching_ok"
    ev = (first.request_id, repeat.request_id)
    if not repeat.ok:
        return failed(m, f"repeat request failed ({repeat.status})", evidence=ev)
    u = repeat.usage or {}
    cached = _int(u.get("prompt_tokens_details") or {}, "cached_tokens")
    p = _int(u, "prompt_tokens")
    if not cached:
        return failed(m, "no cached tokens reported for a repeated prefix", evidence=ev)
    if p is None or cached > p:
        return failed(m, f"cached_tokens {cached} > prompt_tokens {p}", evidence=ev)
    if not has_cached_price:
        return failed(m, "cached tokens reported but no cached-input price declared",
                      evidence=ev)
    return passed(m, f"{cached} of {p} prompt tokens cached", evidence=ev)


def completion_reference(rec: RequestRecord, delivered: DeliveredCount,
                         eos_counted: bool) -> int | None:
    """METER-002's reference completion count: the delivered count where it is known exactly
    (plus the end-of-sequence token where the declaration says it is billed and generation
    stopped); the re-tokenised count only where it settles the report (equal to it). ``None``
    when the delivered count is not known: that response gives no bias sample."""
    eos = 1 if eos_counted and rec.finish_reason == "stop" else 0
    if delivered.exact is not None:
        return delivered.exact + eos
    reported = _int(rec.usage, "completion_tokens")
    if delivered.retokenized is not None and reported in (delivered.retokenized,
                                                         delivered.retokenized + eos):
        return reported
    return None


def _body(rec: RequestRecord) -> dict[str, Any]:
    body = (rec.request or {}).get("json")
    return body if isinstance(body, dict) else {}


def is_chat(rec: RequestRecord) -> bool:
    """A chat-completions request (not ``GET /models`` or a raw malformed body)."""
    req = rec.request or {}
    return (str(req.get("method", "POST")).upper() == "POST"
            and str(req.get("path", "")).rstrip("/").endswith("chat/completions")
            and "messages" in _body(rec))


def usage_expected(rec: RequestRecord) -> bool:
    """METER-005 / BILL-002 scope: a successful, complete chat completion that must carry
    usage — every non-streamed one, and a streamed one that asked for usage
    (``stream_options.include_usage``). A stream that did not ask is not expected to."""
    if not (rec.ok and is_chat(rec)) or rec.finish_reason is None:
        return False
    body = _body(rec)
    if not body.get("stream"):
        return True
    opts = body.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


def requested_cap(rec: RequestRecord) -> int | None:
    """The ``max_tokens`` (or ``max_completion_tokens``) the request set, if any."""
    body = _body(rec)
    for key in ("max_completion_tokens", "max_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def metered(rec: RequestRecord, *fields: str) -> bool:
    """A successful response whose usage carries ``fields`` as integers: what a count check
    can judge. Failed requests are STAB's concern and missing usage METER-005's; a count
    check skips them (and says which) rather than count them as miscounts."""
    return rec.ok and all(_int(rec.usage, f) is not None
                          for f in (fields or ("prompt_tokens",)))
