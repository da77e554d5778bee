"""Usage is exact against the declared tokenizer and template, for both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from refclient import body, post, reference_count, stream

from conformance.reference import ReferenceService

PROMPTS = {
    "english": "Please summarise the service level agreement in two sentences.",
    "chinese": "请用两句话总结服务等级协议，并说明计费方式。",
    "code": "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "emoji": "Rate this 👍🏽👍🏿 ✅🚀 👨‍👩‍👧‍👦 🇨🇳🇯🇵 with one word",
    "mixed": "Mixed 中文 日本語 code `x = 1` and 🎉 in one prompt\n\n\tindented",
}


def _messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are a meticulous assistant."},
            {"role": "user", "content": text}]


@pytest.fixture(scope="module")
def llama(tiny_gguf: Path) -> Iterator[ReferenceService]:
    with ReferenceService.start(engine="llama.cpp", gguf=tiny_gguf) as svc:
        yield svc


def _check(svc: ReferenceService, text: str, max_tokens: int) -> None:
    msgs = _messages(text)
    expected = reference_count(msgs)
    payload = {**body(), "messages": msgs, "max_tokens": max_tokens, "seed": 7,
               "temperature": 0}
    r = post(svc, payload)
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    assert usage["prompt_tokens"] == expected
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    s = stream(svc, {**payload, "stream_options": {"include_usage": True}})
    assert s.status == 200 and s.done and s.usage is not None
    assert s.usage["prompt_tokens"] == expected
    assert s.usage["completion_tokens"] <= max_tokens
    if s.finish_reason == "length":
        assert s.usage["completion_tokens"] == max_tokens
    return None


@pytest.mark.parametrize("lang", sorted(PROMPTS))
def test_sim_usage_exact(ref_tls: ReferenceService, lang: str) -> None:
    _check(ref_tls, PROMPTS[lang], 12)
    # sim: one token per chunk, and the text re-encodes to exactly the billed count
    s = stream(ref_tls, {**body(PROMPTS[lang]), "max_tokens": 12,
                         "stream_options": {"include_usage": True}})
    assert s.usage is not None
    assert len(s.texts) == s.usage["completion_tokens"] == 12
    from refclient import tokenizer

    assert tokenizer().count(s.text) == 12


@pytest.mark.engine
@pytest.mark.parametrize("lang", sorted(PROMPTS))
def test_llama_cpp_usage_exact(llama: ReferenceService, lang: str) -> None:
    _check(llama, PROMPTS[lang], 16)


@pytest.mark.engine
def test_llama_cpp_streams_through_the_gateway(llama: ReferenceService) -> None:
    s = stream(llama, {**body("Tell me a story about a harbour."), "max_tokens": 24,
                       "seed": 3, "temperature": 0.8,
                       "stream_options": {"include_usage": True}})
    assert s.status == 200 and s.done
    assert s.headers["content-type"].startswith("text/event-stream")
    assert len(s.chunks) >= 4 and s.finish_reason in {"length", "stop"}
    assert s.usage is not None and 1 <= s.usage["completion_tokens"] <= 24
    assert s.usage["prompt_tokens"] == reference_count(
        [{"role": "user", "content": "Tell me a story about a harbour."}])
    decl = llama.declaration()
    assert decl.model.context_window == 4096 and decl.model.eos_counted


@pytest.mark.engine
def test_llama_cpp_context_window_enforced(llama: ReferenceService) -> None:
    r = post(llama, body("word " * 5000, max_tokens=8))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
