"""API-011, API-012, METER-009 (hqts-2026.2): tool calls, structured output and the
metering of tool definitions, each a pure check on one recorded answer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from conformance.checks.findings import Observation, failed, passed, undecided
from conformance.run.client.toolcalls import tool_calls
from conformance.run.records import RequestRecord


def _rid(rec: RequestRecord) -> tuple[str, ...]:
    return (rec.request_id,)


def schema_violations(instance: Any, schema: Mapping[str, Any], limit: int = 3) -> list[str]:
    """``instance`` against a JSON Schema (Draft 2020-12), as ``$.path: message`` lines."""
    try:
        validator = Draft202012Validator(dict(schema))
    except SchemaError as exc:  # the suite's own schema: an instrument fault, never a fail
        raise ValueError(f"invalid tool schema: {exc.message}") from None
    out = []
    for e in validator.iter_errors(instance):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        out.append(f"{path}: {e.message}")
        if len(out) >= limit:
            break
    return out


def call_problems(calls: Sequence[Any], tools: Mapping[str, Mapping[str, Any]],
                  choice: str | None) -> list[str]:
    """What is wrong with decoded calls (``ToolCall``) given the declared ``tools`` (name →
    parameters schema) and a forced ``choice``: at least one call, ids present and unique,
    names declared (the forced one when forced), arguments a JSON object valid against the
    tool's schema."""
    if not calls:
        return ["no tool call in the answer"]
    problems: list[str] = []
    ids = [c.id for c in calls]
    if any(not i for i in ids):
        problems.append("a tool call has no id")
    elif len(set(ids)) != len(ids):
        problems.append(f"tool call ids repeat: {ids}")
    for n, c in enumerate(calls):
        if c.name not in tools:
            problems.append(f"call {n}: {c.name!r} is not a declared tool ({sorted(tools)})")
            continue
        if choice and c.name != choice:
            problems.append(f"call {n}: {c.name!r} called, {choice!r} was required")
        try:
            args = json.loads(c.arguments)
        except ValueError as exc:
            problems.append(f"call {n} ({c.name}): arguments are not JSON ({exc}): "
                            f"{c.arguments[:80]!r}")
            continue
        if not isinstance(args, dict):
            problems.append(f"call {n} ({c.name}): arguments are not a JSON object")
            continue
        problems += [f"call {n} ({c.name}): {v}" for v in schema_violations(args, tools[c.name])]
    return problems


def tool_call_valid(rec: RequestRecord, dialect: str,
                    tools: Mapping[str, Mapping[str, Any]], choice: str | None
                    ) -> Observation:
    """API-011: the answer holds well-formed calls of declared tools with schema-valid
    arguments; streamed, its deltas reassemble to such calls."""
    m = "tool_call_valid"
    if not rec.ok:
        return failed(m, f"status {rec.status}, error {rec.error}", evidence=_rid(rec))
    decoded = tool_calls(dialect, rec.body, rec.events)
    problems = decoded.problems + call_problems(decoded.calls, tools, choice)
    data = {"calls": [{"id": c.id, "name": c.name, "arguments": c.arguments[:400]}
                      for c in decoded.calls], "stream": rec.stream}
    if problems:
        return failed(m, "; ".join(problems[:5]), evidence=_rid(rec), data=data)
    return passed(m, f"{len(decoded.calls)} call(s)", evidence=_rid(rec), data=data)


def structured_output_valid(rec: RequestRecord, schema: Mapping[str, Any]) -> Observation:
    """API-012: a finished answer's text parses as JSON valid against ``schema``; an answer
    cut by max_tokens is judged on how it begins only (a JSON value of the schema's type:
    ``{`` for an object), else it cannot be judged."""
    m = "structured_output_valid"
    if not rec.ok:
        return failed(m, f"status {rec.status}, error {rec.error}", evidence=_rid(rec))
    text = rec.text or ""
    if rec.finish_reason == "length":
        opening = {"object": "{", "array": "["}.get(str(schema.get("type")), "")
        if opening and not text.lstrip().startswith(opening):
            return failed(m, f"the answer (cut by max_tokens) does not begin as a JSON "
                          f"{schema.get('type')}: {text[:80]!r}", evidence=_rid(rec))
        return undecided(m, "cut_by_max_tokens", "the answer was cut by max_tokens",
                         evidence=_rid(rec))
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return failed(m, f"the answer is not JSON ({exc}): {text[:80]!r}", evidence=_rid(rec))
    bad = schema_violations(doc, schema)
    if bad:
        return failed(m, "; ".join(bad), evidence=_rid(rec), data={"answer": text[:400]})
    return passed(m, evidence=_rid(rec))


def tools_prompt_exact(rec: RequestRecord, reference: int, without_tools: int) -> Observation:
    """METER-009: prompt_tokens of a request with tools equals the reference count of the
    template rendered with the tools (``without_tools``: the same prompt's count without
    them, stated so a report shows what the tools cost)."""
    m = "tools_prompt_exact"
    usage = rec.usage or {}
    got = usage.get("prompt_tokens")
    data = {"reported": got, "reference": reference, "without_tools": without_tools}
    if not rec.ok:
        return failed(m, f"status {rec.status}, error {rec.error}", evidence=_rid(rec),
                      data=data)
    if not isinstance(got, int):
        return failed(m, "no prompt_tokens in the usage", evidence=_rid(rec), data=data)
    if got != reference:
        hint = " (the tool definitions are not billed)" if got == without_tools else ""
        return failed(m, f"prompt_tokens {got} != reference {reference}{hint}",
                      evidence=_rid(rec), data=data)
    return passed(m, f"prompt_tokens {got} (tools add {reference - without_tools})",
                  evidence=_rid(rec), data=data)
