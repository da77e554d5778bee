"""API-011, API-012, METER-009 checks (hqts-2026.2) and the per-dialect reassembly of
streamed tool calls, on hand-built records: each passes on a correct answer and fails on
the matching defect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.checks import tools as checks
from conformance.run.client.toolcalls import response_format_extra, tool_calls, tools_extra
from conformance.run.records import ChunkEvent, RequestRecord
from conformance.run.toolsets import ANSWER_SCHEMA, SCHEMAS, TOOLS

ARGS = '{"order_id": "ORD-123456", "fields": ["eta"]}'
PIECES = ['{"order_id": ', '"ORD-', '123456", "fields"', ': ["eta"]}']


def _rec(body: Any = None, events: list[dict[str, Any]] | None = None, **kw: Any
         ) -> RequestRecord:
    rec = RequestRecord("protocol-api011-0", "protocol", 0, stream=events is not None,
                        status=200, **kw)
    if body is not None:
        rec.body = json.dumps(body).encode()
    rec.events = [ChunkEvent(i, json.dumps(e).encode()) for i, e in enumerate(events or [])]
    return rec


def _chat_body(args: str = ARGS, name: str = "lookup_order", cid: str = "call_1"
               ) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}]}}]}


def _chat_events(pieces: list[str]) -> list[dict[str, Any]]:
    first = {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_1",
             "type": "function", "function": {"name": "lookup_order", "arguments": ""}}]}}]}
    return [first] + [{"choices": [{"delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": p}}]}}]} for p in pieces]


def _anthropic_events(pieces: list[str]) -> list[dict[str, Any]]:
    return [{"type": "content_block_start", "index": 0, "content_block": {
        "type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {}}}] + [
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": p}} for p in pieces] + [
        {"type": "content_block_stop", "index": 0}]


def _responses_events(pieces: list[str], final: str | None = None) -> list[dict[str, Any]]:
    item = {"id": "fc_1", "type": "function_call", "call_id": "call_1",
            "name": "lookup_order", "arguments": ""}
    return [{"type": "response.output_item.added", "output_index": 0, "item": item}] + [
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1",
         "output_index": 0, "delta": p} for p in pieces] + [
        {"type": "response.output_item.done", "output_index": 0,
         "item": {**item, "arguments": "".join(pieces) if final is None else final}}]


STREAMS = {"openai-chat": _chat_events, "anthropic-messages": _anthropic_events,
           "openai-responses": _responses_events}


@pytest.mark.parametrize("dialect", sorted(STREAMS))
def test_streamed_deltas_reassemble_in_each_dialect(dialect: str) -> None:
    rec = _rec(events=STREAMS[dialect](PIECES))
    got = tool_calls(dialect, None, rec.events)
    assert got.problems == [] and [c.arguments for c in got.calls] == [ARGS]
    assert checks.tool_call_valid(rec, dialect, SCHEMAS, "lookup_order").ok


@pytest.mark.parametrize("dialect", sorted(STREAMS))
def test_a_lost_fragment_fails(dialect: str) -> None:  # broken_tool_deltas
    obs = checks.tool_call_valid(_rec(events=STREAMS[dialect](PIECES[1:])), dialect,
                                 SCHEMAS, "lookup_order")
    assert obs.ok is False and "not JSON" in obs.detail


def test_a_completed_item_that_differs_from_its_deltas_fails() -> None:
    rec = _rec(events=_responses_events(PIECES, final='{"order_id": "ORD-000000"}'))
    obs = checks.tool_call_valid(rec, "openai-responses", SCHEMAS, "lookup_order")
    assert obs.ok is False and "differs" in obs.detail


def test_non_streamed_bodies_in_each_dialect() -> None:
    anthropic = {"content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup_order",
                              "input": json.loads(ARGS)}]}
    responses = {"output": [{"type": "function_call", "call_id": "c1", "name": "lookup_order",
                             "arguments": ARGS}]}
    for dialect, body in (("openai-chat", _chat_body()), ("anthropic-messages", anthropic),
                          ("openai-responses", responses)):
        assert checks.tool_call_valid(_rec(body), dialect, SCHEMAS, "lookup_order").ok


@pytest.mark.parametrize(("body", "why"), [
    (_chat_body(ARGS[:-1]), "not JSON"),  # malformed_tool_args
    (_chat_body('{"order_id": "12"}'), "does not match"),  # the pattern
    (_chat_body('{"order_id": "ORD-123456", "x": 1}'), "Additional properties"),
    (_chat_body("[1]"), "not a JSON object"),
    (_chat_body(name="delete_everything"), "not a declared tool"),
    (_chat_body(name="get_weather", args='{"city": "Lyon", "unit": "celsius"}'),
     "was required"),
    (_chat_body(cid=""), "no id"),
    ({"choices": [{"message": {"role": "assistant", "content": "sure"}}]}, "no tool call"),
])
def test_defective_calls_fail(body: dict[str, Any], why: str) -> None:
    obs = checks.tool_call_valid(_rec(body), "openai-chat", SCHEMAS, "lookup_order")
    assert obs.ok is False and why in obs.detail


def test_an_error_status_fails() -> None:
    rec = _rec(_chat_body())
    rec.status = 500
    assert checks.tool_call_valid(rec, "openai-chat", SCHEMAS, None).ok is False


GOOD = {"title": "t", "rating": 3, "tags": [], "verdict": "defer",
        "contact": {"email": "abc@example.org", "phone": None}}


def test_structured_output() -> None:
    def obs(text: str, finish: str = "stop") -> Any:
        return checks.structured_output_valid(_rec(text=text, finish_reason=finish),
                                              ANSWER_SCHEMA)

    assert obs(json.dumps(GOOD)).ok
    assert obs("Sure! Here is a review of it").ok is False  # ignores_response_format
    assert obs(json.dumps({**GOOD, "rating": 9})).ok is False
    cut = obs(json.dumps(GOOD)[:20], finish="length")
    assert cut.ok is None and cut.reason == "cut_by_max_tokens"
    assert obs("Sure! Here is a long review", finish="length").ok is False


def test_tools_prompt_exact() -> None:
    def obs(reported: int) -> Any:
        return checks.tools_prompt_exact(_rec(usage={"prompt_tokens": reported}), 300, 120)

    assert obs(300).ok
    unbilled = obs(120)  # tools_unbilled
    assert unbilled.ok is False and "not billed" in unbilled.detail
    assert obs(301).ok is False
    assert checks.tools_prompt_exact(_rec(), 300, 120).ok is False


def test_requests_in_each_dialect_shape() -> None:
    chat = tools_extra("openai-chat", TOOLS, "get_weather")
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    anth = tools_extra("anthropic-messages", TOOLS, "get_weather")
    assert anth["tools"][0]["input_schema"] == SCHEMAS["get_weather"]
    assert anth["tool_choice"] == {"type": "tool", "name": "get_weather"}
    resp = tools_extra("openai-responses", TOOLS, None)
    assert resp["tools"][1]["name"] == "lookup_order" and "tool_choice" not in resp
    assert "text" in response_format_extra("openai-responses", "r", ANSWER_SCHEMA)
    assert "response_format" in response_format_extra("openai-chat", "r", ANSWER_SCHEMA)
