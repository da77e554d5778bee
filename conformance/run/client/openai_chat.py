"""The ``openai-chat`` dialect: OpenAI Chat Completions, streaming and not."""

from __future__ import annotations

import json
from typing import Any

from conformance.run.client.decoding import (
    NOT_JSON,
    as_str,
    garbage,
    loads,
    plausible_usage,
    stream_error,
    tokens,
)
from conformance.run.client.dialect import BuiltRequest, ChatParams, CountTokens
from conformance.run.records import RequestRecord

_DONE = b"[DONE]"
_loads = loads
_NOT_JSON = NOT_JSON
_tokens = tokens
_garbage = garbage
_usage = plausible_usage
_str = as_str
REASONING_KEYS = ("reasoning_content", "reasoning")  # DeepSeek / Qwen / vLLM, OpenRouter


def _reasoning(d: Any) -> str:
    if isinstance(d, dict):
        for k in REASONING_KEYS:
            v = d.get(k)
            if isinstance(v, str) and v:
                return v
    return ""


class OpenAIChat:
    """Decodes chunks (``choices[0].delta.content``), usage wherever it comes (every chunk,
    the last content chunk, or a separate final chunk with empty ``choices``), the finish
    reason, ``[DONE]``, the response id and model, and per-token logprob entries."""

    name = "openai-chat"
    models_path = "models"
    chat_path = "chat/completions"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def build(self, params: ChatParams, model: str) -> BuiltRequest:
        body: dict[str, Any] = {"model": params.model or model, "messages": list(params.messages)}
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.stream:
            body["stream"] = True
        body.update(params.extra)
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

    # -- streaming -------------------------------------------------------------------------
    def _decode_stream(self, record: RequestRecord, count_tokens: CountTokens | None) -> None:
        texts: list[str] = []
        chunks: list[tuple[int, str, int]] = []
        logprobs = 0
        saw_logprobs = False
        prev_completion: int | None = None
        usage_every_chunk = True
        staged: list[tuple[int, str, int | None]] = []  # (t, text, tokens from usage delta)
        reasoning: list[tuple[int, str]] = []
        for i, ev in enumerate(record.events):
            if ev.data.strip() == _DONE:
                record.done_seen = True
                continue
            if record.done_seen:
                record.decode_errors.append(f"event {i}: data after [DONE]")
            try:
                doc = _loads(ev.data.decode("utf-8"))  # SSE is UTF-8 (no encoding sniffing)
            except _NOT_JSON as exc:
                _garbage(record, f"event {i}: not JSON ({type(exc).__name__}: {exc})"[:300])
                continue
            if not isinstance(doc, dict):
                _garbage(record, f"event {i}: not a JSON object")
                continue
            err = doc.get("error")
            if err or doc.get("object") == "error":  # {"error": {..}}, TGI's {"error": "text"},
                stream_error(record, f"event {i}", err or doc)  # older vLLM's bare error object
                continue
            record.response_id = record.response_id or _str(doc.get("id"))
            record.model = record.model or _str(doc.get("model"))
            usage = _usage(record, doc.get("usage"), f"event {i}")
            delta_tokens: int | None = None
            if usage is not None:
                record.usage = usage
                ct = usage.get("completion_tokens")
                if isinstance(ct, int):
                    delta_tokens = ct - (prev_completion or 0)
                    prev_completion = ct
            choice = _first_choice(doc)
            if choice is None:
                continue
            fr = choice.get("finish_reason")
            if isinstance(fr, str):
                record.finish_reason = fr
            lp = choice.get("logprobs")
            if isinstance(lp, dict) and isinstance(lp.get("content"), list):
                saw_logprobs = True
                logprobs += len(lp["content"])
            delta = choice.get("delta")
            thought = _reasoning(delta)
            if thought:
                reasoning.append((ev.t_ns, thought))
            content = _answer(delta)
            if content:
                texts.append(content)
                staged.append((ev.t_ns, content, delta_tokens))
                if delta_tokens is None:
                    usage_every_chunk = False
        counted: dict[str, int] = {}  # a stream repeats many chunk texts: count each once
        for t, text, n in staged:
            if usage_every_chunk and n is not None and n > 0:
                chunks.append((t, text, n))
            else:
                k = counted.get(text)
                if k is None:
                    k = counted[text] = _tokens(text, count_tokens)
                chunks.append((t, text, k))
        record.content_chunks = chunks
        record.text = "".join(texts)
        record.first_token_ns = chunks[0][0] if chunks else None
        record.logprob_tokens = logprobs if saw_logprobs else None
        if reasoning:
            record.reasoning_text = "".join(x for _, x in reasoning)
            record.first_reasoning_ns = reasoning[0][0]
        if not record.events and record.error is None:
            _garbage(record, "2xx streaming response carried no SSE data events")

    # -- non-streaming ---------------------------------------------------------------------
    def _decode_body(self, record: RequestRecord, count_tokens: CountTokens | None) -> None:
        try:
            doc = json.loads(record.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            _garbage(record, f"body: not JSON ({exc})")
            return
        if not isinstance(doc, dict):
            _garbage(record, "body: not a JSON object")
            return
        record.response_id = record.response_id or _str(doc.get("id"))
        record.model = _str(doc.get("model"))
        usage = _usage(record, doc.get("usage"), "body")
        if usage is not None:
            record.usage = usage
        choice = _first_choice(doc)
        if choice is None:
            return
        if isinstance(choice.get("finish_reason"), str):
            record.finish_reason = choice["finish_reason"]
        msg = choice.get("message")
        said = isinstance(msg, dict) and any(isinstance(msg.get(k), str)
                                             for k in ("content", "refusal"))
        record.text = _answer(msg) if said else None
        record.reasoning_text = _reasoning(msg) or None
        lp = choice.get("logprobs")
        if isinstance(lp, dict) and isinstance(lp.get("content"), list):
            record.logprob_tokens = len(lp["content"])
        if record.text and record.last_byte_ns is not None:
            ct = (record.usage or {}).get("completion_tokens")
            n = ct if isinstance(ct, int) and ct > 0 else _tokens(record.text, count_tokens)
            record.content_chunks = [(record.last_byte_ns, record.text, n)]


def _answer(d: Any) -> str:
    """The answer text of a delta: ``content``, or a ``refusal`` (what the model said, and
    billed as completion tokens, when it declines)."""
    if not isinstance(d, dict):
        return ""
    return "".join(v for v in (d.get("content"), d.get("refusal")) if isinstance(v, str))


def _first_choice(doc: dict[str, Any]) -> dict[str, Any] | None:
    choices = doc.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None
