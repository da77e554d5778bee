"""SEC-001..007: security checks. SEC-003 and SEC-006 scan every response body and header
seen during a run; the others judge what one probe (or one burst of probes) saw."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.checks.findings import Observation, failed, passed, undecided
from conformance.plan.probes import allowance
from conformance.run.records import RequestRecord

# Patterns of internal detail that must never reach a client.
_LEAKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("stack frame", re.compile(r'File "[^"]+", line \d+')),
    ("java/js stack frame", re.compile(r"\bat [\w$.]+\([\w$]+\.(?:java|js|ts|kt):\d+\)")),
    ("go panic", re.compile(r"goroutine \d+ \[running\]|panic: ")),
    ("exception class", re.compile(r"\b\w+(?:Error|Exception): .*\n\s+at ")),
    ("unix path", re.compile(r"(?<![\w/])/(?:home|usr|var|opt|srv|root|etc|app|tmp)/[\w./-]+")),
    ("windows path", re.compile(r"\b[A-Z]:\\\\?(?:[\w .-]+\\\\?)+")),
    ("private address", re.compile(
        r"\b(?:10\.\d{1,3}|172\.(?:1[6-9]|2\d|3[01])|192\.168)\.\d{1,3}\.\d{1,3}\b")),
    ("internal hostname", re.compile(r"\b[\w-]+\.(?:internal|local|svc\.cluster\.local)\b")),
    ("secret-looking token", re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}")),
)


def leaks_in(text: str) -> list[str]:
    return [name for name, rx in _LEAKS if rx.search(text)]


def _surfaces(rec: RequestRecord) -> Iterable[tuple[str, str]]:
    for k, v in rec.headers.items():
        yield f"header {k}", f"{k}: {v}"
    if rec.body is not None:
        yield "body", rec.body.decode("utf-8", "replace")
    for i, ev in enumerate(rec.events):
        yield f"event {i}", ev.data.decode("utf-8", "replace")


def error_hygiene(records: Iterable[RequestRecord]) -> list[Observation]:
    """SEC-003: no stack traces, paths, internal addresses or secrets in error answers.

    Only error responses (status >= 400) are scanned: a model may legitimately write a path
    in its generated text."""
    out = []
    for r in records:
        if r.status is None or r.status < 400:
            continue
        found = [f"{where}: {name}" for where, text in _surfaces(r) for name in leaks_in(text)]
        out.append(failed("errors_clean", "; ".join(found[:5]), evidence=(r.request_id,))
                   if found else passed("errors_clean", evidence=(r.request_id,)))
    return out


def key_not_echoed(records: Iterable[RequestRecord], secrets: Iterable[str], *,
                   redacted: bool = False) -> list[Observation]:
    """SEC-006: no response body or header contains an API key (nor a long piece of one).

    The client redacts the declared keys as it records and notes where it found one
    (``secrets_echoed``): with ``redacted=True`` those places count as echoes. The redaction
    marker itself is never read as an echo: a model may write ``[REDACTED]`` itself."""
    probes = []
    for s in secrets:
        if len(s) >= 8:
            probes.append(s)
            probes.extend(s[i:i + 16] for i in range(0, max(1, len(s) - 16), 8))

    out = []
    for r in records:
        hits = [where for where, text in _surfaces(r) if any(p in text for p in probes)]
        if redacted:
            hits.extend(w for w in r.secrets_echoed if w not in hits)
        out.append(failed("key_not_echoed", f"API key echoed in {', '.join(hits[:3])}",
                          evidence=(r.request_id,))
                   if hits else passed("key_not_echoed", evidence=(r.request_id,)))
    return out


# -- SEC-001, SEC-002, SEC-004, SEC-005, SEC-007 ----------------------------------------------

def _json(rec: RequestRecord) -> Any:
    if rec.body is None:
        return None
    try:
        return json.loads(rec.body)
    except (ValueError, UnicodeDecodeError):
        return None


def auth_refused(rec: RequestRecord, what: str) -> Observation:
    """SEC-001: a request with a missing, malformed or wrong key gets 401/403 and no data
    (no ``choices``, no model list, no stream)."""
    m, ev = "auth_enforced", (rec.request_id,)
    if rec.status is None:
        return failed(m, f"{what}: no answer ({rec.error}); expected 401/403", evidence=ev)
    if rec.status not in (401, 403):
        return failed(m, f"{what}: status {rec.status}, expected 401 or 403", evidence=ev)
    doc = _json(rec)
    if rec.events:
        return failed(m, f"{what}: refused with {rec.status} but streamed events", evidence=ev)
    if isinstance(doc, dict) and (doc.get("choices") or doc.get("data")):
        return failed(m, f"{what}: refused with {rec.status} but the body carries data",
                      evidence=ev)
    return passed(m, f"{what}: {rec.status}", evidence=ev)


@dataclass(frozen=True)
class TransportFacts:
    """What the SEC-002 probes saw. ``chain_error``: why a handshake verified against the
    declared trust bundle failed (None: it verified). ``old_tls_accepted``: whether a
    handshake capped at TLS 1.1 succeeded (None: not tried or the client cannot offer it).
    ``plain_status``/``plain_location``: the answer to plain http on the same host (None:
    no HTTP answer — refused, reset or timed out, described by ``plain_error``)."""

    scheme: str
    tls_version: str | None = None
    chain_error: str | None = None
    old_tls_accepted: bool | None = None
    plain_status: int | None = None
    plain_location: str | None = None
    plain_error: str | None = None


_TLS_OK = ("TLSv1.2", "TLSv1.3")
# Answers to plain http that refuse it: a redirect to https, or a refusal naming the
# problem (nginx answers 400 "plain HTTP request was sent to HTTPS port"; 426 Upgrade).
_PLAIN_REFUSALS = (400, 403, 421, 426)


def transport_secure(f: TransportFacts) -> Observation:
    """SEC-002: https, TLS >= 1.2, a chain valid to the declared bundle, plain http refused
    or redirected to https."""
    m = "transport_secure"
    if f.scheme != "https":
        return failed(m, f"the endpoint is {f.scheme}://, not https: prompts and keys travel "
                      "in clear (a run over plain http is a self-assessment only)")
    problems = []
    if f.chain_error is not None:
        problems.append(f"certificate chain not valid for the declared trust bundle: "
                        f"{f.chain_error}")
    elif f.tls_version not in _TLS_OK:
        problems.append(f"negotiated {f.tls_version or 'no TLS version'}, expected TLS >= 1.2")
    if f.old_tls_accepted:
        problems.append("a handshake capped at TLS 1.1 was accepted")
    if f.plain_status is not None:
        if 300 <= f.plain_status < 400:
            if not (f.plain_location or "").lower().startswith("https://"):
                problems.append(f"plain http redirected ({f.plain_status}) to "
                                f"{f.plain_location!r}, not to https")
        elif f.plain_status not in _PLAIN_REFUSALS:
            problems.append(f"plain http is served (status {f.plain_status})")
    if problems:
        return failed(m, "; ".join(problems))
    plain = (f"plain http answered {f.plain_status}" if f.plain_status is not None
             else f"plain http refused ({f.plain_error or 'no answer'})")
    return passed(m, f"{f.tls_version}, chain valid, {plain}")


def bad_input_handled(rec: RequestRecord, case: str, accept: Sequence[str] = ("4xx",)
                      ) -> Observation:
    """SEC-004: one malformed/abusive request got an accepted status class (``4xx`` unless
    the corpus allows more), in time; a 5xx, a hang or a dropped connection fails."""
    m, ev = "bad_input_handled", (rec.request_id,)
    if rec.status is None:
        what = "hung past the timeout" if rec.error == "timeout" else "no answer"
        return failed(m, f"{case}: {what} ({rec.error}: {(rec.error_detail or '')[:120]})",
                      evidence=ev)
    cls = f"{rec.status // 100}xx"
    if cls not in accept:
        return failed(m, f"{case}: status {rec.status}, expected {'/'.join(accept)}",
                      evidence=ev)
    if rec.error is not None and rec.status >= 400 and rec.error not in ("garbage",):
        return failed(m, f"{case}: {rec.status} then {rec.error} "
                      f"({(rec.error_detail or '')[:120]})", evidence=ev)
    return passed(m, f"{case}: {rec.status}", evidence=ev)


def healthy_after(rec: RequestRecord) -> Observation:
    """SEC-004: after the corpus, a normal request is answered normally."""
    m, ev = "bad_input_handled", (rec.request_id,)
    if rec.ok and rec.status is not None and 200 <= rec.status < 300:
        return passed(m, "normal request answered after the corpus", evidence=ev)
    return failed(m, f"after the corpus a normal request got status {rec.status} "
                  f"({rec.error})", evidence=ev)


def rate_limited(statuses: Sequence[int | None], declared_rpm: int, elapsed_s: float,
                 evidence: Sequence[str] = (), *, declared_tpm: int | None = None,
                 prompt_tokens: Sequence[int] = (), tolerance: float = 1.0) -> Observation:
    """SEC-005: requests one key sent as fast as the service answered, over ``elapsed_s``
    (first send to last answer, the client's monotonic clock). ``statuses`` in send order
    (None: no answer), ``prompt_tokens`` the auditor's own count of each request's prompt.

    The service saw every answered request within a span no longer than ``elapsed_s``, so
    :func:`allowance` over ``elapsed_s`` bounds what an honest limiter admits: more admitted
    (2xx) than that, in requests or prompt tokens, fails whatever 429s came; a 5xx fails.
    More *answered* than the allowance, with the excess refused by 429, passes. Fewer
    answered than the allowance proves nothing either way: ``rate_not_reached``, never a
    pass."""
    m, ev = "rate_limited", tuple(evidence)
    toks = list(prompt_tokens) + [0] * (len(statuses) - len(prompt_tokens))
    answered = [i for i, s in enumerate(statuses) if s is not None]
    admitted = [i for i in answered if 200 <= (statuses[i] or 0) < 300]
    n429 = sum(1 for s in statuses if s == 429)
    n5xx = sum(1 for s in statuses if s is not None and s >= 500)
    other = sorted({s for s in statuses if s is not None and 300 <= s < 500 and s != 429})
    el = max(elapsed_s, 0.0)
    allowed = allowance(declared_rpm, el, tolerance)
    allowed_tok = allowance(declared_tpm, el, tolerance) if declared_tpm else None
    adm_tok = sum(toks[i] for i in admitted)
    off_tok = sum(toks[i] for i in answered)
    data = {"sent": len(statuses), "answered": len(answered), "admitted": len(admitted),
            "admitted_prompt_tokens": adm_tok, "answered_prompt_tokens": off_tok,
            "status_429": n429, "status_5xx": n5xx, "other_refusals": other,
            "elapsed_s": round(el, 3), "tolerance": tolerance,
            "allowed_requests": round(allowed, 1), "declared_rpm": declared_rpm,
            "allowed_tokens": round(allowed_tok, 1) if allowed_tok else None,
            "declared_tpm": declared_tpm,
            "offered_rps": round(len(answered) / el, 2) if el > 0 else None}
    if n5xx:
        return failed(m, f"{n5xx} of {len(statuses)} requests got 5xx while exceeding the "
                      "limit (expected 429)", evidence=ev, data=data)
    over = []
    if len(admitted) > allowed:
        over.append(f"{len(admitted)} requests (the declared {declared_rpm}/min allows "
                    f"{allowed:.0f} in {el:.1f} s, tolerance included)")
    if allowed_tok is not None and adm_tok > allowed_tok:
        over.append(f"{adm_tok} prompt tokens (the declared {declared_tpm}/min allows "
                    f"{allowed_tok:.0f} in {el:.1f} s, tolerance included)")
    if over:
        return failed(m, f"admitted {' and '.join(over)} with one key"
                      + (f", although {n429} requests got 429" if n429 else ", and no 429"),
                      evidence=ev, data=data)
    reached = len(answered) > allowed or (allowed_tok is not None and off_tok > allowed_tok)
    if not reached:
        return undecided(m, "rate_not_reached",
                         f"the client offered {len(answered)} requests and {off_tok} prompt "
                         f"tokens in {el:.1f} s, within what the declared limits allow "
                         f"({allowed:.0f} requests, {allowed_tok or 0:.0f} tokens): the "
                         "probe did not reach the declared rate", evidence=ev, data=data)
    if not n429:
        return failed(m, f"the excess over the declared limits was refused with "
                      f"{other or 'no status'}, not 429", evidence=ev, data=data)
    return passed(m, f"admitted {len(admitted)} of {len(answered)} requests in {el:.1f} s "
                  f"(allowance {allowed:.0f} requests, {allowed_tok or 0:.0f} tokens); "
                  f"{n429} refused with 429", evidence=ev, data=data)


def cached_tokens(rec: RequestRecord) -> int | None:
    u = rec.usage or {}
    d = u.get("prompt_tokens_details")
    v = d.get("cached_tokens") if isinstance(d, dict) else None
    return v if isinstance(v, int) else None


def no_cross_tenant_hit(rec: RequestRecord) -> Observation:
    """SEC-007: key B's request for a prefix key A primed reports no cached tokens."""
    m, ev = "cache_isolated", (rec.request_id,)
    if not rec.ok:
        return failed(m, f"key B's probe failed (status {rec.status}, {rec.error})",
                      evidence=ev)
    c = cached_tokens(rec)
    if c:
        return failed(m, f"key B got {c} cached tokens on a prefix only key A sent",
                      evidence=ev)
    return passed(m, "no cached tokens for key B", evidence=ev)


def no_ttft_drop(primed_ms: Sequence[float], cold_ms: Sequence[float], alpha: float = 0.05,
                 evidence: Sequence[str] = ()) -> Observation:
    """SEC-007: key B's TTFT on prefixes key A primed is not significantly lower than on
    fresh prefixes (Mann-Whitney U, one-sided, ``alpha``)."""
    from scipy.stats import mannwhitneyu

    m, ev = "cache_isolated", tuple(evidence)
    if len(primed_ms) < 3 or len(cold_ms) < 3:
        return undecided(m, "insufficient_samples",
                         f"{len(primed_ms)} primed and {len(cold_ms)} cold TTFTs (need 3 each)",
                         evidence=ev)
    p = float(mannwhitneyu(list(primed_ms), list(cold_ms), alternative="less").pvalue)
    med_p, med_c = _median(primed_ms), _median(cold_ms)
    data = {"p_value": p, "primed_median_ms": med_p, "cold_median_ms": med_c}
    if p < alpha:
        return failed(m, f"key B is faster on key A's prefixes: median TTFT {med_p:.1f} ms vs "
                      f"{med_c:.1f} ms cold (Mann-Whitney p={p:.3f} < {alpha})",
                      evidence=ev, data=data)
    return passed(m, f"no significant TTFT drop (p={p:.3f}; medians {med_p:.1f} vs "
                  f"{med_c:.1f} ms)", evidence=ev, data=data)


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
