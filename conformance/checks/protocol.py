"""API-001..010: protocol conformance checks on single responses and on the whole run."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from conformance._core import resources
from conformance.checks.findings import Observation, failed, passed, undecided
from conformance.run.records import RequestRecord

CHAT = "openai-chat"
# each dialect's schema for a non-streaming answer (API-001) and one stream event (API-002)
BODY = {CHAT: "chat.completion", "anthropic-messages": "message",
        "openai-responses": "response"}
EVENT = {CHAT: "chat.completion.chunk", "anthropic-messages": "stream-event",
         "openai-responses": "stream-event"}
# the event a stream of the other dialects opens with (pings aside)
OPENING = {"anthropic-messages": "message_start", "openai-responses": "response.created"}


@cache
def _validator(name: str, dialect: str = CHAT) -> Draft202012Validator:
    path = resources.spec_dir() / "schemas" / "dialects" / f"{dialect}.{name}.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def schema_errors(name: str, doc: Any, dialect: str = CHAT) -> list[str]:
    """Violations of ``dialect``'s schema ``name`` (chat.completion, chat.completion.chunk,
    message, response, stream-event, error, models), each as ``$.path: message``."""
    out = []
    for e in _validator(name, dialect).iter_errors(doc):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        out.append(f"{path}: {e.message}")
    return out


def _json_body(rec: RequestRecord) -> tuple[Any, str | None]:
    if rec.body is None:
        return None, "no body"
    try:
        return json.loads(rec.body), None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"body is not JSON ({exc})"


def _rid(rec: RequestRecord) -> tuple[str, ...]:
    return (rec.request_id,)


def completion_schema(rec: RequestRecord, dialect: str = CHAT) -> Observation:
    """API-001: a non-streaming response matches the dialect's answer schema."""
    m = "schema_valid"
    if not rec.ok:
        return failed(m, f"status {rec.status}, error {rec.error}", evidence=_rid(rec))
    doc, err = _json_body(rec)
    if err:
        return failed(m, err, evidence=_rid(rec))
    errors = schema_errors(BODY[dialect], doc, dialect)
    return (failed(m, "; ".join(errors[:5]), evidence=_rid(rec)) if errors
            else passed(m, evidence=_rid(rec)))


def _chunks(rec: RequestRecord) -> tuple[list[Any], list[str]]:
    docs, problems = [], []
    for ev in rec.events:
        data = ev.data.strip()
        if data == b"[DONE]":
            continue
        try:
            docs.append(json.loads(data))
        except (json.JSONDecodeError, UnicodeDecodeError):
            problems.append(f"event is not JSON: {data[:60]!r}")
    return docs, problems


def stream_conformance(rec: RequestRecord, dialect: str = CHAT) -> Observation:
    """API-002: SSE framing, chunk schema, finish_reason on the last content chunk, [DONE]
    (other dialects: every event matches the dialect's event schema, the stream opens with
    its opening event, ends with its terminal event and states why it stopped)."""
    m = "stream_conformant"
    ev = _rid(rec)
    if not rec.ok:
        return failed(m, f"status {rec.status}, error {rec.error}", evidence=ev)
    problems: list[str] = []
    ctype = rec.headers.get("content-type", "")
    if not ctype.startswith("text/event-stream"):
        problems.append(f"content-type is {ctype!r}, not text/event-stream")
    problems.extend(rec.decode_errors)
    docs, bad = _chunks(rec)
    problems.extend(bad)
    for i, d in enumerate(docs):
        errs = schema_errors(EVENT[dialect], d, dialect)
        if errs:
            problems.append(f"chunk {i}: {errs[0]}")
    if dialect != CHAT:
        opened = next((d.get("type") for d in docs
                       if isinstance(d, dict) and d.get("type") != "ping"), None)
        if docs and opened != OPENING[dialect]:
            problems.append(f"the stream opens with {opened!r}, not {OPENING[dialect]}")
        if not rec.done_seen:
            problems.append("stream did not end with its terminal event (message_stop, "
                            "response.completed or response.incomplete)")
        elif rec.finish_reason is None:
            problems.append("the stream never says why it stopped")
        return (failed(m, "; ".join(problems[:6]), evidence=ev) if problems
                else passed(m, evidence=ev))
    with_choices = [d for d in docs if isinstance(d, dict) and d.get("choices")]
    if not with_choices:
        problems.append("no chunk with choices")
    elif not any(c.get("finish_reason") for c in with_choices[-1]["choices"]
                 if isinstance(c, dict)):
        problems.append("last chunk with choices carries no finish_reason")
    if not rec.done_seen:
        problems.append("stream did not end with data: [DONE]")
    return failed(m, "; ".join(problems[:6]), evidence=ev) if problems else passed(m, evidence=ev)


def usage_chunk(rec: RequestRecord, dialect: str = CHAT) -> Observation:
    """API-003: with include_usage, exactly one final usage chunk with empty choices (other
    dialects: the final usage event before the terminal one, see :func:`_final_usage`)."""
    m = "usage_chunk_ok"
    ev = _rid(rec)
    docs, _ = _chunks(rec)
    if dialect != CHAT:
        why = _final_usage(docs, dialect)
        return failed(m, why, evidence=ev) if why else passed(m, evidence=ev)
    usage_docs = [i for i, d in enumerate(docs) if isinstance(d, dict) and d.get("usage")]
    if len(usage_docs) != 1:
        return failed(m, f"{len(usage_docs)} chunks carry usage (expected exactly 1)", evidence=ev)
    i = usage_docs[0]
    if i != len(docs) - 1:
        return failed(m, "the usage chunk is not the last chunk before [DONE]", evidence=ev)
    if docs[i].get("choices"):
        return failed(m, "the usage chunk has non-empty choices", evidence=ev)
    return passed(m, evidence=ev)


def _final_usage(docs: list[Any], dialect: str) -> str | None:
    """Anthropic: the last ``message_delta`` carries ``usage.output_tokens`` and only
    ``message_stop`` follows it; Responses: the terminal ``response.completed`` /
    ``response.incomplete`` carries a usage object and is the last event (an in-progress
    snapshot before it may hold a placeholder usage, as some compatible servers send)."""
    kinds = [d.get("type") if isinstance(d, dict) else None for d in docs]
    if dialect == "anthropic-messages":
        deltas = [i for i, k in enumerate(kinds) if k == "message_delta"]
        if not deltas:
            return "no message_delta event (the final usage)"
        last = docs[deltas[-1]]
        u = last.get("usage")
        if not (isinstance(u, dict) and isinstance(u.get("output_tokens"), int)):
            return "the last message_delta carries no usage.output_tokens"
        if [k for k in kinds[deltas[-1] + 1:] if k != "ping"] != ["message_stop"]:
            return "the final usage is not followed by exactly message_stop"
        return None
    terminal = [i for i, k in enumerate(kinds) if k in ("response.completed",
                                                        "response.incomplete")]
    if not terminal:
        return "no response.completed or response.incomplete event (the final usage)"
    i = terminal[-1]
    resp = docs[i].get("response")
    if not (isinstance(resp, dict) and isinstance(resp.get("usage"), dict)):
        return f"the terminal {kinds[i]} carries no usage"
    if i != len(docs) - 1:
        return "the terminal event carrying the usage is not the last of the stream"
    return None


def max_tokens_honoured(rec: RequestRecord, max_tokens: int) -> Observation:
    """API-004: completion_tokens <= max_tokens, and finish_reason=length when cut."""
    m = "max_tokens_honoured"
    ev = _rid(rec)
    if not rec.ok:
        return failed(m, f"no usable response (status {rec.status}, error {rec.error})",
                      evidence=ev)
    if rec.usage is None:
        # every non-empty content chunk carries at least one token: more chunks than the
        # cap prove it ignored; otherwise the missing usage is API-003/METER-005's finding
        chunks = sum(1 for _, text, _ in rec.content_chunks if text)
        if chunks > max_tokens:
            return failed(m, f"{chunks} content chunks (>= 1 token each) > max_tokens "
                          f"{max_tokens}", evidence=ev)
        return undecided(m, "no_usage", "a successful answer without usage: the cap cannot "
                         f"be checked against completion_tokens ({chunks} content chunks)",
                         evidence=ev)
    n = rec.usage.get("completion_tokens")
    if not isinstance(n, int):
        return failed(m, "usage.completion_tokens missing", evidence=ev)
    if n > max_tokens:
        return failed(m, f"completion_tokens {n} > max_tokens {max_tokens}", evidence=ev)
    if n == max_tokens and rec.finish_reason not in ("length", "stop"):
        return failed(m, f"cut at the cap but finish_reason is {rec.finish_reason!r}",
                      evidence=ev)
    if n == max_tokens and rec.finish_reason == "stop":
        return passed(m, "ended naturally exactly at the cap", evidence=ev)
    if n < max_tokens and rec.finish_reason == "length":
        return failed(m, f"finish_reason length with only {n} of {max_tokens} tokens",
                      evidence=ev)
    return passed(m, evidence=ev)


def stop_honoured(rec: RequestRecord, stop: str, *, expect_stop: bool = False) -> Observation:
    """API-005: the output ends before the stop string, finish_reason=stop.

    ``expect_stop``: the same request without ``stop`` (a deterministic service) produced
    the stop string within the cap, so the output must end there with finish_reason=stop."""
    m = "stop_honoured"
    ev = _rid(rec)
    if not rec.ok:
        return failed(m, f"no usable response (status {rec.status}, error {rec.error})",
                      evidence=ev)
    text = rec.text or ""
    if stop in text:
        return failed(m, f"output contains the stop string {stop!r}", evidence=ev)
    if expect_stop and rec.finish_reason != "stop":
        return failed(m, f"the output would reach {stop!r} but finish_reason is "
                      f"{rec.finish_reason!r}", evidence=ev)
    if rec.finish_reason not in ("stop", "length"):
        return failed(m, f"finish_reason {rec.finish_reason!r}", evidence=ev)
    return passed(m, evidence=ev)


def client_error(rec: RequestRecord, what: str, dialect: str = CHAT) -> Observation:
    """API-006: a client mistake gets 4xx and the OpenAI error body, never 5xx."""
    m = "client_error_ok"
    ev = _rid(rec)
    if rec.error is not None:
        return failed(m, f"{what}: no answer ({rec.error})", evidence=ev)
    status = rec.status or 0
    if not 400 <= status < 500:
        return failed(m, f"{what}: status {status}, expected 4xx", evidence=ev)
    doc, err = _json_body(rec)
    if err:
        return failed(m, f"{what}: {err}", evidence=ev)
    errors = schema_errors("error", doc, dialect)
    if errors:
        return failed(m, f"{what}: error body {errors[0]}", evidence=ev)
    return passed(m, f"{what}: {status}", evidence=ev)


def models_listed(rec: RequestRecord, declared: Sequence[str], dialect: str = CHAT
                  ) -> Observation:
    """API-007: GET /v1/models lists every declared model."""
    m = "models_listed"
    ev = _rid(rec)
    doc, err = _json_body(rec)
    if not rec.ok or err:
        return failed(m, f"status {rec.status}: {err or rec.error}", evidence=ev)
    errors = schema_errors("models", doc, dialect)
    if errors:
        return failed(m, errors[0], evidence=ev)
    listed = {d["id"] for d in doc["data"]}
    missing = [x for x in declared if x not in listed]
    return (failed(m, f"not listed: {', '.join(missing)}", evidence=ev) if missing
            else passed(m, evidence=ev))


OVERLONG_KEYWORDS = ("context", "length", "too long", "token", "maximum")


def overlong_rejected(rec: RequestRecord, context_window: int,
                      keywords: Sequence[str] = OVERLONG_KEYWORDS) -> Observation:
    """API-008: a prompt beyond the context window gets 4xx with a clear message: one that
    holds one of ``keywords`` (the catalog's ``message_keywords``), case-insensitive."""
    m = "overlong_rejected"
    ev = _rid(rec)
    status = rec.status or 0
    if rec.ok:
        return failed(m, "accepted a prompt beyond the declared context window "
                      f"({context_window} tokens): silent truncation", evidence=ev)
    if not 400 <= status < 500:
        return failed(m, f"status {status} (error {rec.error}), expected 4xx", evidence=ev)
    doc, _ = _json_body(rec)
    msg = ""
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        msg = str(doc["error"].get("message", ""))
    if not any(k.lower() in msg.lower() for k in keywords if k):
        return failed(m, f"4xx without a clear message: {msg[:120]!r}", evidence=ev)
    return passed(m, f"{status}: {msg[:120]}", evidence=ev)


def request_ids_unique(records: Iterable[RequestRecord]) -> list[Observation]:
    """API-009 (whole run): every response has a request id, unique across the run."""
    m = "request_id_unique"
    recs = [r for r in records if r.status is not None]
    ids = Counter(r.response_id or r.headers.get("x-request-id") for r in recs)
    out = []
    for r in recs:
        rid = r.response_id or r.headers.get("x-request-id")
        if not rid:
            out.append(failed(m, "no request id (header x-request-id or body id)",
                              evidence=_rid(r)))
        elif ids[rid] > 1:
            out.append(failed(m, f"request id {rid!r} used {ids[rid]} times", evidence=_rid(r)))
        else:
            out.append(passed(m, evidence=_rid(r)))
    return out


def model_matches(rec: RequestRecord, requested: str,
                  aliases: Mapping[str, Sequence[str]]) -> Observation:
    """API-010: the response's model is the requested one or a declared alias of it."""
    m = "model_matches"
    ev = _rid(rec)
    got = rec.model
    if got is None:
        return failed(m, "response carries no model field", evidence=ev)
    if got == requested or got in aliases.get(requested, ()):
        return passed(m, evidence=ev)
    return failed(m, f"requested {requested!r}, response says {got!r}", evidence=ev)
