"""API-011, API-012 (hqts-2026.2): tool calls and structured output, streamed and not.

The tools and the answer schema are fixed (:mod:`conformance.run.toolsets`); each probe
forces a call of one tool (API-011) or asks for an answer in the schema (API-012) and
judges what came back with ``jsonschema``. Streamed probes are reassembled from the
dialect's deltas (:mod:`conformance.run.client.toolcalls`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from conformance.checks import tools as checks
from conformance.pytest_plugin.fixtures import ProbeClient
from conformance.pytest_plugin.record import Recorder
from conformance.run.client.toolcalls import response_format_extra, tools_extra
from conformance.run.toolsets import ANSWER_SCHEMA, SCHEMAS, TOOLS

if TYPE_CHECKING:
    from test_suites.conftest import ParamsFactory, ProtocolCount

TOOL_MAX_TOKENS = 256  # room for a complete call or answer: a cut one cannot be judged


@pytest.mark.requirement("API-011")
def test_tool_calls(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                    protocol_count: ProtocolCount) -> None:
    """Each tool forced in turn, streamed and not."""
    n = protocol_count("API-011")
    reqs, chosen = [], []
    for i in range(n):
        name = TOOLS[i % len(TOOLS)]["function"]["name"]
        extra = tools_extra(client.dialect, TOOLS, name)
        if i % 2 == 1:
            extra["stream_options"] = {"include_usage": True}
        reqs.append((f"api011-{i}", protocol_params(11000 + i, stream=i % 2 == 1,
                                                    max_tokens=TOOL_MAX_TOKENS, **extra)))
        chosen.append(name)
    for rec, name in zip(client.many(reqs), chosen, strict=True):
        record.observe(checks.tool_call_valid(rec, client.dialect, SCHEMAS, name))


@pytest.mark.requirement("API-012")
def test_structured_output(client: ProbeClient, record: Recorder,
                           protocol_params: ParamsFactory,
                           protocol_count: ProtocolCount) -> None:
    n = protocol_count("API-012")
    fmt = response_format_extra(client.dialect, "review", ANSWER_SCHEMA)
    reqs = []
    for i in range(n):
        extra: dict[str, Any] = dict(fmt)
        if i % 2 == 1:
            extra["stream_options"] = {"include_usage": True}
        reqs.append((f"api012-{i}", protocol_params(12000 + i, stream=i % 2 == 1,
                                                    max_tokens=TOOL_MAX_TOKENS, **extra)))
    for rec in client.many(reqs):
        record.observe(checks.structured_output_valid(rec, ANSWER_SCHEMA))
