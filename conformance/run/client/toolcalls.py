"""Tool calls and structured output in each dialect (hqts-2026.2: API-011, API-012, METER-009).

Requests: :func:`tools_extra` and :func:`response_format_extra` give the ``ChatParams.extra``
that declares OpenAI function tools (or a JSON Schema answer format) in the dialect's own
shape. Answers: :func:`tool_calls` reads the calls of a recorded answer, reassembling
streamed deltas per dialect:

* openai-chat: ``choices[].delta.tool_calls[]`` fragments keyed by ``index`` (the first
  carries ``id`` and ``function.name``, the rest append to ``function.arguments``);
* anthropic-messages: a ``content_block_start`` whose block is ``tool_use`` (id, name,
  ``input`` ``{}``), ``content_block_delta`` with ``input_json_delta.partial_json``
  pieces, ``content_block_stop``;
* openai-responses: ``response.output_item.added`` with a ``function_call`` item,
  ``response.function_call_arguments.delta`` pieces by ``output_index`` (or ``item_id``),
  the completed item in ``response.function_call_arguments.done`` /
  ``response.output_item.done``.

Where a stream also sends the completed call, it must equal the reassembled one; any
mismatch is kept in :attr:`ToolCalls.problems`. Pure functions, never raising on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ANTHROPIC = "anthropic-messages"
RESPONSES = "openai-responses"


@dataclass(frozen=True)
class ToolCall:
    id: str | None
    name: str | None
    arguments: str  # the JSON text of the arguments as delivered (reassembled when streamed)


@dataclass
class ToolCalls:
    calls: list[ToolCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- requests ------------------------------------------------------------------------------
def tools_extra(dialect: str, tools: Sequence[Mapping[str, Any]], choice: str | None
                ) -> dict[str, Any]:
    """``tools`` (OpenAI function tools: ``{type: function, function: {name, description,
    parameters}}``) and a forced call of ``choice`` (None: the service may choose), in
    ``dialect``'s request shape."""
    fns = [dict(t["function"]) for t in tools]
    if dialect == ANTHROPIC:
        out: dict[str, Any] = {"tools": [
            {"name": f["name"], "description": f.get("description", ""),
             "input_schema": f["parameters"]} for f in fns]}
        if choice:
            out["tool_choice"] = {"type": "tool", "name": choice}
        return out
    if dialect == RESPONSES:
        out = {"tools": [{"type": "function", "name": f["name"],
                          "description": f.get("description", ""),
                          "parameters": f["parameters"]} for f in fns]}
        if choice:
            out["tool_choice"] = {"type": "function", "name": choice}
        return out
    out = {"tools": [dict(t) for t in tools]}
    if choice:
        out["tool_choice"] = {"type": "function", "function": {"name": choice}}
    return out


def response_format_extra(dialect: str, name: str, schema: Mapping[str, Any]
                          ) -> dict[str, Any]:
    """A JSON Schema answer format in ``dialect``'s request shape (none in
    anthropic-messages: the catalog's dialect mapping makes API-012 not applicable)."""
    if dialect == RESPONSES:
        return {"text": {"format": {"type": "json_schema", "name": name,
                                    "schema": dict(schema), "strict": True}}}
    return {"response_format": {"type": "json_schema", "json_schema": {
        "name": name, "schema": dict(schema), "strict": True}}}


# -- answers -------------------------------------------------------------------------------
def _docs(events: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for ev in events:
        data = getattr(ev, "data", b"").strip()
        if data == b"[DONE]":
            continue
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def tool_calls(dialect: str, body: bytes | None, events: Sequence[Any]) -> ToolCalls:
    """The tool calls of one answer: from ``body`` (non-streaming) or the stream
    ``events`` (objects with a ``data`` bytes attribute, e.g. ``ChunkEvent``)."""
    if body is not None:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return ToolCalls(problems=[f"body is not JSON ({exc})"])
        if not isinstance(doc, dict):
            return ToolCalls(problems=["body is not a JSON object"])
        return _body_calls(dialect, doc)
    docs = _docs(events)
    if dialect == ANTHROPIC:
        return _anthropic_stream(docs)
    if dialect == RESPONSES:
        return _responses_stream(docs)
    return _chat_stream(docs)


def _body_calls(dialect: str, doc: dict[str, Any]) -> ToolCalls:
    out = ToolCalls()
    if dialect == ANTHROPIC:
        for b in doc.get("content") or []:
            if isinstance(b, dict) and b.get("type") == "tool_use":
                inp = b.get("input")
                args = json.dumps(inp) if isinstance(inp, dict) else repr(inp)
                out.calls.append(ToolCall(_s(b.get("id")), _s(b.get("name")), args))
        return out
    if dialect == RESPONSES:
        for it in doc.get("output") or []:
            if isinstance(it, dict) and it.get("type") == "function_call":
                out.calls.append(ToolCall(_s(it.get("call_id")), _s(it.get("name")),
                                          _s(it.get("arguments")) or ""))
        return out
    for ch in doc.get("choices") or []:
        msg = ch.get("message") if isinstance(ch, dict) else None
        for tc in (msg or {}).get("tool_calls") or []:
            fn = tc.get("function") if isinstance(tc, dict) else None
            if not isinstance(fn, dict):
                out.problems.append("a tool call without a function object")
                continue
            out.calls.append(ToolCall(_s(tc.get("id")), _s(fn.get("name")),
                                      _s(fn.get("arguments")) or ""))
    return out


def _chat_stream(docs: list[dict[str, Any]]) -> ToolCalls:
    parts: dict[int, dict[str, Any]] = {}
    out = ToolCalls()
    for doc in docs:
        for ch in doc.get("choices") or []:
            delta = ch.get("delta") if isinstance(ch, dict) else None
            for tc in (delta or {}).get("tool_calls") or []:
                if not isinstance(tc, dict) or not isinstance(tc.get("index"), int):
                    out.problems.append("a tool_calls delta without an integer index")
                    continue
                slot = parts.setdefault(tc["index"], {"id": None, "name": None, "args": []})
                fn: dict[str, Any] = tc["function"] if isinstance(tc.get("function"), dict) \
                    else {}
                for key, value in (("id", tc.get("id")), ("name", fn.get("name"))):
                    if isinstance(value, str) and value:
                        if slot[key] not in (None, value):
                            out.problems.append(f"tool call {tc['index']}: {key} changed "
                                                f"mid-stream ({slot[key]!r} → {value!r})")
                        slot[key] = value
                if isinstance(fn.get("arguments"), str):
                    slot["args"].append(fn["arguments"])
    for i in sorted(parts):
        p = parts[i]
        out.calls.append(ToolCall(p["id"], p["name"], "".join(p["args"])))
    return out


def _anthropic_stream(docs: list[dict[str, Any]]) -> ToolCalls:
    blocks: dict[int, dict[str, Any]] = {}
    out = ToolCalls()
    for doc in docs:
        kind, idx = doc.get("type"), doc.get("index")
        if kind == "content_block_start" and isinstance(idx, int):
            b = doc.get("content_block")
            if isinstance(b, dict) and b.get("type") == "tool_use":
                if b.get("input") not in (None, {}):
                    out.problems.append(f"block {idx}: tool_use starts with a non-empty input")
                blocks[idx] = {"id": _s(b.get("id")), "name": _s(b.get("name")), "args": []}
        elif kind == "content_block_delta" and isinstance(idx, int):
            d = doc.get("delta")
            if isinstance(d, dict) and d.get("type") == "input_json_delta":
                if idx not in blocks:
                    out.problems.append(f"block {idx}: input_json_delta outside a tool_use")
                    continue
                piece = d.get("partial_json")
                if isinstance(piece, str):
                    blocks[idx]["args"].append(piece)
                else:
                    out.problems.append(f"block {idx}: input_json_delta without partial_json")
    for i in sorted(blocks):
        b = blocks[i]
        out.calls.append(ToolCall(b["id"], b["name"], "".join(b["args"]) or "{}"))
    return out


def _responses_stream(docs: list[dict[str, Any]]) -> ToolCalls:
    items: dict[int, dict[str, Any]] = {}
    by_id: dict[str, int] = {}
    done: dict[int, dict[str, Any]] = {}
    out = ToolCalls()
    for doc in docs:
        kind, idx = doc.get("type"), doc.get("output_index")
        item = doc.get("item") if isinstance(doc.get("item"), dict) else None
        if kind == "response.output_item.added" and item and \
                item.get("type") == "function_call" and isinstance(idx, int):
            items[idx] = {"id": _s(item.get("call_id")), "name": _s(item.get("name")),
                          "args": []}
            if isinstance(item.get("id"), str):
                by_id[item["id"]] = idx
        elif kind == "response.function_call_arguments.delta":
            at = idx if isinstance(idx, int) else by_id.get(str(doc.get("item_id")))
            if at is None or at not in items:
                out.problems.append("function_call_arguments.delta for no function_call item")
                continue
            if isinstance(doc.get("delta"), str):
                items[at]["args"].append(doc["delta"])
        elif kind == "response.output_item.done" and item and \
                item.get("type") == "function_call" and isinstance(idx, int):
            done[idx] = item
    for i in sorted(items):
        it = items[i]
        call = ToolCall(it["id"], it["name"], "".join(it["args"]))
        final = done.get(i)
        if final is not None and (final.get("arguments") != call.arguments
                                  or final.get("name") != call.name):
            out.problems.append(f"output {i}: the completed function_call differs from its "
                                "reassembled deltas")
        out.calls.append(call)
    return out
