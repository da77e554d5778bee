"""The ``openai-responses`` dialect: the OpenAI Responses API (``POST /v1/responses``).

Streams are typed events: ``response.created`` / ``response.in_progress`` (id, model),
``response.output_text.delta`` (the answer), ``response.reasoning_summary_text.delta`` and
``response.reasoning_text.delta`` (visible reasoning, kept apart), and one terminal event:
``response.completed``, ``response.incomplete`` (``incomplete_details.reason``) or
``response.failed``; ``error`` events. Usage arrives once, in the terminal event's
``response.usage`` (``input_tokens``, ``output_tokens``, ``total_tokens``,
``output_tokens_details.reasoning_tokens``) and is mapped to the checks' vocabulary.
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

_DROPPED = frozenset({"stream_options", "seed", "logprobs", "top_logprobs", "n", "stop",
                      "presence_penalty", "frequency_penalty", "logit_bias"})
_ANSWER = frozenset({"response.output_text.delta", "response.refusal.delta"})
_REASONING = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def usage_of(raw: dict[str, Any]) -> dict[str, Any]:
    """Responses ``usage`` in the checks' vocabulary (its own ``total_tokens`` kept)."""
    inp, out = raw.get("input_tokens_details"), raw.get("output_tokens_details")
    return normalised_usage(
        as_int(raw.get("input_tokens")), as_int(raw.get("output_tokens")),
        cached=as_int(inp.get("cached_tokens")) if isinstance(inp, dict) else None,
        reasoning=as_int(out.get("reasoning_tokens")) if isinstance(out, dict) else None,
        total=as_int(raw.get("total_tokens")), raw=raw)


def finish_of(resp: dict[str, Any]) -> str | None:
    status = resp.get("status")
    if status == "completed":
        return "stop"
    if status == "incomplete":
        det = resp.get("incomplete_details")
        reason = as_str(det.get("reason")) if isinstance(det, dict) else None
        return INCOMPLETE.get(reason, reason) if reason else "length"  # cut, reason unsaid
    return as_str(status)


class OpenAIResponses:
    """One class behind :class:`~conformance.run.client.dialect.Dialect`."""

    name = "openai-responses"
    models_path = "models"
    chat_path = "responses"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def build(self, params: ChatParams, model: str) -> BuiltRequest:
        body: dict[str, Any] = {"model": params.model or model,
                                "input": [dict(m) for m in params.messages]}
        if params.max_tokens is not None:
            body["max_output_tokens"] = params.max_tokens
        if params.stream:
            body["stream"] = True
        for k, v in params.extra.items():
            if k in ("max_tokens", "max_completion_tokens"):
                body["max_output_tokens"] = v
            elif k not in _DROPPED:
                body[k] = v
        return BuiltRequest("POST", self.chat_path, body)

    def decode(self, record: RequestRecord, count_tokens: CountTokens | None = None) -> None:
        if record.response_id is None:
            record.response_id = record.headers.get("x-request-id")
        if record.status is None or not 200 <= record.status < 300:
            return
        if record.stream and record.body is None:
            self._decode_stream(record, count_tokens)
        else:
            self._decode_body(record, count_tokens)

    def _decode_stream(self, record: RequestRecord, count_tokens: CountTokens | None) -> None:
        answer: list[tuple[int, str]] = []
        reasoning: list[tuple[int, str]] = []
        for i, ev in enumerate(record.events):
            if trailing_done(record, ev.data):
                continue
            doc = parse_event(record, i, ev.data)
            if doc is None:
                continue
            if record.done_seen:
                record.decode_errors.append(f"event {i}: data after the terminal event")
            kind = doc.get("type")
            if kind in _ANSWER or kind in _REASONING:
                d = doc.get("delta")
                if isinstance(d, str) and d:
                    (answer if kind in _ANSWER else reasoning).append((ev.t_ns, d))
            elif kind in ("response.created", "response.in_progress") or kind in _TERMINAL:
                resp = doc.get("response")
                if isinstance(resp, dict):  # usage: the terminal event's only (some servers
                    self._response(record, resp, f"event {i}",  # put zeros in created)
                                   final=kind in _TERMINAL)
                if kind in _TERMINAL:
                    record.done_seen = True
                if kind == "response.failed":
                    stream_error(record, f"event {i}",
                                 resp.get("error") if isinstance(resp, dict) else None)
            elif kind == "error":
                stream_error(record, f"event {i}", doc)
            elif not isinstance(kind, str):
                garbage(record, f"event {i}: no event type")
        finish_record(record, answer, reasoning, count_tokens)

    def _response(self, record: RequestRecord, resp: dict[str, Any], where: str, *,
                  final: bool = True) -> None:
        record.response_id = record.response_id or as_str(resp.get("id"))
        record.model = record.model or as_str(resp.get("model"))
        u = plausible_usage(record, resp.get("usage"), where)
        if u is not None and final:
            record.usage = usage_of(u)
        if resp.get("status") in ("completed", "incomplete"):
            record.finish_reason = finish_of(resp)

    def _decode_body(self, record: RequestRecord, count_tokens: CountTokens | None) -> None:
        doc = parse_body(record)
        if doc is None:
            return
        self._response(record, doc, "body")
        record.model = as_str(doc.get("model"))
        answer: list[str] = []
        reasoning: list[str] = []
        output = doc.get("output")
        for item in output if isinstance(output, list) else []:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "message":
                answer += _texts(item.get("content"), "output_text")
                answer += _texts(item.get("content"), "refusal", key="refusal")
            elif item.get("type") == "reasoning":
                reasoning += _texts(item.get("summary"), "summary_text")
                reasoning += _texts(item.get("content"), "reasoning_text")
        record.text = "".join(answer) if isinstance(output, list) else None
        record.reasoning_text = "".join(reasoning) or None
        if record.text and record.last_byte_ns is not None:
            ct = (record.usage or {}).get("completion_tokens")
            n = ct if isinstance(ct, int) and ct > 0 else tokens(record.text, count_tokens)
            record.content_chunks = [(record.last_byte_ns, record.text, n)]


def _texts(parts: Any, kind: str, key: str = "text") -> list[str]:
    return [p[key] for p in parts if isinstance(p, dict) and p.get("type") == kind
            and isinstance(p.get(key), str)] if isinstance(parts, list) else []
