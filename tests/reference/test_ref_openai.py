"""The official ``openai`` client talks to the reference service over https, trusting
only the CA the service generated, and gets exact usage."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from refclient import MODEL, reference_count

from conformance.reference import ReferenceService

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Count tokens for me: 令牌 and トークン 👍"}]


@pytest.fixture
def oai(ref_tls: ReferenceService) -> Iterator[openai.OpenAI]:
    assert ref_tls.ca_bundle is not None and ref_tls.base_url.startswith("https://")
    ctx = ssl.create_default_context(cafile=str(ref_tls.ca_bundle))
    with openai.DefaultHttpxClient(verify=ctx) as http, openai.OpenAI(
            base_url=ref_tls.base_url, api_key=ref_tls.api_key, http_client=http) as client:
        yield client


def test_non_streaming(oai: openai.OpenAI) -> None:
    r = oai.chat.completions.create(model=MODEL, messages=MESSAGES,
                                    max_tokens=7, seed=1, temperature=0)
    assert r.object == "chat.completion" and r.model == MODEL
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert r.usage.prompt_tokens == reference_count(MESSAGES)
    assert r.usage.completion_tokens == 7
    assert r.usage.total_tokens == r.usage.prompt_tokens + 7


def test_streaming_with_usage(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_completion_tokens=9, seed=1,
        temperature=0, stream=True, stream_options={"include_usage": True}))
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 9  # one token per chunk
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == reference_count(MESSAGES)
    assert chunks[-1].usage.completion_tokens == 9
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length"


def test_untrusted_without_the_generated_ca(ref_tls: ReferenceService) -> None:
    with openai.OpenAI(base_url=ref_tls.base_url, api_key=ref_tls.api_key, max_retries=0,
                       http_client=openai.DefaultHttpxClient()) as bare, \
            pytest.raises(openai.APIConnectionError):
        bare.chat.completions.create(model=MODEL, messages=MESSAGES)


def test_wrong_key_is_401(ref_tls: ReferenceService) -> None:
    with openai.OpenAI(base_url=ref_tls.base_url, api_key="sk-wrong", max_retries=0,
                       http_client=openai.DefaultHttpxClient(verify=ref_tls.verify)) as bad, \
            pytest.raises(openai.AuthenticationError):
        bad.models.list()
