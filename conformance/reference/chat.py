"""OpenAI Chat Completions: request validation and response/chunk shapes."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


class ApiError(Exception):
    """An error answered as OpenAI-shaped JSON: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


def bad(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, code=code, param=param)


@dataclass(frozen=True)
class ChatParams:
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    temperature: float = 1.0
    logprobs: bool = False
    top_logprobs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    tools: tuple[dict[str, Any], ...] = ()  # OpenAI function tools, as sent
    tool_choice: str = "auto"  # auto | none | required | the name of a forced tool
    response_schema: dict[str, Any] | None = None  # response_format json_schema's schema


def _unicode_clean(value: Any) -> bool:
    """No lone surrogates anywhere (JSON allows ``\\ud800``; UTF-8 cannot carry it)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


def parse_json(raw: bytes) -> Any:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise bad("The request body is not valid UTF-8.", code="invalid_json") from None
    except RecursionError:
        raise bad("The request body is nested too deeply.", code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise bad(f"We could not parse the JSON body of your request ({exc.msg}).",
                  code="invalid_json") from None
    except ValueError:
        raise bad("We could not parse the JSON body of your request.",
                  code="invalid_json") from None
    if not _unicode_clean(value):
        raise bad("The request body contains invalid Unicode (a lone surrogate escape).",
                  code="invalid_json")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _content(m: dict[str, Any], i: int) -> str | list[dict[str, Any]] | None:
    c = m.get("content")
    where = f"messages[{i}].content"
    if isinstance(c, str):
        if "\x00" in c:
            raise bad(f"{where} must not contain NUL characters.", where)
        return c
    if c is None:
        if m["role"] == "assistant":
            return None
        raise bad(f"{where} is required for role {m['role']!r}.", where,
                  code="missing_required_parameter")
    if isinstance(c, list):
        parts = []
        for j, p in enumerate(c):
            if not (isinstance(p, dict) and p.get("type") == "text"
                    and isinstance(p.get("text"), str)):
                raise bad(f"{where}[{j}] must be a text part: {{\"type\": \"text\", "
                          "\"text\": \"...\"}.", f"{where}[{j}]")
            if "\x00" in p["text"]:
                raise bad(f"{where}[{j}].text must not contain NUL characters.", where)
            parts.append({"type": "text", "text": p["text"]})
        return parts
    raise bad(f"{where} must be a string or a list of text parts.", where,
              code="invalid_type")


def parse_chat(body: Any, max_output_tokens: int) -> ChatParams:
    """Validate a decoded request body; every client error is a 400 with a precise message."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.", code="invalid_type")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("you must provide a model parameter", "model",
                  code="missing_required_parameter")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise bad("'messages' must be a non-empty array of message objects.", "messages",
                  code="missing_required_parameter" if msgs is None else "invalid_type")
    messages = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise bad(f"messages[{i}] must be an object.", f"messages[{i}]", code="invalid_type")
        if m.get("role") not in ROLES:
            raise bad(f"messages[{i}].role must be one of {sorted(ROLES)}.",
                      f"messages[{i}].role")
        messages.append({"role": m["role"], "content": _content(m, i)})
    mt = body.get("max_completion_tokens", body.get("max_tokens"))
    name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    if mt is not None and (not _is_int(mt) or not 1 <= mt <= max_output_tokens):
        raise bad(f"{name} must be an integer between 1 and {max_output_tokens}.", name)
    temp = body.get("temperature", 1.0)
    if temp is None:
        temp = 1.0
    if not _is_num(temp) or not 0 <= temp <= 2:
        raise bad("temperature must be a number between 0 and 2.", "temperature")
    top_p = body.get("top_p")
    if top_p is not None and (not _is_num(top_p) or not 0 <= top_p <= 1):
        raise bad("top_p must be a number between 0 and 1.", "top_p")
    n = body.get("n")
    if n is not None and n != 1:
        raise bad("Only n=1 is supported.", "n")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad("stream must be a boolean.", "stream", code="invalid_type")
    so = body.get("stream_options")
    if so is not None and not (isinstance(so, dict)
                               and isinstance(so.get("include_usage", False), bool)):
        raise bad("stream_options must be an object like {\"include_usage\": true}.",
                  "stream_options")
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif (isinstance(stop, list) and len(stop) <= 4
          and all(isinstance(s, str) and s for s in stop)):
        stops = tuple(stop)
    else:
        raise bad("stop must be a string or an array of up to 4 non-empty strings.", "stop")
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise bad("seed must be an integer.", "seed", code="invalid_type")
    logprobs = body.get("logprobs", False) or False
    if not isinstance(logprobs, bool):
        raise bad("logprobs must be a boolean.", "logprobs", code="invalid_type")
    top = body.get("top_logprobs") or 0
    if not _is_int(top) or not 0 <= top <= 20:
        raise bad("top_logprobs must be an integer between 0 and 20.", "top_logprobs")
    tools, choice = _tools(body)
    return ChatParams(model=model, messages=messages, stream=stream,
                      include_usage=bool(stream and so and so.get("include_usage")),
                      max_tokens=mt, stop=stops, seed=seed, temperature=float(temp),
                      logprobs=logprobs, top_logprobs=top, tools=tools, tool_choice=choice,
                      response_schema=_response_schema(body))


def _tools(body: dict[str, Any]) -> tuple[tuple[dict[str, Any], ...], str]:
    """``tools`` (function tools with a name and an object ``parameters`` schema) and
    ``tool_choice`` (auto, none, required or ``{type: function, function: {name}}``)."""
    raw = body.get("tools")
    if raw is None:
        return (), "auto"
    if not isinstance(raw, list):
        raise bad("tools must be an array of function tools.", "tools", code="invalid_type")
    for i, t in enumerate(raw):
        fn = t.get("function") if isinstance(t, dict) else None
        if not (isinstance(t, dict) and t.get("type") == "function" and isinstance(fn, dict)
                and isinstance(fn.get("name"), str) and fn["name"]
                and isinstance(fn.get("parameters", {}), dict)):
            raise bad(f"tools[{i}] must be {{\"type\": \"function\", \"function\": "
                      "{\"name\": ..., \"parameters\": {...}}}.", f"tools[{i}]")
    names = {t["function"]["name"] for t in raw}
    tc = body.get("tool_choice", "auto")
    if tc in ("auto", "none", "required"):
        return tuple(raw), str(tc)
    fn = tc.get("function") if isinstance(tc, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if name not in names:
        raise bad("tool_choice must be auto, none, required or name a declared tool.",
                  "tool_choice")
    return tuple(raw), str(name)


def _response_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    rf = body.get("response_format")
    if rf is None or (isinstance(rf, dict) and rf.get("type") == "text"):
        return None
    js = rf.get("json_schema") if isinstance(rf, dict) else None
    if isinstance(rf, dict) and rf.get("type") == "json_object":
        return {"type": "object"}
    if not (isinstance(rf, dict) and rf.get("type") == "json_schema" and isinstance(js, dict)
            and isinstance(js.get("schema"), dict)):
        raise bad("response_format must be {\"type\": \"json_schema\", \"json_schema\": "
                  "{\"name\": ..., \"schema\": {...}}}, json_object or text.",
                  "response_format")
    schema: dict[str, Any] = js["schema"]
    return schema


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    total_delta: int = 0
    reasoning_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens + self.total_delta,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


def logprob_entry(text: str, logprob: float) -> dict[str, Any]:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode()),
            "top_logprobs": []}


def completion_body(rid: str, model: str, text: str, finish: str, usage: Usage | None,
                    logprobs: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    return {
        "id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
        "system_fingerprint": "fp_tokencert_ref",
        "choices": [{"index": 0,
                     "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": {"content": list(logprobs)} if logprobs is not None else None,
                     "finish_reason": finish}],
        **({"usage": usage.as_dict()} if usage is not None else {}),
    }


def chunk(rid: str, model: str, created: int, delta: dict[str, Any],
          finish: str | None = None, logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_tokencert_ref",
            "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                         "finish_reason": finish}]}


def usage_chunk(rid: str, model: str, created: int, usage: Usage) -> dict[str, Any]:
    return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_tokencert_ref", "choices": [], "usage": usage.as_dict()}


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() \
        + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
