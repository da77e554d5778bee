"""Errors per dialect endpoint (conformance/reference/dialect_errors.py): ``/v1/messages``
answers the Anthropic error body and names ``x-api-key`` when a key is missing;
``/v1/responses`` and chat completions answer the OpenAI error body and name the bearer
header. Each body matches its dialect's error schema."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest
from jsonschema import Draft202012Validator

from conformance._core import resources
from conformance.reference import ReferenceService


def _errors(dialect: str) -> Draft202012Validator:
    path = resources.spec_dir() / "schemas" / "dialects" / f"{dialect}.error.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(("path", "dialect", "hint"), [
    ("messages", "anthropic-messages", "x-api-key"),
    ("responses", "openai-responses", "Authorization: Bearer"),
    ("chat/completions", "openai-chat", "Authorization: Bearer"),
])
def test_refusals_and_bad_requests_in_the_endpoints_shape(
        ref_tls: ReferenceService, path: str, dialect: str, hint: str) -> None:
    schema = _errors(dialect)
    with httpx.Client(base_url=ref_tls.base_url, verify=ssl.create_default_context(
            cafile=str(ref_tls.ca_bundle))) as http:
        r = http.post(path, content=b'{"model": "x"}',
                      headers={"content-type": "application/json"})
        assert r.status_code == 401
        assert not list(schema.iter_errors(r.json())), r.text
        assert hint in r.text and ref_tls.api_key not in r.text
        key = ({"x-api-key": ref_tls.api_key} if dialect == "anthropic-messages"
               else {"authorization": f"Bearer {ref_tls.api_key}"})
        r = http.post(path, content=b'{"model": ', headers={
            "content-type": "application/json", **key})
        assert r.status_code == 400
        assert not list(schema.iter_errors(r.json())), r.text
