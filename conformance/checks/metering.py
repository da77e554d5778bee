"""METER-001..008: token metering checks.

Reference counts come from the declared tokenizer over the declared chat template; nothing
is calibrated, so a constant offset (a hidden system prompt) shows up as an error.
Delivered completion tokens are the auditor's own count (``conformance.checks.audit``):
byte-exact logprobs of the declared vocabulary, one-token-per-chunk streaming, the cut of
``max_tokens``, else re-tokenisation only as a bound — a mismatch re-tokenisation alone
cannot settle is undecided, never a failure; evidence that contradicts the text is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.checks.audit import AuditedCount
from conformance.checks.audit import requested_cap as requested_cap
from conformance.checks.findings import Observation, failed, passed, undecided
from conformance.run.records import RequestRecord
from conformance.spec.models import Requirement


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


def completion_count(rec: RequestRecord, a: AuditedCount) -> Observation:
    """METER-003: completion_tokens against the auditor's count of what was delivered
    (:func:`conformance.checks.audit.audit_completion`)."""
    m = "completion_exact"
    reported = a.reported
    data = {"field": "completion_tokens", **a.to_json()}
    if reported is None:
        return failed(m, "usage.completion_tokens missing", evidence=_ev(rec), data=data)
    if a.problems:
        return failed(m, "the response's own evidence contradicts the delivered text: "
                      + "; ".join(a.problems), evidence=_ev(rec), data=data)
    if a.cut_at is not None and reported != a.cut_at:
        return failed(m, f"cut by max_tokens {a.cut_at} (finish_reason length) but reports "
                      f"{reported} completion tokens", evidence=_ev(rec), data=data)
    hidden = a.hidden_reasoning
    claim = reported - hidden  # the part the delivered text must account for
    shown = f"reported {reported}" + (f" ({hidden} hidden reasoning, unauditable)"
                                      if hidden else "")
    if a.exact is not None:
        ok = claim in (a.exact, a.exact - a.eos)
        return Observation(m, ok, detail=f"{shown}, delivered {a.exact} ({a.basis})",
                           evidence=_ev(rec), data=data)
    if claim > a.upper or claim < a.lower - a.eos:
        return failed(m, f"{shown} for {len((rec.text or '').encode())} bytes of text: "
                      f"impossible (bounds {a.lower}..{a.upper})", evidence=_ev(rec),
                      data=data)
    if claim in (a.retokenized, a.retokenized + a.eos):
        return passed(m, f"{shown} = re-tokenised count", evidence=_ev(rec), data=data)
    return undecided(m, "unsettled_by_retokenization",
                     f"{shown}, re-tokenised {a.retokenized}: a model may emit non-canonical "
                     "token sequences; declare logprobs or one-token-per-chunk streaming, or "
                     "cut answers by max_tokens, to settle it", evidence=_ev(rec), data=data)


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
    """METER-004: usage of a streamed and a non-streamed twin request agree — prompt_tokens
    on every pair; completion and total tokens where the two texts are identical (a batched
    service need not be bitwise deterministic, and the prompt does not depend on it)."""
    m = "stream_usage_equal"
    ev = (streamed.request_id, plain.request_id)
    if not (streamed.ok and plain.ok):
        return failed(m, f"twin request failed ({streamed.status}/{plain.status})", evidence=ev)
    same_text = (streamed.text or "") == (plain.text or "")
    keys = ("prompt_tokens", "completion_tokens", "total_tokens") if same_text \
        else ("prompt_tokens",)
    a = {k: _int(streamed.usage, k) for k in keys}
    b = {k: _int(plain.usage, k) for k in keys}
    data = {"texts_identical": same_text, "compared": list(keys)}
    if a != b:
        return failed(m, f"stream usage {a} != non-stream usage {b}", evidence=ev, data=data)
    return passed(m, "" if same_text else "texts differ: prompt_tokens compared only",
                  evidence=ev, data=data)


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


def completion_reference(a: AuditedCount) -> int | None:
    """METER-002's reference completion count: the auditor's settled count (plus reasoning
    the service reports but never shows, which cannot be audited and is taken as reported);
    the re-tokenised count only where it settles the report (equal to it). ``None`` when
    neither settles it, or when the evidence contradicts the text: no bias sample."""
    if a.problems or a.reported is None:
        return None
    hidden = a.hidden_reasoning
    if a.exact is not None:
        return a.exact + hidden
    if a.reported - hidden in (a.retokenized, a.retokenized + a.eos):
        return a.reported
    return None


def _body(rec: RequestRecord) -> dict[str, Any]:
    body = (rec.request or {}).get("json")
    return body if isinstance(body, dict) else {}


# each dialect's generation path and the body field that holds the conversation
CHAT_PATHS = {"chat/completions": "messages", "messages": "messages", "responses": "input"}


def is_chat(rec: RequestRecord) -> bool:
    """A generation request in any dialect (chat completions, Anthropic messages, Responses),
    not ``GET /models`` or a raw malformed body."""
    req = rec.request or {}
    path = str(req.get("path", "")).rstrip("/")
    field = next((f for p, f in CHAT_PATHS.items() if path == p or path.endswith("/" + p)),
                 None)
    return (str(req.get("method", "POST")).upper() == "POST" and field is not None
            and field in _body(rec))


def usage_expected(rec: RequestRecord) -> bool:
    """METER-005 / BILL-002 scope: a successful, complete chat completion that must carry
    usage — every non-streamed one, and a streamed one that asked for usage
    (``stream_options.include_usage``). A stream that did not ask is not expected to."""
    if not (rec.ok and is_chat(rec)) or rec.finish_reason is None:
        return False
    body = _body(rec)
    if not body.get("stream"):
        return True
    if not str((rec.request or {}).get("path", "")).endswith("chat/completions"):
        return True  # Anthropic and Responses streams always end with usage
    opts = body.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


def metered(rec: RequestRecord, *fields: str) -> bool:
    """A successful response whose usage carries ``fields`` as integers: what a count check
    can judge. Failed requests are STAB's concern and missing usage METER-005's; a count
    check skips them (and says which) rather than count them as miscounts."""
    return rec.ok and all(_int(rec.usage, f) is not None
                          for f in (fields or ("prompt_tokens",)))


@dataclass(frozen=True)
class ProbePolicy:
    """How audit probes are retried and how many may stay unanswered (catalog
    ``parameters``: ``probe_retries``, ``probe_retry_wait_max_s``, ``max_unanswered_share``)."""

    retries: int = 2
    retry_wait_max_s: float = 30.0
    max_unanswered_share: float = 0.05

    @classmethod
    def of(cls, req: Requirement) -> ProbePolicy:
        return cls(int(req.param("probe_retries")), req.param("probe_retry_wait_max_s"),
                   req.param("max_unanswered_share"))


def unanswered(metric: str, records: Sequence[RequestRecord], planned: int,
               policy: ProbePolicy, *fields: str) -> tuple[list[Observation], list[str]]:
    """Audit probes still refused, failed or without the usage ``fields`` after the retries
    (instrument failures aside: they say nothing about the service).

    Returns (observations to add, ids left out). Up to the catalog's share they are left
    out and listed; beyond it every one is a failed observation of ``metric``: a service
    cannot pass an audit by refusing the probes that would expose it."""
    bad = [r for r in records if not r.instrument_failed and not metered(r, *fields)]
    ids = [r.request_id for r in bad]
    if not bad or len(bad) <= policy.max_unanswered_share * max(planned, 1):
        return [], ids
    share = f"{len(bad)} of {planned} audit probes unanswered after {policy.retries + 1} tries"
    return [failed(metric, f"{share} (allowed {policy.max_unanswered_share:.0%}): "
                   f"{r.request_id} ended {r.status or r.error}"
                   + (" without usage" if r.ok else ""),
                   reason="unanswered_probe", evidence=_ev(r),
                   data={"status": r.status, "error": r.error}) for r in bad], []
