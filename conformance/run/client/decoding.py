"""Helpers every dialect's decoder shares: garbage marking, plausible usage, token counts,
and the normalised usage and finish-reason vocabulary the checks read.

Checks read ``usage`` in the OpenAI Chat Completions vocabulary (``prompt_tokens``,
``completion_tokens``, ``total_tokens``, ``prompt_tokens_details.cached_tokens``,
``completion_tokens_details.reasoning_tokens``) and ``finish_reason`` as ``stop`` /
``length``; a dialect with other names maps its own to these and keeps the wire object
under ``usage["dialect_usage"]`` (the raw events stay in the evidence as sent).
"""

from __future__ import annotations

import json
import math
from typing import Any

from conformance.run.client.dialect import CountTokens
from conformance.run.records import RequestRecord

loads = json.JSONDecoder().decode
NOT_JSON = (ValueError, UnicodeDecodeError, RecursionError)  # RecursionError: a nesting bomb
MAX_COUNT = 2**53  # a token count past this is no count (and no float holds it exactly)


def tokens(text: str, count_tokens: CountTokens | None) -> int:
    if count_tokens is None:
        return 1
    try:
        return max(1, int(count_tokens(text)))
    except Exception:  # a tokenizer failure must not lose the chunk
        return 1


def garbage(record: RequestRecord, why: str) -> None:
    record.decode_errors.append(why)
    if record.error is None:
        record.error = "garbage"
        record.error_detail = why


def stream_error(record: RequestRecord, where: str, err: Any) -> None:
    """An error object inside a 2xx stream: a protocol error of the service."""
    record.decode_errors.append(f"{where}: error event {err!r:.200}")
    if record.error is None:
        record.error, record.error_detail = "protocol", "error event in stream"


def trailing_done(record: RequestRecord, data: bytes) -> bool:
    """An OpenAI-style ``[DONE]`` after a typed dialect's terminal event: some proxies and
    compatibility layers append it; it carries nothing and is ignored (before the terminal
    event it is no event of the dialect and stays garbage)."""
    return record.done_seen and data.strip() == b"[DONE]"


def plausible_usage(record: RequestRecord, usage: Any, where: str) -> dict[str, Any] | None:
    """``usage`` when it is an object whose numbers are plausible counts; a number past
    ``MAX_COUNT`` or not finite (a JSON bomb's ``1e999``) makes it garbage, not a count."""
    if not isinstance(usage, dict):
        return None
    for k, v in usage.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and not (
            math.isfinite(v) and abs(v) <= MAX_COUNT
        ):
            garbage(record, f"{where}: usage.{k!s:.40} is no plausible count")
            return None
    return usage


def as_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def as_int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def parse_event(record: RequestRecord, i: int, data: bytes) -> dict[str, Any] | None:
    """Event ``i``'s JSON object, or None (marked garbage) when it is none."""
    try:
        doc = loads(data.decode("utf-8"))  # SSE is UTF-8 (no encoding sniffing)
    except NOT_JSON as exc:
        garbage(record, f"event {i}: not JSON ({type(exc).__name__}: {exc})"[:300])
        return None
    if not isinstance(doc, dict):
        garbage(record, f"event {i}: not a JSON object")
        return None
    return doc


def parse_body(record: RequestRecord) -> dict[str, Any] | None:
    try:
        doc = json.loads(record.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        garbage(record, f"body: not JSON ({exc})")
        return None
    if not isinstance(doc, dict):
        garbage(record, "body: not a JSON object")
        return None
    return doc


def chunks_from(staged: list[tuple[int, str]], count_tokens: CountTokens | None
                ) -> list[tuple[int, str, int]]:
    """``(t_ns, text, tokens)`` for each staged delta, each distinct text counted once."""
    counted: dict[str, int] = {}
    out = []
    for t, text in staged:
        k = counted.get(text)
        if k is None:
            k = counted[text] = tokens(text, count_tokens)
        out.append((t, text, k))
    return out


def normalised_usage(prompt: int | None, completion: int | None, *, cached: int | None = None,
                     reasoning: int | None = None, total: int | None = None,
                     raw: dict[str, Any]) -> dict[str, Any]:
    """The checks' usage vocabulary from a dialect's counts (``raw``: the wire object).
    ``total`` is the service's own total where the dialect reports one, else the sum."""
    u: dict[str, Any] = {"dialect_usage": raw}
    if prompt is not None:
        u["prompt_tokens"] = prompt
    if completion is not None:
        u["completion_tokens"] = completion
    if total is not None:
        u["total_tokens"] = total
    elif prompt is not None and completion is not None:
        u["total_tokens"] = prompt + completion
    if cached is not None:
        u["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning is not None:
        u["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return u


def finish_record(record: RequestRecord, answer: list[tuple[int, str]],
                  reasoning: list[tuple[int, str]], count_tokens: CountTokens | None) -> None:
    """Set text, content chunks, visible reasoning and the first-token times of a stream."""
    record.content_chunks = chunks_from(answer, count_tokens)
    record.text = "".join(x for _, x in answer)
    record.first_token_ns = answer[0][0] if answer else None
    if reasoning:
        record.reasoning_text = "".join(x for _, x in reasoning)
        record.first_reasoning_ns = reasoning[0][0]
    if not record.events and record.error is None:
        garbage(record, "2xx streaming response carried no SSE data events")
