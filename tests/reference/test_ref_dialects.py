"""The reference service answers ``/v1/messages`` and ``/v1/responses`` beside chat
completions: the measuring client in each dialect decodes it cleanly, every event and body
matches the dialect's schema, and usage is the same count in each dialect's shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from refclient import measured_chat

from conformance._core import resources
from conformance.checks.audit import audit_completion
from conformance.reference import ReferenceService
from conformance.run.client import ChatParams, Client, ClientConfig
from conformance.run.records import RequestRecord

MSGS = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three colours of the rainbow."}]
SCHEMAS = {"anthropic-messages": ("message", "stream-event", "error"),
           "openai-responses": ("response", "stream-event", "error")}


def _schema(name: str) -> Draft202012Validator:
    path = resources.spec_dir() / "schemas" / "dialects" / f"{name}.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))




@pytest.mark.parametrize("dialect", ["anthropic-messages", "openai-responses"])
def test_each_dialect_streams_and_answers(ref_tls: ReferenceService, dialect: str) -> None:
    chat = measured_chat(ref_tls, "openai-chat", ChatParams(
        MSGS, max_tokens=12, extra={"seed": 3, "stream_options": {"include_usage": True}}))
    body_schema, event_schema, _ = (_schema(f"{dialect}.{n}") for n in SCHEMAS[dialect])
    s = measured_chat(ref_tls, dialect, ChatParams(MSGS, max_tokens=12, extra={"seed": 3}))
    assert s.ok and s.decode_errors == [] and s.done_seen, (s.status, s.decode_errors)
    for ev in s.events:
        assert not list(event_schema.iter_errors(json.loads(ev.data))), ev.data
    assert s.text and s.usage is not None and chat.usage is not None
    assert s.usage["prompt_tokens"] == chat.usage["prompt_tokens"]  # same metering
    assert s.usage["total_tokens"] == s.usage["prompt_tokens"] + s.usage["completion_tokens"]
    assert s.finish_reason in ("stop", "length")
    if s.finish_reason == "length":
        assert s.usage["completion_tokens"] == 12
    b = measured_chat(ref_tls, dialect, ChatParams(MSGS, max_tokens=12, stream=False))
    assert b.ok and b.text and b.usage is not None, b.body
    assert not list(body_schema.iter_errors(json.loads(b.body or b""))), b.body
    assert b.usage["prompt_tokens"] == chat.usage["prompt_tokens"]


@pytest.mark.parametrize("dialect", ["anthropic-messages", "openai-responses"])
def test_errors_come_in_the_dialect_shape(ref_tls: ReferenceService, dialect: str) -> None:
    bad = measured_chat(ref_tls, dialect, ChatParams(MSGS, max_tokens=12, stream=False,
                                            model="no-such-model"))
    assert bad.status == 404
    doc: Any = json.loads(bad.body or b"")
    assert not list(_schema(f"{dialect}.error").iter_errors(doc)), doc
    denied = measured_chat(ref_tls, dialect, ChatParams(MSGS, max_tokens=4, stream=False),
                  key="sk-wrong")
    assert denied.status == 401
    assert not list(_schema(f"{dialect}.error").iter_errors(json.loads(denied.body or b"")))


@pytest.fixture(scope="module")
def thinking() -> Iterator[ReferenceService]:
    with ReferenceService.start(sim_config={"reasoning_tokens": 5, "tpot_ms": 2.0}) as svc:
        yield svc


@pytest.mark.parametrize("dialect", ["openai-chat", "anthropic-messages", "openai-responses"])
def test_reasoning_mode_is_recorded_apart_in_every_dialect(thinking: ReferenceService,
                                                           dialect: str) -> None:
    extra = {"stream_options": {"include_usage": True}} if dialect == "openai-chat" else {}
    s = measured_chat(thinking, dialect, ChatParams(MSGS, max_tokens=12, extra=extra))
    assert s.ok and s.decode_errors == [] and s.usage is not None
    assert s.reasoning_text and s.text and s.reasoning_text not in s.text
    ttfrt, ttfat = s.ttfrt_ms(), s.ttfat_ms()
    assert ttfrt is not None and ttfat is not None and ttfrt < ttfat
    assert s.usage["completion_tokens"] == 12  # reasoning counts against max_tokens
    if dialect != "anthropic-messages":  # Anthropic reports no separate reasoning count
        assert s.usage["completion_tokens_details"]["reasoning_tokens"] == 5
    a = audit_completion(s, lambda t: len(t.split()), None, max_token_bytes=64)
    assert a.hidden_reasoning == 0 and a.reasoning_visible_bytes > 0
    b = measured_chat(thinking, dialect, ChatParams(MSGS, max_tokens=12, stream=False))
    assert b.ok and b.reasoning_text and b.text and b.usage is not None
    assert len(b.reasoning_text.split()) == 5 and len(b.text.split()) == 7


@pytest.mark.parametrize("dialect", ["anthropic-messages", "openai-responses"])
def test_models_listed_in_the_dialect_shape(ref_tls: ReferenceService, dialect: str) -> None:
    cfg = ClientConfig(base_url=ref_tls.base_url, model="m", api_key=ref_tls.api_key,
                       dialect=dialect, ca_bundle=ref_tls.ca_bundle)

    async def go() -> RequestRecord:
        async with Client(cfg) as c:
            rec = await c.get("models", request_id="models")
        await asyncio.sleep(0.05)
        return rec

    rec = asyncio.run(go())
    assert rec.status == 200
    doc = json.loads(rec.body or b"")
    assert not list(_schema(f"{dialect}.models").iter_errors(doc)), doc
    assert [m["id"] for m in doc["data"]] == [m.id for m in ref_tls.declaration().models]
