"""``POST /v1/messages`` (Anthropic) and ``POST /v1/responses`` (OpenAI Responses) in front
of the same pipeline as chat completions.

A request in either dialect is validated for that dialect's required fields, rewritten to
a chat-completions request and run through :func:`chat_completions` (so metering, limits,
caching, billing and every defect behave the same in each dialect); the answer is written
back in the dialect's shape: its JSON body, its typed SSE events, its usage object
(Anthropic ``input_tokens``/``output_tokens`` with cache reads apart; Responses
``input_tokens``/``output_tokens``/``total_tokens`` with details) and its error body.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from conformance.reference import dialect_errors
from conformance.reference.chat import ApiError, bad, parse_json
from conformance.reference.handler import chat_completions, read_body
from conformance.reference.state import ServiceState, Tenant

STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


# -- requests ------------------------------------------------------------------------------
def _messages_to_chat(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.", code="invalid_type")
    if not isinstance(body.get("max_tokens"), int) or isinstance(body.get("max_tokens"), bool):
        raise bad("max_tokens: Field required (an integer).", "max_tokens",
                  code="missing_required_parameter")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise bad("messages: a non-empty array of messages is required.", "messages")
    chat: list[Any] = []
    system = body.get("system")
    if isinstance(system, list):
        system = "".join(b.get("text", "") for b in system if isinstance(b, dict))
    if isinstance(system, str):  # an empty system prompt is still a system turn
        chat.append({"role": "system", "content": system})
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise bad(f"messages.{i}.role: must be 'user' or 'assistant'.", f"messages.{i}")
        chat.append({"role": m["role"], "content": m.get("content")})
    out: dict[str, Any] = {"model": body.get("model"), "messages": chat,
                           "max_tokens": body["max_tokens"]}
    if body.get("stop_sequences") is not None:
        out["stop"] = body["stop_sequences"]
    for k in ("temperature", "top_p", "stream"):
        if k in body:
            out[k] = body[k]
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    if body.get("tools") is not None:
        out["tools"] = _function_tools(body["tools"], "input_schema", nested=True)
        tc = body.get("tool_choice") or {"type": "auto"}
        kind = tc.get("type") if isinstance(tc, dict) else None
        out["tool_choice"] = {"type": "function", "function": {"name": tc.get("name")}} \
            if kind == "tool" and isinstance(tc, dict) else \
            {"any": "required", "none": "none"}.get(str(kind), "auto")
    return out


def _function_tools(tools: Any, schema_key: str, nested: bool) -> Any:
    """A dialect's tools as OpenAI chat function tools (name, description, parameters in
    that order: what the chat template renders, METER-009); anything else passes as sent,
    for the chat validation to refuse."""
    if not isinstance(tools, list):
        return tools
    out = []
    for t in tools:
        src = t if isinstance(t, dict) else {}
        if nested and "name" not in src:
            out.append(t)
            continue
        fn = {"name": src.get("name"), "description": src.get("description", ""),
              "parameters": src.get(schema_key, {})}
        out.append({"type": "function", "function": fn} if src.get("type", "function")
                   == "function" or nested else t)
    return out


def _responses_to_chat(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.", code="invalid_type")
    inp = body.get("input")
    chat: list[Any] = []
    if isinstance(body.get("instructions"), str):
        chat.append({"role": "system", "content": body["instructions"]})
    if isinstance(inp, str):
        chat.append({"role": "user", "content": inp})
    elif isinstance(inp, list) and inp:
        for m in inp:
            c = m.get("content") if isinstance(m, dict) else None
            if isinstance(c, list):  # input_text parts
                c = [{"type": "text", "text": p.get("text")} for p in c if isinstance(p, dict)]
            chat.append({"role": m.get("role") if isinstance(m, dict) else None, "content": c})
    else:
        raise bad("'input' must be a string or a non-empty array of messages.", "input",
                  code="missing_required_parameter")
    out: dict[str, Any] = {"model": body.get("model"), "messages": chat}
    if "max_output_tokens" in body:
        out["max_tokens"] = body["max_output_tokens"]
    for k in ("temperature", "top_p", "stream"):
        if k in body:
            out[k] = body[k]
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    if body.get("tools") is not None:
        out["tools"] = _function_tools(body["tools"], "parameters", nested=False)
        tc = body.get("tool_choice", "auto")
        out["tool_choice"] = {"type": "function", "function": {"name": tc.get("name")}} \
            if isinstance(tc, dict) and tc.get("type") == "function" else tc
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) \
        else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        out["response_format"] = {"type": "json_schema", "json_schema": {
            "name": fmt.get("name"), "schema": fmt.get("schema"),
            "strict": fmt.get("strict", False)}}
    return out


class _Rewritten(Request):
    """The original request with its body replaced (headers and state kept)."""

    def __init__(self, request: Request, body: bytes) -> None:
        super().__init__(request.scope, request.receive)
        self._body = body

    async def stream(self) -> AsyncGenerator[bytes, None]:
        yield self._body


# -- answers -------------------------------------------------------------------------------
def _anthropic_usage(u: dict[str, Any] | None) -> dict[str, Any]:
    u = u or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {"input_tokens": u.get("prompt_tokens", 0) - cached, "output_tokens":
            u.get("completion_tokens", 0), "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached}


def _responses_usage(u: dict[str, Any] | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {"input_tokens": u.get("prompt_tokens"), "output_tokens": u.get("completion_tokens"),
            "total_tokens": u.get("total_tokens"),
            "input_tokens_details": {"cached_tokens": (u.get("prompt_tokens_details") or {})
                                     .get("cached_tokens", 0)},
            "output_tokens_details": {"reasoning_tokens": (u.get("completion_tokens_details")
                                                           or {}).get("reasoning_tokens", 0)}}


def _msg_id(chat_id: Any) -> str:
    return "msg_" + str(chat_id).removeprefix("chatcmpl-")


def _tool_id(call_id: Any) -> str:
    return "toolu_" + str(call_id).removeprefix("call_")


def _input(arguments: Any) -> Any:
    """A call's arguments as the tool_use ``input`` object (as sent where they are not
    JSON: a broken service stays visibly broken in this dialect too)."""
    try:
        return json.loads(arguments)
    except (TypeError, ValueError):
        return arguments


def _function_call(rid: str, call_id: Any, name: Any, arguments: str, status: str
                   ) -> dict[str, Any]:
    return {"id": f"fc_{rid}", "type": "function_call", "status": status,
            "call_id": str(call_id), "name": name, "arguments": arguments}


def _resp_id(chat_id: Any) -> str:
    return "resp_" + str(chat_id).removeprefix("chatcmpl-")


def _message_body(doc: dict[str, Any]) -> dict[str, Any]:
    ch = (doc.get("choices") or [{}])[0]
    msg = ch.get("message") or {}
    content = []
    if msg.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": msg["reasoning_content"],
                        "signature": "tokencert-ref"})
    if msg.get("content") or not msg.get("tool_calls"):
        content.append({"type": "text", "text": msg.get("content") or ""})
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        content.append({"type": "tool_use", "id": _tool_id(tc.get("id")),
                        "name": fn.get("name"), "input": _input(fn.get("arguments"))})
    return {"id": _msg_id(doc.get("id")), "type": "message", "role": "assistant",
            "model": doc.get("model"), "content": content,
            "stop_reason": STOP_REASON.get(ch.get("finish_reason"), "end_turn"),
            "stop_sequence": None, "usage": _anthropic_usage(doc.get("usage"))}


def _response_obj(rid: str, model: Any, created: int, status: str, text: str,
                  reasoning: str, finish: str | None, usage: dict[str, Any] | None,
                  calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if reasoning:
        output.append({"id": f"rs_{rid}", "type": "reasoning",
                       "summary": [{"type": "summary_text", "text": reasoning}]})
    output += calls or []
    if status != "in_progress" and not calls:
        output.append({"id": f"msg_{rid}", "type": "message", "status": "completed",
                       "role": "assistant", "content": [
                           {"type": "output_text", "text": text, "annotations": []}]})
    incomplete = status == "incomplete"
    return {"id": rid, "object": "response", "created_at": created, "status": status,
            "model": model, "output": output, "usage": _responses_usage(usage),
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "error": None}


def _response_body(doc: dict[str, Any]) -> dict[str, Any]:
    ch = (doc.get("choices") or [{}])[0]
    msg = ch.get("message") or {}
    fr = ch.get("finish_reason")
    rid = _resp_id(doc.get("id"))
    calls = [_function_call(rid, tc.get("id"), (tc.get("function") or {}).get("name"),
                            str((tc.get("function") or {}).get("arguments", "")), "completed")
             for tc in msg.get("tool_calls") or []]
    return _response_obj(rid, doc.get("model"), int(time.time()),
                         "incomplete" if fr == "length" else "completed",
                         msg.get("content") or "", msg.get("reasoning_content") or "", fr,
                         doc.get("usage"), calls)


def _ev(kind: str, data: dict[str, Any], named: bool = True) -> bytes:
    payload = json.dumps({"type": kind, **data}, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {kind}\n" if named else "").encode() + b"data: " + payload.encode() \
        + b"\n\n"


async def _chat_docs(body: AsyncIterable[Any]) -> AsyncIterator[dict[str, Any] | None]:
    """The chat stream's JSON documents (None for ``[DONE]``); bytes that are none pass as
    a ``{"_raw": bytes}`` document so a defect's garbage still reaches the client."""
    buf = b""
    async for part in body:
        buf += part if isinstance(part, bytes) else str(part).encode()
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            data = block.removeprefix(b"data: ")
            if data == b"[DONE]":
                yield None
                continue
            try:
                doc = json.loads(data)
            except ValueError:
                yield {"_raw": block + b"\n\n"}
                continue
            yield doc if isinstance(doc, dict) else {"_raw": block + b"\n\n"}


async def _anthropic_stream(body: AsyncIterable[Any], defects: frozenset[str] = frozenset()
                            ) -> AsyncIterator[bytes]:
    started = False
    block = -1
    kind: str | None = None
    finish: str | None = None
    usage: dict[str, Any] | None = None
    done = False
    async for doc in _chat_docs(body):
        if doc is None:
            done = True
            continue
        if "_raw" in doc:
            yield doc["_raw"]
            continue
        if "error" in doc:
            err = doc["error"] if isinstance(doc["error"], dict) else {}
            yield _ev("error", {"error": {"type": "api_error",
                                          "message": str(err.get("message", ""))}})
            return
        if not started and "anthropic_no_message_start" not in defects:
            yield _ev("message_start", {"message": {
                "id": _msg_id(doc.get("id")), "type": "message", "role": "assistant",
                "content": [], "model": doc.get("model"), "stop_reason": None,
                "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})
        started = True
        if isinstance(doc.get("usage"), dict):
            usage = doc["usage"]
        for ch in doc.get("choices") or []:
            d = ch.get("delta") or {}
            for want, key, dtype in (("thinking", "reasoning_content", "thinking_delta"),
                                     ("text", "content", "text_delta")):
                piece = d.get(key)
                if not isinstance(piece, str) or not piece:
                    continue
                if kind != want:
                    if kind is not None:
                        yield _ev("content_block_stop", {"index": block})
                    block, kind = block + 1, want
                    start: dict[str, Any] = {"type": want, want: ""}
                    yield _ev("content_block_start", {"index": block, "content_block": start})
                field = "thinking" if want == "thinking" else "text"
                yield _ev("content_block_delta", {"index": block,
                                                  "delta": {"type": dtype, field: piece}})
            for tc in d.get("tool_calls") or []:
                fn = tc.get("function") or {}
                if tc.get("id"):  # a call opens: its own tool_use content block
                    if kind is not None:
                        yield _ev("content_block_stop", {"index": block})
                    block, kind = block + 1, "tool_use"
                    yield _ev("content_block_start", {"index": block, "content_block": {
                        "type": "tool_use", "id": _tool_id(tc["id"]), "name": fn.get("name"),
                        "input": {}}})
                if fn.get("arguments") and kind == "tool_use":
                    yield _ev("content_block_delta", {"index": block, "delta": {
                        "type": "input_json_delta", "partial_json": fn["arguments"]}})
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    if not started:
        return  # the chat stream was cut before it began: so is this one
    if kind is not None:
        yield _ev("content_block_stop", {"index": block})
    if finish is None:
        return  # truncated: no message_delta, no message_stop
    # the chat stream's defects carry over: no usage there, none here; no [DONE], no stop
    final: dict[str, Any] = {"delta": {"stop_reason": STOP_REASON.get(finish, "end_turn"),
                                       "stop_sequence": None}}
    if usage is not None and "anthropic_no_delta_usage" not in defects:
        au = _anthropic_usage(usage)
        final["usage"] = {"output_tokens": au["output_tokens"],
                          "input_tokens": au["input_tokens"],
                          "cache_read_input_tokens": au["cache_read_input_tokens"]}
    yield _ev("message_delta", final)
    if done:
        yield _ev("message_stop", {})


async def _responses_stream(body: AsyncIterable[Any], defects: frozenset[str] = frozenset()
                            ) -> AsyncIterator[bytes]:
    seq = 0
    rid = ""
    model: Any = None
    created = int(time.time())
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    finish: str | None = None
    usage: dict[str, Any] | None = None

    def ev(kind: str, data: dict[str, Any]) -> bytes:
        nonlocal seq
        seq += 1
        return _ev(kind, {"sequence_number": seq - 1, **data})

    done = False
    async for doc in _chat_docs(body):
        if doc is None:
            done = True
            continue
        if "_raw" in doc:
            yield doc["_raw"]
            continue
        if "error" in doc:
            err = doc["error"] if isinstance(doc["error"], dict) else {}
            yield ev("error", {"message": str(err.get("message", "")), "code": err.get("code")})
            return
        if not rid:
            rid, model = _resp_id(doc.get("id")), doc.get("model")
            if "responses_no_created" not in defects:
                yield ev("response.created", {"response": _response_obj(
                    rid, model, created, "in_progress", "", "", None, None)})
        if isinstance(doc.get("usage"), dict):
            usage = doc["usage"]
        for ch in doc.get("choices") or []:
            d = ch.get("delta") or {}
            if isinstance(d.get("reasoning_content"), str) and d["reasoning_content"]:
                reasoning.append(d["reasoning_content"])
                yield ev("response.reasoning_summary_text.delta", {
                    "item_id": f"rs_{rid}", "output_index": 0, "summary_index": 0,
                    "delta": d["reasoning_content"]})
            for tc in d.get("tool_calls") or []:
                fn = tc.get("function") or {}
                at = len(calls) + (1 if reasoning else 0)
                if tc.get("id"):
                    calls.append(_function_call(rid, tc["id"], fn.get("name"), "",
                                                "in_progress"))
                    yield ev("response.output_item.added", {"output_index": at,
                                                            "item": calls[-1]})
                elif calls and fn.get("arguments"):
                    calls[-1]["arguments"] += fn["arguments"]
                    yield ev("response.function_call_arguments.delta", {
                        "item_id": calls[-1]["id"], "output_index": at - 1,
                        "delta": fn["arguments"]})
            if isinstance(d.get("content"), str) and d["content"]:
                text.append(d["content"])
                yield ev("response.output_text.delta", {
                    "item_id": f"msg_{rid}", "output_index": 1 if reasoning else 0,
                    "content_index": 0, "delta": d["content"]})
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    if not rid or finish is None or not done:
        return  # truncated (or the chat stream's [DONE] withheld): no terminal event
    for i, call in enumerate(calls):
        call["status"] = "completed"
        at = i + (1 if reasoning else 0)
        yield ev("response.function_call_arguments.done", {
            "item_id": call["id"], "output_index": at, "arguments": call["arguments"]})
        yield ev("response.output_item.done", {"output_index": at, "item": call})
    status = "incomplete" if finish == "length" else "completed"
    if "responses_no_usage" in defects:
        usage = None
    yield ev(f"response.{status}", {"response": _response_obj(
        rid, model, created, status, "".join(text), "".join(reasoning), finish, usage,
        calls)})


# -- endpoints -----------------------------------------------------------------------------
async def _translated(gw: ServiceState, request: Request, tenant: Tenant, dialect: str
                      ) -> Response:
    raw = await read_body(request, gw.cfg.gateway.max_body_bytes)
    body = parse_json(raw)
    dialect_errors.crash_on_bad_input(gw, request.url.path, body)
    chat = _messages_to_chat(body) if dialect == "anthropic" else _responses_to_chat(body)
    resp = await chat_completions(gw, _Rewritten(request, json.dumps(chat).encode()), tenant)
    headers = {k: v for k, v in resp.headers.items()
               if k not in ("content-length", "content-type")}
    if isinstance(resp, StreamingResponse):
        stream = (_anthropic_stream if dialect == "anthropic" else _responses_stream)(
            resp.body_iterator, frozenset(gw.defects.names()))
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    if resp.status_code != 200 or resp.media_type != "application/json":
        return resp  # html_200 and the like pass through as sent
    doc = json.loads(bytes(resp.body))
    out = _message_body(doc) if dialect == "anthropic" else _response_body(doc)
    return JSONResponse(out, headers=headers)


async def messages(gw: ServiceState, request: Request, tenant: Tenant) -> Response:
    try:
        return await _translated(gw, request, tenant, "anthropic")
    except ApiError as exc:
        return dialect_errors.error_response(gw, request, exc)


async def responses(gw: ServiceState, request: Request, tenant: Tenant) -> Response:
    return await _translated(gw, request, tenant, "responses")
