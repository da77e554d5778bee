"""conformance.run.dialect_probes: the chat probes are what the suites always sent; the
other dialects' probes are their own wire shapes."""

from __future__ import annotations

import json

import pytest

from conformance.plan.dialects import not_applicable
from conformance.run.corpora import malformed_cases
from conformance.run.dialect_probes import CLIENT_ERROR_CASES, PROBES, Credential, probes_for

MODEL = "ref-model"
MAPPED = ("API-006", "SEC-001", "SEC-003", "SEC-004", "SEC-006")


def test_chat_probes_are_byte_identical_to_the_chat_suites() -> None:
    p = probes_for("openai-chat")
    assert p.path == "chat/completions"
    assert p.body(MODEL) == json.dumps({"model": MODEL, "messages": [
        {"role": "user", "content": "ping"}], "max_tokens": 1}).encode()
    assert p.body(MODEL, stream=True) == json.dumps({"model": MODEL, "messages": [
        {"role": "user", "content": "ping"}], "max_tokens": 1, "stream": True}).encode()
    assert p.body(MODEL, content="hi", max_tokens=2) == json.dumps({"model": MODEL, "messages": [
        {"role": "user", "content": "hi"}], "max_tokens": 2}).encode()
    assert p.wrong_type(MODEL) == json.dumps({"model": MODEL, "messages": "hi"}).encode()
    assert p.unknown_model("x") == json.dumps({"model": "x", "messages": [
        {"role": "user", "content": "hi"}]}).encode()
    assert p.malformed(MODEL) == malformed_cases(MODEL)
    by_id = {c.id: c for c in malformed_cases(MODEL)}
    assert p.client_errors(MODEL) == [by_id[c] for c in CLIENT_ERROR_CASES]
    assert p.send_headers() is None and p.send_headers(Credential("Bearer x")) is None
    assert p.key("k") == Credential("Bearer k")
    assert p.wrong_header("k") == Credential(None, {"x-api-key": "k"})
    names = [n for n, _ in p.auth_variants()]
    assert names == ["missing", "empty-bearer", "bare-key", "basic", "wrong-key"]


def test_anthropic_probes_use_x_api_key_and_a_required_max_tokens() -> None:
    p = probes_for("anthropic-messages")
    assert p.path == "messages"
    assert p.key("k") == Credential(None, {"x-api-key": "k"})
    assert p.wrong_header("k") == Credential("Bearer k")
    assert p.send_headers() == {"anthropic-version": "2023-06-01"}
    assert "wrong-header" in dict(p.auth_variants())
    cases = {c.id: c for c in p.malformed(MODEL)}
    assert json.loads(cases["missing-messages"].body) == {"max_tokens": 16, "model": MODEL}
    assert cases["json-truncated"].body == {c.id: c for c in malformed_cases(MODEL)}[
        "json-truncated"].body  # bad JSON stays as it is
    assert all(c.headers["anthropic-version"] for c in cases.values())


def test_responses_probes_rename_fields_and_type_the_input_wrongly() -> None:
    p = probes_for("openai-responses")
    assert p.path == "responses"
    body = json.loads(p.body(MODEL))
    assert set(body) == {"model", "input", "max_output_tokens"}
    assert body["max_output_tokens"] == 16  # the dialect's least cap
    cases = {c.id: c for c in p.client_errors(MODEL)}
    assert json.loads(cases["messages-string"].body) == {"model": MODEL, "input": 42}
    assert json.loads(cases["max-tokens-negative"].body)["max_output_tokens"] == -5
    assert json.loads(p.wrong_type(MODEL))["input"] == 42
    assert all(b'"messages"' not in c.body for c in p.malformed(MODEL))


@pytest.mark.parametrize("dialect", sorted(PROBES))
def test_every_probed_requirement_applies_in_every_dialect(dialect: str) -> None:
    off = not_applicable(dialect)
    assert not set(MAPPED) & set(off), off
