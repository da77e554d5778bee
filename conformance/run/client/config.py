"""Client configuration, the dialect registry, and decoding a raw record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance._core.errors import InputError
from conformance._core.redact import Redactor
from conformance.run.client.anthropic_messages import AnthropicMessages
from conformance.run.client.dialect import CountTokens, Dialect
from conformance.run.client.openai_chat import OpenAIChat
from conformance.run.client.openai_responses import OpenAIResponses
from conformance.run.records import RequestRecord

DIALECTS: Mapping[str, type[Dialect]] = {
    "openai-chat": OpenAIChat,
    "anthropic-messages": AnthropicMessages,
    "openai-responses": OpenAIResponses,
}


@dataclass(frozen=True)
class ClientConfig:
    """How to reach the candidate. ``api_key`` is held in memory only, never recorded."""

    base_url: str  # e.g. https://api.example.com/v1
    model: str = ""
    api_key: str | None = field(default=None, repr=False)
    dialect: str = "openai-chat"
    http2: bool = False
    ca_bundle: Path | None = None  # TLS trust anchors; None = system store
    # Every request ends by itself: the connect deadline, the idle deadline (the longest
    # silence between two reads, from the send on) and the total deadline (send to last
    # byte) hold in both engines; a call may pass tighter ones (``Client.chat(timeout_s=,
    # idle_timeout_s=)``). A run sets them from the declaration, capped by the profile.
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0  # idle deadline
    total_timeout_s: float = 600.0  # total deadline
    # Per-response bounds: past max_response_bytes the request ends as ``too_large``;
    # the record keeps the first max_*_record_bytes of the events or body and counts the
    # rest (``received_bytes``; ``evidence_cap_bytes`` says where the kept part stops).
    max_response_bytes: int = 64 * 1024 * 1024
    max_body_record_bytes: int = 4 * 1024 * 1024  # error/non-stream bodies
    max_stream_record_bytes: int = 16 * 1024 * 1024  # SSE events (~65,000 chunks)
    max_connections: int = 4096  # with a custom transport: its single pool's size
    pool_shard_size: int = 16  # connections per httpx pool (see Client._pick)
    # "fast": streaming chat requests over conformance.run.client.fast (HTTP/1.1, no proxy
    # support); "httpx": everything over httpx. Non-streaming requests, get/post_raw, HTTP/2
    # and a custom transport always use httpx.
    engine: str = "fast"
    extra_headers: Mapping[str, str] = field(default_factory=dict)


def decode_record(
    rec: RequestRecord, dialect: Dialect, count_tokens: CountTokens | None, redactor: Redactor
) -> RequestRecord:
    """Decode ``rec`` with ``dialect`` and redact what it holds; never raises."""
    try:
        dialect.decode(rec, count_tokens)
    except Exception as exc:  # the instrument failed, not the service
        rec.decode_errors.append(f"decoder crashed: {type(exc).__name__}: {exc}")
        rec.error = rec.error or "client_error"
    if redactor.secrets:
        echoed = rec.secrets_echoed
        if rec.body is not None:
            body = redactor.bytes_(rec.body)
            if body != rec.body:
                echoed.append("body")
            rec.body = body
        events_hit = False
        for ev in rec.events:
            data = redactor.bytes_(ev.data)
            if data != ev.data:
                ev.data, events_hit = data, True
        if events_hit:
            echoed.append("events")
        # what the candidate said: its secrets only, never credential-shaped patterns
        if rec.text is not None:
            text = redactor.exact(rec.text)
            if text != rec.text:
                echoed.append("text")
            rec.text = text
        if rec.reasoning_text is not None:
            reasoning = redactor.exact(rec.reasoning_text)
            if reasoning != rec.reasoning_text:
                echoed.append("reasoning")
            rec.reasoning_text = reasoning
        # one check of the chunks' joined text (a secret in any chunk shows there too);
        # chunk by chunk only when it hits
        joined = "\n".join(x for _, x, _ in rec.content_chunks)
        if redactor.exact(joined) != joined:
            rec.content_chunks = [(t, redactor.exact(x), n) for t, x, n in rec.content_chunks]
    return rec


def make_dialect(name: str) -> Dialect:
    """The dialect registered under ``name`` in :data:`DIALECTS`."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise InputError(
            f"unknown dialect {name!r}; known: {', '.join(sorted(DIALECTS))}"
        ) from None
