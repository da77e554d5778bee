"""The auditor's own completion count (METER-003): forged evidence fails, a length cut is
exact, the byte bound comes from the declared vocabulary, reasoning is kept apart, and
refused audit probes count against their requirement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import metering
from conformance.checks.audit import audit_completion, audited_events
from conformance.declaration.models import TokenizerRef
from conformance.run.records import ChunkEvent, RequestRecord
from conformance.run.tokenize import Tokenizer, load_tokenizer
from conformance.run.tokenize.vocab import Vocabulary

TOKENIZER = Path(__file__).parents[3] / "conformance" / "reference" / "assets" / "tokenizer.json"


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return load_tokenizer(TokenizerRef("hf", TOKENIZER))


@pytest.fixture(scope="module")
def vocab(tok: Tokenizer) -> Vocabulary:
    return Vocabulary.of(tok)


def entry(b: bytes) -> dict[str, Any]:
    return {"token": b.decode("utf-8", "replace"), "logprob": -0.1, "bytes": list(b),
            "top_logprobs": []}


def streamed(tok: Tokenizer, text: str, *, completion: int, max_tokens: int = 96,
             finish: str = "stop", logprobs: list[bytes] | None = None,
             reasoning: str = "", reasoning_tokens: int | None = None) -> RequestRecord:
    """A streamed answer: one chunk per token of ``text`` (with its logprob entry), an
    optional ``reasoning_content`` delta, usage last."""
    ids = tok.encode(text)
    pieces = [tok.decode([i]) for i in ids]
    events: list[ChunkEvent] = []
    if reasoning:
        events.append(ChunkEvent(0, json.dumps({"choices": [{"index": 0, "delta": {
            "reasoning_content": reasoning}}]}).encode()))
    lps = logprobs if logprobs is not None else []
    for k, p in enumerate(pieces):
        lp = {"content": [entry(x) for x in (lps if k == len(pieces) - 1 else [])]} \
            if logprobs is not None else None
        events.append(ChunkEvent(k + 1, json.dumps({"choices": [{"index": 0, "delta": {
            "content": p}, "logprobs": lp}]}).encode()))
    usage: dict[str, Any] = {"prompt_tokens": 5, "completion_tokens": completion,
                             "total_tokens": 5 + completion}
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return RequestRecord(
        "metering-x", "metering", 0, stream=True, status=200, events=events, text=text,
        content_chunks=[(k, p, 1) for k, p in enumerate(pieces)], usage=usage,
        finish_reason=finish, request={"method": "POST", "path": "chat/completions",
                                       "json": {"messages": [], "max_tokens": max_tokens}})


def judge(rec: RequestRecord, tok: Tokenizer, vocab: Vocabulary, **kw: Any) -> Any:
    return metering.completion_count(rec, audit_completion(rec, tok.count, vocab, **kw))


def test_honest_logprobs_settle_the_count(tok: Tokenizer, vocab: Vocabulary) -> None:
    text = "the service measures every token"
    toks = [tok.decode([i]).encode() for i in tok.encode(text)]
    r = streamed(tok, text, completion=len(toks), logprobs=toks)
    a = audit_completion(r, tok.count, vocab, logprobs=True)
    assert a.exact == len(toks) and a.basis.startswith("logprobs")
    assert metering.completion_count(r, a).ok is True


def test_padded_logprobs_fail(tok: Tokenizer, vocab: Vocabulary) -> None:
    """12 bytes of text, 40 logprob entries, completion_tokens=40: forged, a failure."""
    text = "hello world!"
    assert len(text.encode()) == 12
    toks = [tok.decode([i]).encode() for i in tok.encode(text)]
    padded = toks + [toks[-1]] * (40 - len(toks))
    o = judge(streamed(tok, text, completion=40, logprobs=padded), tok, vocab, logprobs=True)
    assert o.ok is False and "concatenate" in o.detail
    # empty entries that add no bytes are forged too
    empty = toks + [b""] * (40 - len(toks))
    o = judge(streamed(tok, text, completion=40, logprobs=empty), tok, vocab, logprobs=True)
    assert o.ok is False and "empty" in o.detail
    # entries that spell the text but are not tokens of the declared vocabulary
    letters = [bytes([b]) for b in text.encode()]
    glued = [b"hello wor", b"ld!"]
    assert b"hello wor" not in vocab
    o = judge(streamed(tok, text, completion=2, logprobs=glued), tok, vocab, logprobs=True)
    assert o.ok is False and "vocabulary" in o.detail
    assert judge(streamed(tok, text, completion=12, logprobs=letters), tok, vocab,
                 logprobs=True).ok is True  # non-canonical but real tokens: exact


def test_length_cut_is_exact_and_an_over_report_is_decisive(tok: Tokenizer,
                                                           vocab: Vocabulary) -> None:
    text = "the service measures every token and each request carries"
    n = len(tok.encode(text))
    honest = streamed(tok, text, completion=n, max_tokens=n, finish="length")
    a = audit_completion(honest, tok.count, vocab)
    assert a.exact == n and a.basis.startswith("cut by max_tokens")
    assert metering.completion_count(honest, a).ok is True
    assert metering.completion_reference(a) == n  # a settled METER-002 reference
    over = streamed(tok, text, completion=n + 2, max_tokens=n, finish="length")
    o = judge(over, tok, vocab)
    assert o.ok is False and "cut by max_tokens" in o.detail


def test_byte_bound_comes_from_the_declared_vocabulary(tok: Tokenizer,
                                                      vocab: Vocabulary) -> None:
    assert vocab.max_token_bytes == max(len(b) for b in vocab.tokens) < 64
    text = "measures " * 20  # 180 bytes
    lower = -(-len(text.encode()) // vocab.max_token_bytes)
    o = judge(streamed(tok, text, completion=lower - 1), tok, vocab)
    assert o.ok is False and "impossible" in o.detail
    # with a hard-coded 64-byte cap the same claim would have looked possible
    a64 = audit_completion(streamed(tok, text, completion=lower - 1), tok.count, None,
                           max_token_bytes=64)
    assert a64.lower <= lower - 1


def test_hidden_reasoning_is_unauditable_never_a_failure(tok: Tokenizer,
                                                         vocab: Vocabulary) -> None:
    text = "the service measures"
    toks = [tok.decode([i]).encode() for i in tok.encode(text)]
    r = streamed(tok, text, completion=len(toks) + 50, reasoning_tokens=50, logprobs=toks)
    a = audit_completion(r, tok.count, vocab, logprobs=True)
    assert a.hidden_reasoning == 50 and a.audited == len(toks)
    assert metering.completion_count(r, a).ok is True
    assert metering.completion_reference(a) == len(toks) + 50
    # without logprobs or a cut: the content part still bounded, the hidden part apart
    r2 = streamed(tok, text, completion=len(toks) + 50, reasoning_tokens=50)
    assert judge(r2, tok, vocab).ok is True


def test_visible_reasoning_is_audited_like_content(tok: Tokenizer, vocab: Vocabulary) -> None:
    text, thought = "yes", "let me think about the service"
    n = len(tok.encode(text)) + len(tok.encode(thought))
    ok = streamed(tok, text, completion=n, reasoning=thought,
                  reasoning_tokens=len(tok.encode(thought)))
    a = audit_completion(ok, tok.count, vocab)
    assert a.hidden_reasoning == 0 and a.reasoning_visible_bytes == len(thought)
    assert metering.completion_count(ok, a).ok is True
    bad = streamed(tok, text, completion=1 + 500, reasoning=thought, reasoning_tokens=500)
    o = judge(bad, tok, vocab)
    assert o.ok is False and "reasoning_tokens 500" in o.detail


def test_chunks_outside_the_vocabulary_are_no_exact_count(tok: Tokenizer,
                                                          vocab: Vocabulary) -> None:
    text = "the service measures"
    r = streamed(tok, text, completion=1)
    r.content_chunks = [(0, text, 1)]  # one chunk, not one token
    a = audit_completion(r, tok.count, vocab, one_token_per_chunk=True)
    assert a.exact is None and a.notes


def test_unanswered_probes_count_beyond_the_share() -> None:
    policy = metering.ProbePolicy(retries=2, retry_wait_max_s=1.0, max_unanswered_share=0.05)

    def rec(i: int, status: int) -> RequestRecord:
        return RequestRecord(f"metering-fp-{i}", "metering", i, status=status,
                             usage={"prompt_tokens": 3} if status == 200 else None)

    refused = [rec(i, 429 if i < 14 else 200) for i in range(24)]
    obs, left = metering.unanswered("fingerprint_match", refused, 24, policy)
    assert len(obs) == 14 and all(o.ok is False for o in obs) and not left
    one = [rec(i, 500 if i == 0 else 200) for i in range(56)]
    obs, left = metering.unanswered("prompt_exact", one, 56, policy)
    assert obs == [] and left == ["metering-fp-0"]
    lost = RequestRecord("metering-x", "metering", 0, error="client_error")
    assert metering.unanswered("prompt_exact", [lost], 1, policy) == ([], [])


def test_throughput_events_sum_to_the_audited_count(tok: Tokenizer, vocab: Vocabulary) -> None:
    text = "the service measures every token"
    r = streamed(tok, text, completion=400)  # over-reported
    a = audit_completion(r, tok.count, vocab)
    ev = audited_events([r], lambda _: a)
    assert abs(sum(n for _, n in ev) - a.audited) < 1e-9 and a.audited < 400
    # TPOT on the audited count: an over-count does not make the service look faster
    r.sent_ns, r.first_token_ns, r.last_byte_ns = 0, 100_000_000, 1_100_000_000
    assert r.tpot_ms() == 1000 / 399
    assert r.tpot_ms(a.audited) == 1000 / (a.audited - 1) > r.tpot_ms()  # type: ignore[operator]
