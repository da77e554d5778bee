"""The three dialects decode recorded event streams (written by hand from the public API
references) into the same record fields, and every recorded event matches its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance._core import resources
from conformance.checks.audit import audit_completion, delivery, requested_cap
from conformance.run.client import (
    DIALECTS,
    AnthropicMessages,
    ChatParams,
    OpenAIChat,
    OpenAIResponses,
    SSESplitter,
    make_dialect,
)
from conformance.run.records import RequestRecord

FIX = Path(__file__).parent / "fixtures"
MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]


def record(fixture: str, *, status: int = 200, step: int = 1_000) -> RequestRecord:
    """A record as the client leaves it: the fixture's bytes split at 10 ns per read."""
    sp = SSESplitter()
    raw = (FIX / fixture).read_bytes()
    for i in range(0, len(raw), 97):
        sp.feed(raw[i:i + 97], 100 + step * i)
    sp.close()
    return RequestRecord(request_id="r-1", phase="p", seq=1, sent_ns=0, status=status,
                         events=sp.events, last_byte_ns=10**9)


def schema(name: str) -> Draft202012Validator:
    path = resources.spec_dir() / "schemas" / "dialects" / f"{name}.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def test_registry_names_every_dialect() -> None:
    assert set(DIALECTS) == {"openai-chat", "anthropic-messages", "openai-responses"}
    for name, cls in DIALECTS.items():
        assert make_dialect(name).name == name == cls.name
    decl = json.loads((resources.spec_dir() / "schemas" / "declaration.schema.json").read_text())
    assert set(decl["properties"]["endpoint"]["properties"]["dialect"]["enum"]) == set(DIALECTS)


@pytest.mark.parametrize(("fixture", "name"), [
    ("anthropic-thinking.sse", "anthropic-messages.stream-event"),
    ("anthropic-error.sse", "anthropic-messages.stream-event"),
    ("responses-reasoning.sse", "openai-responses.stream-event"),
    ("responses-incomplete.sse", "openai-responses.stream-event"),
])
def test_recorded_events_match_the_dialect_schema(fixture: str, name: str) -> None:
    v = schema(name)
    for ev in record(fixture).events:
        assert not list(v.iter_errors(json.loads(ev.data))), ev.data


def test_schemas_reject_what_the_dialect_forbids() -> None:
    ev = schema("anthropic-messages.stream-event")
    assert list(ev.iter_errors({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta"}}))  # no text
    assert list(ev.iter_errors({"type": "message_delta", "delta": {}}))  # no usage
    rv = schema("openai-responses.stream-event")
    assert list(rv.iter_errors({"type": "response.completed", "response": {
        "id": "r", "object": "response", "created_at": 1, "status": "completed", "model": "m",
        "output": []}}))  # completed without usage
    assert list(schema("anthropic-messages.error").iter_errors({"error": "x"}))


def test_anthropic_stream_keeps_thinking_apart_and_maps_usage() -> None:
    rec = record("anthropic-thinking.sse")
    AnthropicMessages().decode(rec, lambda s: len(s.split()))
    assert rec.error is None and rec.decode_errors == []
    assert rec.text == "The answer is 4."
    assert rec.reasoning_text == "Two plus two is four."
    assert [c[1] for c in rec.content_chunks] == ["The answer", " is 4."]
    assert rec.content_chunks[0][2] == 2  # counted with the given tokenizer
    assert rec.done_seen and rec.finish_reason == "length"
    assert rec.response_id == "msg_01XFDUDYJgAACzvnptvVoYEL" and rec.model == "claude-sonnet-4-5"
    u = rec.usage or {}
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (35, 15, 50)
    assert u["prompt_tokens_details"] == {"cached_tokens": 10}
    assert u["dialect_usage"]["output_tokens"] == 15  # the last cumulative count holds
    assert rec.first_reasoning_ns is not None and rec.first_token_ns is not None
    assert rec.first_reasoning_ns < rec.first_token_ns
    ttfrt, ttfat = rec.ttfrt_ms(), rec.ttfat_ms()
    assert ttfrt is not None and ttfat is not None and 0 < ttfrt < ttfat == rec.ttft_ms()


def test_anthropic_error_event_is_a_protocol_error() -> None:
    rec = record("anthropic-error.sse")
    AnthropicMessages().decode(rec)
    assert rec.error == "protocol" and not rec.done_seen and rec.text == ""
    assert "overloaded_error" in rec.decode_errors[0]


def test_responses_stream_keeps_reasoning_apart_and_maps_usage() -> None:
    rec = record("responses-reasoning.sse")
    OpenAIResponses().decode(rec)
    assert rec.error is None and rec.decode_errors == []
    assert rec.text == "Hi there" and rec.reasoning_text == "Adding the numbers."
    assert rec.done_seen and rec.finish_reason == "stop"
    assert rec.response_id == "resp_67c9fdcecf488190bdd9a0409de3a1ec"
    u = rec.usage or {}
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (37, 75, 112)
    assert u["completion_tokens_details"] == {"reasoning_tokens": 64}
    assert rec.first_reasoning_ns is not None and rec.first_token_ns is not None
    assert rec.first_reasoning_ns < rec.first_token_ns


def test_responses_incomplete_is_a_length_stop() -> None:
    rec = record("responses-incomplete.sse")
    OpenAIResponses().decode(rec)
    assert rec.finish_reason == "length" and rec.done_seen and rec.text == "One two"
    assert rec.reasoning_text is None and rec.ttfrt_ms() is None
    assert (rec.usage or {})["total_tokens"] == 11


def test_chat_reasoning_content_is_recorded_apart() -> None:
    rec = record("chat-reasoning.sse")
    OpenAIChat().decode(rec)
    assert rec.text == "Four." and rec.reasoning_text == "Thinking."
    assert rec.first_reasoning_ns is not None and rec.first_token_ns is not None
    assert rec.first_reasoning_ns < rec.first_token_ns
    assert delivery(rec).reasoning == "Thinking."


@pytest.mark.parametrize("fixture", ["anthropic-thinking.sse", "responses-reasoning.sse"])
def test_audit_reads_visible_reasoning_of_every_dialect(fixture: str) -> None:
    rec = record(fixture)
    make_dialect("anthropic-messages" if "anthropic" in fixture else "openai-responses"
                 ).decode(rec)
    assert delivery(rec).reasoning == rec.reasoning_text
    a = audit_completion(rec, lambda s: len(s.encode()), None, max_token_bytes=8)
    assert a.reasoning_visible_bytes == len((rec.reasoning_text or "").encode())
    assert a.hidden_reasoning == 0  # shown reasoning is audited, not unauditable


def test_garbage_and_data_after_the_end_are_reported() -> None:
    for dialect, bad in ((AnthropicMessages(), b'{"type":"message_stop"}\n\ndata: nope\n\n'),
                         (OpenAIResponses(), b'{"no_type":1}\n\n')):
        sp = SSESplitter()
        sp.feed(b"data: " + bad, 1)
        sp.close()
        rec = RequestRecord(request_id="g", phase="p", seq=0, status=200, events=sp.events)
        dialect.decode(rec)
        assert rec.error == "garbage" and rec.decode_errors


def test_non_streaming_bodies() -> None:
    body: dict[str, Any] = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "Yes."}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4}}
    assert not list(schema("anthropic-messages.message").iter_errors(body))
    rec = RequestRecord(request_id="b", phase="p", seq=0, stream=False, status=200,
                        body=json.dumps(body).encode(), last_byte_ns=5)
    AnthropicMessages().decode(rec)
    assert (rec.text, rec.reasoning_text, rec.finish_reason) == ("Yes.", "hm", "stop")
    assert rec.content_chunks == [(5, "Yes.", 4)]
    resp: dict[str, Any] = {
        "id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
        "model": "m", "output": [
            {"id": "rs", "type": "reasoning", "summary": [{"type": "summary_text", "text": "a"}]},
            {"id": "ms", "type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "B", "annotations": []}]}],
        "usage": {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}}
    assert not list(schema("openai-responses.response").iter_errors(resp))
    rec = RequestRecord(request_id="b", phase="p", seq=0, stream=False, status=200,
                        body=json.dumps(resp).encode(), last_byte_ns=5)
    OpenAIResponses().decode(rec)
    assert (rec.text, rec.reasoning_text, rec.finish_reason) == ("B", "a", "stop")


def test_requests_are_built_in_each_dialect() -> None:
    p = ChatParams(MSGS, max_tokens=16, extra={"stop": "\n", "seed": 1, "temperature": 0,
                                               "stream_options": {"include_usage": True}})
    a = AnthropicMessages().build(p, "m")
    assert a.path == "messages"
    assert a.json == {"model": "m", "messages": [MSGS[1]], "system": "Be brief.",
                      "max_tokens": 16, "stream": True, "stop_sequences": ["\n"],
                      "temperature": 0}
    assert AnthropicMessages().auth_headers("k") == {"x-api-key": "k",
                                                    "anthropic-version": "2023-06-01"}
    assert AnthropicMessages().build(ChatParams(MSGS), "m").json["max_tokens"] > 0
    r = OpenAIResponses().build(p, "m")
    assert r.path == "responses"
    assert r.json == {"model": "m", "input": MSGS, "max_output_tokens": 16, "stream": True,
                      "temperature": 0}
    assert OpenAIResponses().auth_headers("k") == {"authorization": "Bearer k"}
    for built in (a, r):  # METER-006 and the audit read the cap in every dialect
        rec = RequestRecord(request_id="c", phase="p", seq=0, request={"json": built.json})
        assert requested_cap(rec) == 16
    assert OpenAIChat().build(p, "m").json["stop"] == "\n"


def test_reasoning_is_redacted_like_the_answer() -> None:
    from conformance._core.redact import Redactor
    from conformance.run.client import decode_record

    rec = record("chat-reasoning.sse")
    red = Redactor()
    red.add("Thinking.")  # as if the service echoed a secret in its reasoning
    decode_record(rec, OpenAIChat(), None, red)
    assert rec.reasoning_text is not None and "Thinking." not in rec.reasoning_text


WEIRD: list[Any] = [None, 1, "x", [], {}, {"type": None}, {"type": 5},
                    {"type": "message_start", "message": None},
                    {"type": "message_start", "message": {"usage": "lots", "id": 3}},
                    {"type": "message_start", "message": {"usage": {"input_tokens": 1e999}}},
                    {"type": "content_block_start", "content_block": {"type": "text", "text": 1}},
                    {"type": "content_block_delta", "delta": None},
                    {"type": "content_block_delta", "delta": {"type": "text_delta", "text": None}},
                    {"type": "message_delta", "delta": {"stop_reason": 7}, "usage": []},
                    {"type": "response.output_text.delta", "delta": {"no": "str"}},
                    {"type": "response.completed", "response": None},
                    {"type": "response.completed", "response": {"status": "incomplete",
                                                                "usage": {"input_tokens": "1"}}},
                    {"type": "response.failed", "response": {"error": None}},
                    {"type": "error"}]


@pytest.mark.parametrize("dialect", ["anthropic-messages", "openai-responses"])
def test_decoders_never_raise_on_malformed_events_or_bodies(dialect: str) -> None:
    d = make_dialect(dialect)
    sp = SSESplitter()
    for doc in WEIRD:
        sp.feed(b"data: " + json.dumps(doc).replace("Infinity", "1e999").encode() + b"\n\n", 1)
    sp.feed(b"data: {not json\n\n", 2)
    sp.close()
    rec = RequestRecord(request_id="w", phase="p", seq=0, status=200, events=sp.events)
    d.decode(rec)  # must not raise
    assert rec.error in ("garbage", "protocol") and rec.decode_errors
    for doc in WEIRD:
        body = RequestRecord(request_id="w", phase="p", seq=0, stream=False, status=200,
                             body=json.dumps(doc).encode(), last_byte_ns=1)
        d.decode(body)


def test_perf_001_shows_time_to_first_reasoning_beside_ttft() -> None:
    from conformance.checks.latency import ttft_samples

    rec = record("anthropic-thinking.sse")
    AnthropicMessages().decode(rec)
    plain = record("responses-incomplete.sse")
    OpenAIResponses().decode(plain)
    s = ttft_samples([rec, plain], 60.0, 1000.0)
    assert s.values == [rec.ttft_ms(), plain.ttft_ms()]  # TTFT: the first answer token
    d = s.detail()
    assert d["reasoning_streams"] == 1 and d["ttfrt_ms_median"] == rec.ttfrt_ms()
    assert "ttfrt_ms_median" not in ttft_samples([plain], 60.0, 1000.0).detail()
