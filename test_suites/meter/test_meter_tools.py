"""METER-009 (hqts-2026.2): tool definitions metered as the declared template renders them.

Each probe sends a fresh W-short prompt with the suite's tools declared, streamed (with
usage) and not; the reference count is the declared tokenizer over the declared chat
template rendered with the messages and the tools (the template's ``tools`` variable, in
the OpenAI function-tool shape whatever the dialect). The count of the same prompt without
tools is recorded beside it, so a service that drops the tools from the bill shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conformance.checks import tools as checks
from conformance.pytest_plugin.fixtures import ProbeClient
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import TokenizerKit
from conformance.run.client.toolcalls import tools_extra
from conformance.run.toolsets import TOOLS

if TYPE_CHECKING:
    from test_suites.conftest import ParamsFactory, ProtocolCount

METER009_MAX_TOKENS = 8  # the prompt count is audited; the answer only has to arrive


@pytest.mark.requirement("METER-009")
def test_tool_definitions_metered(client: ProbeClient, record: Recorder,
                                  tokenizer: TokenizerKit, protocol_params: ParamsFactory,
                                  protocol_count: ProtocolCount) -> None:
    n = protocol_count("METER-009")
    reqs, refs = [], []
    for i in range(n):
        stream = i % 2 == 1
        extra = tools_extra(client.dialect, TOOLS, None)
        if stream:
            extra["stream_options"] = {"include_usage": True}
        p = protocol_params(19000 + i, stream=stream, max_tokens=METER009_MAX_TOKENS, **extra)
        msgs = list(p.messages)
        with_tools = tokenizer.tokenizer.count(
            tokenizer.template.render(msgs, add_generation_prompt=True, tools=TOOLS))
        refs.append((with_tools, tokenizer.count_messages(msgs)))
        reqs.append((f"meter009-{i}", p))
    for rec, (ref, without) in zip(client.many(reqs), refs, strict=True):
        record.observe(checks.tools_prompt_exact(rec, ref, without))
