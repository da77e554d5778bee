"""Recorded streams of the variants real implementations send (fixtures/wire/, one file per
case, quoted or reconstructed from the public API references and the servers' own stream
code: OpenAI, Anthropic, vLLM, llama.cpp, SGLang, OpenRouter, TGI, sse-starlette): each
decodes to the record it holds, a valid one passes API-002/003 in its dialect, a broken one
is caught.

Every blank-line block (event or comment) is fed as its own read at a known time (block
``k`` at ``T * (k + 1)``), so the content chunks' times are asserted exactly; a second
pass feeds the same bytes in 7-byte reads and must decode the same."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import protocol
from conformance.run.client import SSESplitter, make_dialect
from conformance.run.records import RequestRecord

WIRE = Path(__file__).parent / "fixtures" / "wire"
T = 1_000
_BOUNDARY = re.compile(rb"(?:\r\n\r\n|\n\n)")


def _reads(raw: bytes) -> list[bytes]:
    """The fixture cut after each blank line: one read per event."""
    out, pos = [], 0
    for m in _BOUNDARY.finditer(raw):
        out.append(raw[pos:m.end()])
        pos = m.end()
    return out + ([raw[pos:]] if raw[pos:] else [])


def decoded(fixture: str, dialect: str, *, small_reads: bool = False) -> RequestRecord:
    raw = (WIRE / fixture).read_bytes()
    sp = SSESplitter()
    reads = [raw[i:i + 7] for i in range(0, len(raw), 7)] if small_reads else _reads(raw)
    for k, piece in enumerate(reads):
        sp.feed(piece, T * (k + 1))
    sp.close()
    rec = RequestRecord(request_id="r-1", phase="p", seq=1, sent_ns=0, status=200,
                        events=sp.events, last_byte_ns=T * (len(reads) + 1),
                        headers={"content-type": "text/event-stream; charset=utf-8"})
    make_dialect(dialect).decode(rec, lambda s: len(s.split()))
    return rec


@dataclass(frozen=True)
class Case:
    fixture: str
    dialect: str
    text: str
    chunks: list[tuple[int, str]]  # (read index: one per blank-line block, comments too; text)
    finish: str | None
    usage: dict[str, Any] | None  # the checks' vocabulary: only the keys named are asserted
    reasoning: str | None = None
    first_reasoning_event: int | None = None
    done: bool = True
    valid: bool = True  # decode_errors empty, API-002 and API-003 pass
    usage_ok: bool | None = None  # API-003 where it differs from ``valid``
    error: str | None = None  # a word the decode errors must hold


CASES = [
    # -- openai-chat ----------------------------------------------------------------------
    Case("chat-openai-usage.sse", "openai-chat", "Two plus two", [(1, "Two"), (2, " plus two")],
         "stop", {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}}),
    # usage on every chunk is decoded (and counts each chunk), but API-003 wants one
    Case("chat-vllm-reasoning.sse", "openai-chat", "Four.", [(4, "Four"), (5, ".")], "stop",
         {"prompt_tokens": 9, "completion_tokens": 5,
          "completion_tokens_details": {"reasoning_tokens": 3}},
         reasoning="Add them. Done.", first_reasoning_event=1, usage_ok=False),
    Case("chat-framing-crlf.sse", "openai-chat", "Hello world", [(3, "Hello"), (4, " world")],
         "stop", {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}),
    # an `event: ping` keep-alive with a timestamp for data (older sse-starlette default)
    Case("chat-ping-event.sse", "openai-chat", "Slow answer", [(0, "Slow"), (2, " answer")],
         "stop", {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
    Case("chat-refusal.sse", "openai-chat", "I cannot help.", [(1, "I can"), (2, "not help.")],
         "stop", {"prompt_tokens": 20, "completion_tokens": 4}),
    Case("chat-error-vllm.sse", "openai-chat", "Par", [(0, "Par")], None, None, done=False,
         valid=False, usage_ok=False, error="engine died"),
    Case("chat-error-tgi.sse", "openai-chat", "Par", [(0, "Par")], None, None, done=False,
         valid=False, usage_ok=False, error="Input validation error"),
    Case("chat-error-bare.sse", "openai-chat", "Par", [(0, "Par")], None, None, done=False,
         valid=False, usage_ok=False, error="engine died"),
    Case("chat-truncated.sse", "openai-chat", "Half an", [(0, "Half an")], None, None,
         done=False, valid=False, usage_ok=False),
    # -- anthropic-messages ----------------------------------------------------------------
    Case("anthropic-variants.sse", "anthropic-messages", "It is 4.", [(10, "It is"), (12, " 4.")],
         "stop", {"prompt_tokens": 472 + 2048, "completion_tokens": 57,
                  "total_tokens": 472 + 2048 + 57,
                  "prompt_tokens_details": {"cached_tokens": 2048}},
         reasoning="Sum it.", first_reasoning_event=5),
    # vLLM's /v1/messages: message_start without the constant type/role (exclude_unset), no
    # pings, no signature, usage with input_tokens again in message_delta
    Case("anthropic-vllm.sse", "anthropic-messages", "Four.", [(5, "Four"), (6, ".")], "stop",
         {"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20},
         reasoning="Easy.", first_reasoning_event=2),
    # llama.cpp's /v1/messages: cache reads apart from input_tokens, an empty signature_delta
    Case("anthropic-llamacpp.sse", "anthropic-messages", "Four", [(4, "Four")], "length",
         {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15,
          "prompt_tokens_details": {"cached_tokens": 6}},
         reasoning="Hm.", first_reasoning_event=2),
    Case("anthropic-midstream-error.sse", "anthropic-messages", "Part", [(2, "Part")], None,
         {"prompt_tokens": 10, "completion_tokens": 1}, done=False, valid=False,
         usage_ok=False, error="overloaded_error"),
    Case("anthropic-truncated.sse", "anthropic-messages", "Part", [(2, "Part")], "stop",
         {"prompt_tokens": 10, "completion_tokens": 2}, done=False, valid=False,
         usage_ok=False),
    # -- openai-responses ------------------------------------------------------------------
    Case("responses-openai-full.sse", "openai-responses", "2+2 = 4",
         [(10, "2+2"), (11, " = 4")], "stop",
         {"prompt_tokens": 20, "completion_tokens": 70, "total_tokens": 90,
          "prompt_tokens_details": {"cached_tokens": 8},
          "completion_tokens_details": {"reasoning_tokens": 64}},
         reasoning="**Adding**", first_reasoning_event=4),
    Case("responses-vllm-reasoning.sse", "openai-responses", "4", [(5, "4")], "stop",
         {"prompt_tokens": 70, "completion_tokens": 9, "total_tokens": 79,
          "completion_tokens_details": {"reasoning_tokens": 5}},
         reasoning="User asks sum.", first_reasoning_event=3),
    # llama.cpp's /v1/responses: snapshots and deltas with only the fields a client reads
    Case("responses-llamacpp.sse", "openai-responses", "Four", [(6, "Four")], "stop",
         {"prompt_tokens": 11, "completion_tokens": 8, "total_tokens": 19,
          "prompt_tokens_details": {"cached_tokens": 3}},
         reasoning="Two and two.", first_reasoning_event=3),
    Case("responses-refusal.sse", "openai-responses", "I cannot help.",
         [(1, "I cannot"), (2, " help.")], "stop", {"prompt_tokens": 9, "completion_tokens": 4}),
    # LiteLLM-style placeholder usage (zeros) in the in-progress snapshots: the final counts
    Case("responses-placeholder-usage.sse", "openai-responses", "Yes", [(2, "Yes")], "stop",
         {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}),
    # ... but no usage on the terminal event is no usage (the placeholder is not taken)
    Case("responses-no-final-usage.sse", "openai-responses", "Yes", [(1, "Yes")], "stop",
         None, valid=False, usage_ok=False),
    Case("responses-error.sse", "openai-responses", "Par", [(1, "Par")], None, None,
         done=False, valid=False, usage_ok=False, error="server_error"),
    Case("responses-failed.sse", "openai-responses", "", [], None, None, valid=False,
         usage_ok=False, error="The model failed"),
    Case("responses-truncated.sse", "openai-responses", "Par", [(1, "Par")], None, None,
         done=False, valid=False, usage_ok=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_the_record_holds_what_the_stream_says(case: Case) -> None:
    rec = decoded(case.fixture, case.dialect)
    assert rec.text == case.text
    assert [(t, s) for t, s, _ in rec.content_chunks] == [
        (T * (k + 1), s) for k, s in case.chunks]
    assert all(n >= 1 for _, _, n in rec.content_chunks)
    assert rec.first_token_ns == (T * (case.chunks[0][0] + 1) if case.chunks else None)
    assert rec.reasoning_text == case.reasoning
    assert rec.first_reasoning_ns == (None if case.first_reasoning_event is None
                                      else T * (case.first_reasoning_event + 1))
    assert rec.finish_reason == case.finish
    assert rec.done_seen is case.done
    if case.usage is None:
        assert rec.usage is None
    else:
        assert rec.usage is not None
        assert {k: rec.usage.get(k) for k in case.usage} == case.usage
    if case.valid:
        assert rec.decode_errors == [] and rec.error is None
    elif case.error is not None:
        assert rec.decode_errors and rec.error == "protocol"
        assert any(case.error in e for e in rec.decode_errors), rec.decode_errors


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_read_boundaries_do_not_change_the_record(case: Case) -> None:
    a = decoded(case.fixture, case.dialect)
    b = decoded(case.fixture, case.dialect, small_reads=True)
    assert (b.text, b.reasoning_text, b.usage, b.finish_reason, b.done_seen, b.decode_errors) \
        == (a.text, a.reasoning_text, a.usage, a.finish_reason, a.done_seen, a.decode_errors)
    assert [s for _, s, _ in b.content_chunks] == [s for _, s, _ in a.content_chunks]


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_protocol_checks_pass_the_variant_and_fail_the_broken(case: Case) -> None:
    rec = decoded(case.fixture, case.dialect)
    api002 = protocol.stream_conformance(rec, case.dialect)
    assert api002.ok is case.valid, api002
    api003 = protocol.usage_chunk(rec, case.dialect)
    assert api003.ok is (case.valid if case.usage_ok is None else case.usage_ok), api003


@pytest.mark.parametrize(("dialect", "body"), [
    ("openai-chat", b'{"object":"list","data":[{"id":"m","object":"model","owned_by":"vllm"}]}'),
    ("anthropic-messages", b'{"data":[{"type":"model","id":"m","display_name":"M",'
                           b'"created_at":"2025-02-19T00:00:00Z"}],"has_more":false,'
                           b'"first_id":"m","last_id":"m"}'),
    # Anthropic-compatible servers (vLLM, llama.cpp, LiteLLM) list models the OpenAI way
    ("anthropic-messages", b'{"object":"list","data":[{"id":"m","object":"model"}]}'),
    ("openai-responses", b'{"object":"list","data":[{"id":"m","object":"model"}]}'),
])
def test_api007_reads_each_dialects_model_list(dialect: str, body: bytes) -> None:
    rec = RequestRecord(request_id="r", phase="p", seq=1, sent_ns=0, status=200, stream=False,
                        body=body, last_byte_ns=1)
    assert protocol.models_listed(rec, ["m"], dialect).ok
    assert not protocol.models_listed(rec, ["m", "absent"], dialect).ok
    rec.body = b'{"data":"m"}'
    assert not protocol.models_listed(rec, ["m"], dialect).ok


def test_relaxed_event_schemas_still_reject_what_a_client_cannot_read() -> None:
    def bad(dialect: str, doc: dict[str, Any]) -> bool:
        return bool(protocol.schema_errors("stream-event", doc, dialect))

    r = "openai-responses"
    assert not bad(r, {"type": "response.output_text.delta", "delta": "x"})
    assert bad(r, {"type": "response.output_text.delta", "item_id": "m"})  # no delta
    assert bad(r, {"type": "response.output_text.delta", "delta": 1})
    assert bad(r, {"type": "response.output_text.delta", "delta": "x", "sequence_number": "1"})
    assert bad(r, {"type": "response.created", "response": {"status": "in_progress"}})  # no id
    assert bad(r, {"type": "response.created", "response": {"id": "r", "status": "completed"}})
    assert bad(r, {"type": "response.completed", "response": {
        "id": "r", "object": "response", "status": "completed"}})  # terminal stays complete
    a = "anthropic-messages"
    assert not bad(a, {"type": "future_event"})  # clients ignore event types added later
    assert not bad(a, {"type": "content_block_delta", "index": 0,
                       "delta": {"type": "future_delta"}})
    assert bad(a, {"type": 7})
    assert bad(a, {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}})
    start = {"id": "m", "model": "x", "content": [], "usage": {"input_tokens": 1}}
    assert not bad(a, {"type": "message_start", "message": start})  # vLLM leaves out type/role
    assert bad(a, {"type": "message_start", "message": {**start, "role": "user"}})
    assert bad(a, {"type": "message_start", "message": {k: v for k, v in start.items()
                                                        if k != "usage"}})


@pytest.mark.parametrize(("dialect", "body"), [
    ("openai-chat", {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                     "choices": [{"index": 0, "finish_reason": "stop", "message": {
                         "role": "assistant", "content": None, "refusal": "I cannot."}}],
                     "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}),
    ("openai-responses", {"id": "r", "object": "response", "created_at": 1, "model": "m",
                          "status": "completed", "output": [{
                              "id": "msg", "type": "message", "role": "assistant",
                              "content": [{"type": "refusal", "refusal": "I cannot."}]}],
                          "usage": {"input_tokens": 5, "output_tokens": 3,
                                    "total_tokens": 8}}),
])
def test_a_refusal_is_the_answer_of_a_non_streaming_body(dialect: str, body: Any) -> None:
    rec = RequestRecord(request_id="r", phase="p", seq=1, sent_ns=0, status=200, stream=False,
                        body=json.dumps(body).encode(), last_byte_ns=5)
    make_dialect(dialect).decode(rec)
    assert rec.text == "I cannot." and rec.decode_errors == []
    assert protocol.completion_schema(rec, dialect).ok
