"""API-003..006, API-008, API-010: request parameters and client errors; API-009 over the run."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import pytest

from conformance.checks import protocol
from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.pytest_plugin.fixtures import ProbeClient
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import TokenizerKit
from conformance.run.client import ChatParams, Client
from conformance.run.dialect_probes import probes_for
from conformance.run.prompts import PromptFactory, PromptSpec
from conformance.run.records import RequestRecord
from conformance.spec import Requirement

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import ParamsFactory, ProtocolCount, RunRecords, SendRaw

@pytest.mark.requirement("API-003")
def test_stream_usage_chunk(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                            protocol_count: ProtocolCount) -> None:
    n = protocol_count("API-003")
    recs = client.many([(f"api003-{i}", protocol_params(
        3000 + i, stream=True, stream_options={"include_usage": True})) for i in range(n)])
    for rec in recs:
        record.observe(protocol.usage_chunk(rec, client.dialect))


@pytest.mark.requirement("API-004")
def test_max_tokens_honoured(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                             protocol_count: ProtocolCount) -> None:
    """Small caps (a W-short answer is longer), streamed and not, via max_tokens and
    max_completion_tokens."""
    n = protocol_count("API-004")
    reqs, caps = [], []
    for i in range(n):
        cap = 3 + i % 5
        stream = i % 2 == 1
        extra: dict[str, object] = {"stream_options": {"include_usage": True}} if stream else {}
        if i % 4 == 2:
            p = protocol_params(4000 + i, stream=stream, max_tokens=None,
                                max_completion_tokens=cap, **extra)
        else:
            p = protocol_params(4000 + i, stream=stream, max_tokens=cap, **extra)
        reqs.append((f"api004-{i}", p))
        caps.append(cap)
    for rec, cap in zip(client.many(reqs), caps, strict=True):
        record.observe(protocol.max_tokens_honoured(rec, cap))


@pytest.mark.requirement("API-005")
def test_stop_sequences(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                        protocol_count: ProtocolCount, declaration: Declaration) -> None:
    """A stop string taken from the middle of the answer to the same request without
    ``stop``: a deterministic service must end right before it with finish_reason=stop."""
    n = protocol_count("API-005")
    det = declaration.model.features.deterministic
    fixed = {"temperature": 0, "seed": 7}
    for i in range(n):
        stream = i % 2 == 1
        base = client.chat(f"api005-{i}-base", protocol_params(5000 + i, stream=stream,
                                                               max_tokens=48, **fixed))
        text = base.text or ""
        stop = _middle_word(text)
        if stop is None:  # nothing to stop on: still a stop request, judged without baseline
            stop, expect = "\n\n\n", False
        else:
            expect = det
        rec = client.chat(f"api005-{i}", protocol_params(5000 + i, stream=stream, max_tokens=48,
                                                         stop=[stop], **fixed))
        record.observe(protocol.stop_honoured(rec, stop, expect_stop=expect))


def _middle_word(text: str) -> str | None:
    """A word of ``text`` past its first quarter whose first occurrence is past the start.

    Never one holding U+FFFD: that is the client's stand-in for bytes that were not valid
    UTF-8 (a model may emit partial characters), not text the service generated, so a stop
    string with it cannot be matched by an honest service."""
    words = text.split()
    for w in words[len(words) // 3:]:
        if len(w) >= 3 and "\ufffd" not in w and text.find(w) > len(text) // 4:
            return w
    return None


@pytest.mark.requirement("API-006")
def test_client_errors(send_raw: SendRaw, record: Recorder, declaration: Declaration) -> None:
    """The catalog's client mistakes (conformance.run.dialect_probes), in the declared
    dialect, at its chat endpoint: 4xx with the dialect's error body."""
    dialect = declaration.endpoint.dialect
    probes = probes_for(dialect)
    chosen = probes.client_errors(declaration.model.id)

    async def go(c: Client) -> list[RequestRecord]:
        return [await c.post_raw(probes.path, case.body, headers=case.headers,
                                 request_id=f"protocol-api006-{case.id}", phase="protocol",
                                 seq=i) for i, case in enumerate(chosen)]

    for rec, case in zip(send_raw(go), chosen, strict=True):
        record.observe(protocol.client_error(rec, case.id, dialect))


@pytest.mark.requirement("API-008")
def test_context_window(client: ProbeClient, record: Recorder, tokenizer: TokenizerKit,
                        declaration: Declaration, plan: Plan, requirement: Requirement) -> None:
    """A prompt the catalog's ``overshoot`` share (at least ``overshoot_min_tokens``) past
    the declared context window, with a small max_tokens, streamed and not; the refusal's
    message must name the problem (``message_keywords``)."""
    cw = declaration.model.context_window
    past = max(int(requirement.param("overshoot_min_tokens")),
               math.ceil(cw * requirement.param("overshoot")))
    words = [w.strip() for w in str(requirement.parameters["message_keywords"]).split(",")]
    ph = plan.phase("protocol")
    factory = PromptFactory(tokenizer.count_messages, tokenizer.tokenizer.encode,
                            tokenizer.tokenizer.decode, ph.seed if ph is not None else 0)
    msgs = factory.make(8000, PromptSpec(cw + past))
    recs = client.many([(f"api008-{i}", ChatParams(messages=tuple(msgs), max_tokens=4,
                                                   stream=bool(i)))
                        for i in range(2)])
    for rec in recs:
        record.observe(protocol.overlong_rejected(rec, cw, [w for w in words if w]))


def _aliases(declaration: Declaration) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in declaration.models:
        names = [m.id, *m.aliases]
        for n in names:
            out[n] = [x for x in names if x != n]
    return out


@pytest.mark.requirement("API-010")
def test_model_identity(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                        protocol_count: ProtocolCount, declaration: Declaration) -> None:
    """Every declared model id and alias, streamed and not."""
    names = [n for m in declaration.models for n in (m.id, *m.aliases)]
    n = max(protocol_count("API-010"), 2 * len(names))
    reqs, asked = [], []
    for i in range(n):
        name = names[i % len(names)]
        p = protocol_params(10000 + i, stream=(i // len(names)) % 2 == 1, max_tokens=4)
        reqs.append((f"api010-{i}", dataclasses.replace(p, model=name)))
        asked.append(name)
    aliases = _aliases(declaration)
    for rec, name in zip(client.many(reqs), asked, strict=True):
        record.observe(protocol.model_matches(rec, name, aliases))


@pytest.mark.run_late(2)
@pytest.mark.requirement("API-009")
def test_request_ids_unique(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                            protocol_count: ProtocolCount, run_records: RunRecords) -> None:
    """Runs last: every response of the whole run (all phases) must carry an id that no
    other response repeats. Its own probes make sure there are enough of them."""
    n = max(protocol_count("API-009"), 10)
    client.many([(f"api009-{i}", protocol_params(9000 + i, stream=i % 2 == 1, max_tokens=4))
                 for i in range(n)])
    obs = protocol.request_ids_unique(run_records())
    record.observations("request_id_unique", obs,
                        detail={"records": len(obs), "scan": "whole run"})
