"""The auditor's own count of the completion tokens a response delivered (METER-003).

The service's ``completion_tokens`` is a claim; this module counts what was delivered from
evidence the auditor can check itself, strongest first:

1. per-token logprob entries — only when their bytes concatenate byte-exactly to the
   delivered text and every entry is a token of the declared vocabulary (padding, empty or
   invented entries are *contradicting evidence*, a failure, not a count);
2. one-token-per-chunk streaming (where declared) — only when every chunk is a token of the
   declared vocabulary;
3. an answer cut by ``max_tokens`` (``finish_reason: length``) — exactly ``max_tokens``
   tokens by construction;
4. otherwise re-tokenisation with the declared tokenizer, as a bound only: each token
   decodes to at least one byte and at most the declared vocabulary's longest token.

Reasoning is kept apart: visible reasoning (``reasoning_content`` / ``reasoning`` deltas or
message fields) is text and is bounded like content; reasoning the service reports
(``completion_tokens_details.reasoning_tokens``) but never shows cannot be audited and is
carried as such (never a failure).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from conformance.run.records import RequestRecord
from conformance.run.tokenize.vocab import Vocabulary

REASONING_KEYS = ("reasoning_content", "reasoning")
_LOGPROBS = re.compile(rb'"logprobs"\s*:\s*\{')


def _int(d: Any, key: str) -> int | None:
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) else None


@dataclass(frozen=True)
class Delivery:
    """What the response delivered beside ``rec.text``: visible reasoning text and the
    logprob entries (bytes each; ``explicit``: every entry carried its ``bytes`` field)."""

    reasoning: str = ""
    logprobs: tuple[bytes, ...] | None = None
    explicit_bytes: bool = True
    content: str | None = None  # the content as sent, beside the logprobs (not redacted)


def _entries(lp: Any) -> list[tuple[bytes, bool]] | None:
    if not isinstance(lp, dict) or not isinstance(lp.get("content"), list):
        return None
    out: list[tuple[bytes, bool]] = []
    for e in lp["content"]:
        if not isinstance(e, dict):
            out.append((b"", True))
            continue
        raw = e.get("bytes")
        if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
            out.append((bytes(raw), True))
        else:
            tok = e.get("token")
            out.append(((tok if isinstance(tok, str) else "").encode("utf-8"), False))
    return out


def _reasoning(d: Any) -> str:
    if not isinstance(d, dict):
        return ""
    for k in REASONING_KEYS:
        v = d.get(k)
        if isinstance(v, str):
            return v
    return ""


def _docs(rec: RequestRecord, want_logprobs: bool) -> Iterable[dict[str, Any]]:
    """The response's JSON documents that may hold reasoning or logprobs (raw events are
    parsed only where they mention either: the hot fields are already decoded)."""
    if rec.body is not None:
        raw = [rec.body]
    elif want_logprobs and any(_LOGPROBS.search(e.data) for e in rec.events):
        raw = [e.data for e in rec.events]  # the content the entries must spell, too
    else:
        raw = [e.data for e in rec.events if b"reasoning" in e.data]
    for r in raw:
        try:
            doc = json.loads(r)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict):
            yield doc


def delivery(rec: RequestRecord, want_logprobs: bool = True) -> Delivery:
    reasoning: list[str] = []
    content: list[str] = []
    entries: list[tuple[bytes, bool]] | None = None
    for doc in _docs(rec, want_logprobs):
        choices = doc.get("choices")
        ch = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(ch, dict):
            continue
        part = ch.get("delta") if rec.body is None else ch.get("message")
        reasoning.append(_reasoning(part))
        c = part.get("content") if isinstance(part, dict) else None
        content.append(c if isinstance(c, str) else "")
        got = _entries(ch.get("logprobs")) if want_logprobs else None
        if got is not None:
            entries = (entries or []) + got
    # the dialect's decoder keeps visible reasoning apart (every dialect: thinking blocks,
    # Responses reasoning deltas); records from before it did are read from the raw JSON
    shown = rec.reasoning_text if rec.reasoning_text is not None else "".join(reasoning)
    if entries is None:
        return Delivery(shown)
    return Delivery(shown, tuple(b for b, _ in entries),
                    all(x for _, x in entries), "".join(content))


@dataclass(frozen=True)
class AuditedCount:
    """The auditor's count of one response's completion tokens beside the service's."""

    reported: int | None            # usage.completion_tokens (the service's claim)
    exact: int | None               # settled exactly by the auditor's own evidence
    lower: int                      # bounds of any honest count of the visible tokens
    upper: int
    retokenized: int                # canonical re-encoding of content + visible reasoning
    basis: str
    eos: int = 0                    # an end-of-sequence token the declaration says is billed
    cut_at: int | None = None       # max_tokens of an answer cut by it (finish_reason length)
    reasoning_reported: int | None = None  # completion_tokens_details.reasoning_tokens
    reasoning_visible_bytes: int = 0
    problems: tuple[str, ...] = ()  # evidence contradicting the delivered text
    notes: tuple[str, ...] = field(default=())

    @property
    def hidden_reasoning(self) -> int:
        """Reasoning tokens reported but never delivered: unauditable."""
        r = self.reasoning_reported or 0
        return r if r and not self.reasoning_visible_bytes else 0

    @property
    def audited(self) -> int:
        """The auditor's figure for billing and throughput: the settled count, else the
        re-tokenised count held within the byte bounds (visible tokens only; hidden
        reasoning is not in it)."""
        if self.exact is not None:
            return self.exact
        return min(max(self.retokenized + self.eos, self.lower), self.upper)

    def to_json(self) -> dict[str, Any]:
        return {"reported": self.reported, "audited": self.audited, "exact": self.exact,
                "bounds": [self.lower, self.upper], "retokenized": self.retokenized,
                "basis": self.basis, "cut_at": self.cut_at,
                "reasoning_reported": self.reasoning_reported,
                "reasoning_hidden": self.hidden_reasoning,
                "problems": list(self.problems), "notes": list(self.notes)}


def requested_cap(rec: RequestRecord) -> int | None:
    """The ``max_tokens`` (or ``max_completion_tokens``, or the Responses dialect's
    ``max_output_tokens``) the request set, if any."""
    body = (rec.request or {}).get("json")
    if not isinstance(body, dict):
        return None
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def _subsequence(part: bytes, whole: bytes) -> bool:
    """Whether ``part`` is ``whole`` with some bytes left out (entries missing, none added)."""
    it = iter(whole)
    return all(b in it for b in part)


def _check_logprobs(d: Delivery, text_bytes: bytes, vocab: Vocabulary | None
                    ) -> tuple[int | None, list[str], list[str]]:
    """(exact content count or None, problems, notes) from the logprob entries."""
    entries = d.logprobs or ()
    joined = b"".join(entries)
    if d.content is not None:
        text_bytes = d.content.encode("utf-8")  # as sent (the record's text is redacted)
    if joined != text_bytes:
        if d.explicit_bytes and (len(joined) > len(text_bytes)
                                 or not _subsequence(joined, text_bytes)):
            return None, [f"{len(entries)} logprob entries concatenate to {len(joined)} bytes "
                          f"that are not the {len(text_bytes)} bytes of the delivered text"], []
        return None, [], ["the logprob entries do not spell the whole text (some missing, "
                          "or without `bytes`): not used"]
    if any(not e for e in entries):
        return None, [f"{sum(1 for e in entries if not e)} empty logprob entries (a token "
                      "decodes to at least one byte)"], []
    if vocab is not None:
        alien = [e for e in entries if e not in vocab]
        if alien:
            return None, [f"{len(alien)} logprob entries are not tokens of the declared "
                          f"vocabulary (first: {alien[0]!r})"], []
    return len(entries), [], []


def audit_completion(rec: RequestRecord, count_text: Callable[[str], int],
                     vocab: Vocabulary | None, *, logprobs: bool = False,
                     one_token_per_chunk: bool = False, eos_counted: bool = False,
                     max_token_bytes: int | None = None) -> AuditedCount:
    """Audit one response. ``vocab`` (the declared vocabulary) gives the byte bound per
    token and checks logprob entries and chunks; without it ``max_token_bytes`` bounds."""
    text = rec.text or ""
    tb = text.encode("utf-8")
    d = delivery(rec, want_logprobs=logprobs)
    rb = len(d.reasoning.encode("utf-8"))
    usage = rec.usage if isinstance(rec.usage, dict) else {}
    reported = _int(usage, "completion_tokens")
    r_rep = _int(usage.get("completion_tokens_details"), "reasoning_tokens")
    eos = 1 if eos_counted and rec.finish_reason == "stop" else 0
    mtb = vocab.max_token_bytes if vocab is not None else (max_token_bytes or 64)
    nbytes = len(tb) + rb
    lower = -(-len(tb) // mtb) + -(-rb // mtb) + eos
    upper = nbytes + eos + 1
    retok = (count_text(text) if text else 0) + (count_text(d.reasoning) if rb else 0)
    problems: list[str] = []
    notes: list[str] = []
    content: int | None = None
    basis = "re-tokenisation (bound only)"
    if logprobs and d.logprobs is not None:
        content, problems, notes = _check_logprobs(d, tb, vocab)
        if content is not None:
            basis = "logprobs (byte-exact, declared vocabulary)"
    if content is None and not problems and one_token_per_chunk and rec.stream \
            and rec.content_chunks:
        chunks = [x.encode("utf-8") for _, x, _ in rec.content_chunks]
        if vocab is None or all(c in vocab for c in chunks):
            content, basis = len(chunks), "one token per chunk (declared vocabulary)"
        else:
            notes.append("a chunk is not one token of the declared vocabulary: "
                         "one-token-per-chunk not used")
    exact: int | None = None
    if content is not None and not rb:
        exact = content + eos
    cap = requested_cap(rec) if rec.finish_reason == "length" else None
    if cap is not None and exact is None and not rb and not r_rep:
        if lower <= cap <= upper:
            exact, basis = cap, f"cut by max_tokens {cap} (finish_reason length)"
        else:  # tokens the content does not show (special tokens stripped): not settled
            notes.append(f"finish_reason length at max_tokens {cap}, but {len(tb)} bytes "
                         f"delivered hold {lower}..{upper} tokens")
    if rb and r_rep is not None and not -(-rb // mtb) <= r_rep <= rb + 1:
        problems.append(f"reasoning_tokens {r_rep} for {rb} bytes of visible reasoning: "
                        f"impossible (bounds {-(-rb // mtb)}..{rb + 1})")
    if content is not None and rb:
        lower = content + -(-rb // mtb) + eos
        upper = content + rb + eos + 1
    return AuditedCount(reported, exact, lower, upper, retok, basis, eos, cap, r_rep, rb,
                        tuple(problems), tuple(notes))


def audited_events(records: Iterable[RequestRecord],
                   audit: Callable[[RequestRecord], AuditedCount]) -> list[tuple[int, float]]:
    """(time, tokens) per content chunk for throughput, scaled per response so that its
    chunks sum to the auditor's count (not to the service's per-chunk usage deltas)."""
    out: list[tuple[int, float]] = []
    for r in records:
        if not r.content_chunks:
            continue
        total = sum(n for _, _, n in r.content_chunks)
        scale = audit(r).audited / total if total else 0.0
        out.extend((t, n * scale) for t, _, n in r.content_chunks)
    return out
