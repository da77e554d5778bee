"""Tool calls and JSON-schema answers of the reference service (hqts-2026.2), in every
dialect, streamed and not: the hqts-2026.2 checks pass on the healthy service, every
event and body matches the dialect's schema, and declared tools are billed as the chat
template renders them (METER-009)."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from refclient import measured_chat, template, tokenizer

from conformance._core import resources
from conformance.checks import tools as checks
from conformance.reference import ReferenceService
from conformance.run.client import ChatParams
from conformance.run.client.toolcalls import response_format_extra, tools_extra
from conformance.run.records import RequestRecord
from conformance.run.toolsets import ANSWER_SCHEMA, SCHEMAS, TOOLS

MSGS = [{"role": "user", "content": "What is the weather in Lyon, and where is my order?"}]
DIALECTS = ["openai-chat", "anthropic-messages", "openai-responses"]
SCHEMA_NAMES = {"openai-chat": ("chat.completion", "chat.completion.chunk"),
                "anthropic-messages": ("message", "stream-event"),
                "openai-responses": ("response", "stream-event")}


@pytest.fixture(scope="module")
def ref(ref_tls: ReferenceService) -> ReferenceService:
    return ref_tls  # the shared healthy service (TLS) of the reference tests




def _schema_ok(rec: RequestRecord, dialect: str) -> None:
    body, event = (Draft202012Validator(json.loads((
        resources.spec_dir() / "schemas" / "dialects" / f"{dialect}.{n}.schema.json"
    ).read_text(encoding="utf-8"))) for n in SCHEMA_NAMES[dialect])
    if rec.body is not None:
        assert not list(body.iter_errors(json.loads(rec.body))), rec.body
    for ev in rec.events:
        if ev.data.strip() != b"[DONE]":
            assert not list(event.iter_errors(json.loads(ev.data))), ev.data


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_tool_calls_pass_in_every_dialect(ref: ReferenceService, dialect: str,
                                          stream: bool) -> None:
    extra = {**tools_extra(dialect, TOOLS, "lookup_order"),
             **({"stream_options": {"include_usage": True}} if stream else {})}
    rec = measured_chat(ref, dialect, ChatParams(MSGS, max_tokens=200, stream=stream, extra=extra))
    obs = checks.tool_call_valid(rec, dialect, SCHEMAS, "lookup_order")
    assert obs.ok, obs.detail
    # a Response has no tool-call status: it is completed
    want = "stop" if dialect == "openai-responses" else "tool_calls"
    assert rec.finish_reason == want and rec.decode_errors == []
    _schema_ok(rec, dialect)
    reference = tokenizer().count(template().render(MSGS, tools=TOOLS))
    assert rec.usage is not None and rec.usage["prompt_tokens"] == reference
    assert reference > tokenizer().count(template().render(MSGS))


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("dialect", ["openai-chat", "openai-responses"])
def test_structured_output_passes(ref: ReferenceService, dialect: str, stream: bool) -> None:
    extra = response_format_extra(dialect, "review", ANSWER_SCHEMA)
    rec = measured_chat(ref, dialect, ChatParams(MSGS, max_tokens=200, stream=stream, extra=extra))
    obs = checks.structured_output_valid(rec, ANSWER_SCHEMA)
    assert obs.ok, (obs.detail, rec.text)
    _schema_ok(rec, dialect)
