"""Tool calls and JSON-schema answers of the reference service (hqts-2026.2).

With tools (and ``tool_choice`` not ``none``) the simulator calls the forced tool (or the
first one) with arguments drawn valid against its ``parameters`` schema; with a
``response_format`` JSON Schema it answers a JSON value valid against it
(:mod:`~conformance.reference.jsongen`). The JSON text is delivered one token of the
declared tokenizer at a time, at the engine's pace, and billed as those tokens. Only the
simulator does this: the llama.cpp and upstream engines refuse such requests (their
declarations say the features are absent; docs/real-engine.md).

Defects act here: ``malformed_tool_args`` (the arguments are cut before their closing
brace), ``broken_tool_deltas`` (a stream drops the first argument fragment, so the deltas do
not reassemble to the call), ``ignores_response_format`` (a plain-text answer).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from conformance.reference.chat import ApiError, ChatParams, bad
from conformance.reference.engine import Finish, Token
from conformance.reference.jsongen import UnsupportedSchema, dumps, instance
from conformance.reference.state import ServiceState


@dataclass(frozen=True)
class Structured:
    text: str  # the JSON text delivered (arguments of the call, or the answer)
    ids: tuple[int, ...]  # its tokens
    tool: str | None = None  # the called tool; None: a structured answer
    call_id: str = ""


def plan(gw: ServiceState, p: ChatParams, rid: str) -> Structured | None:
    """What the answer to ``p`` must hold, or None for free text."""
    tool = None
    if p.tools and p.tool_choice != "none":
        tool = p.tool_choice if p.tool_choice not in ("auto", "required") \
            else str(p.tools[0]["function"]["name"])
        schema = next(t["function"].get("parameters", {}) for t in p.tools
                      if t["function"]["name"] == tool)
    elif p.response_schema is not None and "ignores_response_format" not in gw.defects:
        schema = p.response_schema
    else:
        return None
    if gw.engine.name != "sim":
        raise ApiError(400, f"tools and response_format are not supported by the "
                       f"{gw.engine.name} engine of the reference service.",
                       code="unsupported_parameter",
                       param="tools" if tool else "response_format")
    basis = json.dumps({"m": p.messages, "seed": p.seed, "tool": tool}, sort_keys=True,
                       default=str).encode()
    try:
        text = dumps(instance(schema, int.from_bytes(hashlib.sha256(basis).digest()[:8],
                                                     "big")))
    except (UnsupportedSchema, ValueError, TypeError) as exc:
        raise bad(f"the schema cannot be served: {exc}",
                  "tools" if tool else "response_format") from None
    if tool and "malformed_tool_args" in gw.defects:
        text = text[:-1]
    return Structured(text, tuple(gw.tokenizer.encode(text)), tool, f"call_{rid}_0")


async def delivered(events: AsyncGenerator[Token | Finish, None], s: Structured,
                    tokenizer_decode: Any) -> AsyncGenerator[Token | Finish, None]:
    """The engine's events (its timing) carrying ``s``'s tokens instead of its words; a
    complete delivery finishes ``tool_calls`` (a call) or ``stop`` (an answer)."""
    n = thought = 0
    async with contextlib.aclosing(events) as source:
        async for ev in source:
            if isinstance(ev, Token) and not ev.reasoning:
                if n < len(s.ids):
                    tid = s.ids[n]
                    yield Token(tokenizer_decode([tid]), tid, ev.logprob)
                n += 1
            elif isinstance(ev, Finish):
                if n >= len(s.ids):
                    yield Finish("tool_calls" if s.tool else "stop", len(s.ids) + thought)
                else:
                    yield ev
            else:
                thought += 1
                yield ev


def first_delta(s: Structured) -> dict[str, Any]:
    """The chat stream delta opening the call (id, name, empty arguments)."""
    return {"tool_calls": [{"index": 0, "id": s.call_id, "type": "function",
                            "function": {"name": s.tool, "arguments": ""}}]}


def args_delta(piece: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}


def message_call(s: Structured, arguments: str) -> list[dict[str, Any]]:
    """``message.tool_calls`` of a non-streamed answer."""
    return [{"id": s.call_id, "type": "function",
             "function": {"name": s.tool, "arguments": arguments}}]
