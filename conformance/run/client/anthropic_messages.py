"""The ``anthropic-messages`` dialect: Anthropic Messages (``POST /v1/messages``).

Streams are typed events (``message_start``, ``content_block_start``,
``content_block_delta`` with ``text_delta`` / ``thinking_delta``, ``content_block_stop``,
``message_delta`` with the stop reason and the cumulative ``output_tokens``,
``message_stop``; ``ping`` keep-alives; ``error``). Thinking blocks are visible reasoning,
recorded apart from the answer. Usage is mapped to the checks' vocabulary
(:mod:`conformance.run.client.decoding`): prompt tokens are ``input_tokens`` plus the cache
write and read counts (Anthropic reports them apart), cached tokens the cache reads.
"""

from __future__ import annotations

from typing import Any

from conformance.run.client.decoding import (
    as_int,
    as_str,
    finish_record,
    garbage,
    normalised_usage,
    parse_body,
    parse_event,
    plausible_usage,
    stream_error,
    tokens,
    trailing_done,
)
from conformance.run.client.dialect import BuiltRequest, ChatParams, CountTokens
from conformance.run.records import RequestRecord

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # max_tokens is required by the dialect; asked when a test sets none
# OpenAI Chat parameters with no meaning in this dialect: never sent (the catalog's dialect
# mapping says which requirements that makes not applicable)
_DROPPED = frozenset({"stream_options", "seed", "logprobs", "top_logprobs", "n", "user",
                      "presence_penalty", "frequency_penalty", "logit_bias"})
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                "tool_use": "tool_calls", "refusal": "content_filter",
                "model_context_window_exceeded": "length"}


def _split_system(messages: Any) -> tuple[str | None, list[Any]]:
    system: list[str] = []
    rest: list[Any] = []
    for m in messages:
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            c = m.get("content")
            system.append(c if isinstance(c, str) else str(c))
        else:
            rest.append(dict(m) if isinstance(m, dict) else m)
    return ("\n\n".join(system) if system else None), rest


def usage_of(record: RequestRecord, raw: dict[str, Any]) -> dict[str, Any]:
    """Anthropic ``usage`` in the checks' vocabulary."""
    inp = as_int(raw.get("input_tokens"))
    write = as_int(raw.get("cache_creation_input_tokens")) or 0
    read = as_int(raw.get("cache_read_input_tokens"))
    prompt = None if inp is None else inp + write + (read or 0)
    return normalised_usage(prompt, as_int(raw.get("output_tokens")), cached=read, raw=raw)


class AnthropicMessages:
    """One class behind :class:`~conformance.run.client.dialect.Dialect`."""

    name = "anthropic-messages"
    models_path = "models"
    chat_path = "messages"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        h = {"anthropic-version": API_VERSION}
        if api_key:
            h["x-api-key"] = api_key
        return h

    def build(self, params: ChatParams, model: str) -> BuiltRequest:
        system, messages = _split_system(params.messages)
        body: dict[str, Any] = {"model": params.model or model, "messages": messages,
                                "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS}
        if system is not None:
            body["system"] = system
        if params.stream:
            body["stream"] = True
        for k, v in params.extra.items():
            if k == "stop":
                body["stop_sequences"] = [v] if isinstance(v, str) else list(v or [])
            elif k == "max_completion_tokens":
                body["max_tokens"] = v
            elif k not in _DROPPED:
                body[k] = v
        return BuiltRequest("POST", self.chat_path, body)

    def decode(self, record: RequestRecord, count_tokens: CountTokens | None = None) -> None:
        if record.response_id is None:
            record.response_id = record.headers.get("request-id") or record.headers.get(
                "x-request-id")
        if record.status is None or not 200 <= record.status < 300:
            return
        if record.stream and record.body is None:
            self._decode_stream(record, count_tokens)
        else:
            self._decode_body(record, count_tokens)

    def _decode_stream(self, record: RequestRecord, count_tokens: CountTokens | None) -> None:
        answer: list[tuple[int, str]] = []
        reasoning: list[tuple[int, str]] = []
        raw_usage: dict[str, Any] = {}
        for i, ev in enumerate(record.events):
            if trailing_done(record, ev.data):
                continue
            doc = parse_event(record, i, ev.data)
            if doc is None:
                continue
            if record.done_seen:
                record.decode_errors.append(f"event {i}: data after message_stop")
            kind = doc.get("type")
            if kind == "message_start":
                msg = doc.get("message")
                if isinstance(msg, dict):
                    record.response_id = record.response_id or as_str(msg.get("id"))
                    record.model = record.model or as_str(msg.get("model"))
                    u = plausible_usage(record, msg.get("usage"), f"event {i}")
                    if u is not None:
                        _merge(raw_usage, u)
            elif kind == "content_block_start":
                block = doc.get("content_block")
                if isinstance(block, dict):
                    _block_text(block, ev.t_ns, answer, reasoning)
            elif kind == "content_block_delta":
                d = doc.get("delta")
                if isinstance(d, dict):
                    _delta_text(d, ev.t_ns, answer, reasoning)
            elif kind == "message_delta":
                d = doc.get("delta")
                if isinstance(d, dict) and isinstance(d.get("stop_reason"), str):
                    record.finish_reason = STOP_REASONS.get(d["stop_reason"], d["stop_reason"])
                u = plausible_usage(record, doc.get("usage"), f"event {i}")
                if u is not None:
                    _merge(raw_usage, u)  # output_tokens is cumulative: the last one holds
            elif kind == "message_stop":
                record.done_seen = True
            elif kind == "error":
                stream_error(record, f"event {i}", doc.get("error"))
            elif not isinstance(kind, str):
                garbage(record, f"event {i}: no event type")
            # ping, content_block_stop and event types added later carry nothing to decode
        if raw_usage:
            record.usage = usage_of(record, raw_usage)
        finish_record(record, answer, reasoning, count_tokens)

    def _decode_body(self, record: RequestRecord, count_tokens: CountTokens | None) -> None:
        doc = parse_body(record)
        if doc is None:
            return
        record.response_id = record.response_id or as_str(doc.get("id"))
        record.model = as_str(doc.get("model"))
        u = plausible_usage(record, doc.get("usage"), "body")
        if u is not None:
            record.usage = usage_of(record, u)
        if isinstance(doc.get("stop_reason"), str):
            record.finish_reason = STOP_REASONS.get(doc["stop_reason"], doc["stop_reason"])
        answer: list[tuple[int, str]] = []
        reasoning: list[tuple[int, str]] = []
        content = doc.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict):
                _block_text(block, 0, answer, reasoning)
        record.text = "".join(x for _, x in answer) if isinstance(content, list) else None
        record.reasoning_text = "".join(x for _, x in reasoning) or None
        if record.text and record.last_byte_ns is not None:
            ct = (record.usage or {}).get("completion_tokens")
            n = ct if isinstance(ct, int) and ct > 0 else tokens(record.text, count_tokens)
            record.content_chunks = [(record.last_byte_ns, record.text, n)]


def _merge(raw: dict[str, Any], u: dict[str, Any]) -> None:
    """Later usage overrides earlier counts, but a ``null`` (a field some servers send empty
    in ``message_delta``) never erases a count ``message_start`` gave."""
    raw.update({k: v for k, v in u.items() if v is not None})


def _block_text(block: dict[str, Any], t: int, answer: list[tuple[int, str]],
                reasoning: list[tuple[int, str]]) -> None:
    if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
        answer.append((t, block["text"]))
    elif block.get("type") == "thinking" and isinstance(block.get("thinking"), str) \
            and block["thinking"]:
        reasoning.append((t, block["thinking"]))


def _delta_text(d: dict[str, Any], t: int, answer: list[tuple[int, str]],
                reasoning: list[tuple[int, str]]) -> None:
    kind = d.get("type")
    if kind == "text_delta" and isinstance(d.get("text"), str) and d["text"]:
        answer.append((t, d["text"]))
    elif kind == "thinking_delta" and isinstance(d.get("thinking"), str) and d["thinking"]:
        reasoning.append((t, d["thinking"]))
