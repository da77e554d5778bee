"""Suite infrastructure shared by every requirement test.

The tokencert pytest plugin provides the core fixtures (``record``, ``client``,
``sustained_phase``, ``tokenizer``, ``declaration``, ``catalog``, ``plan``, ...; see
``conformance/pytest_plugin/fixtures.py``). This file adds helpers the suites share and
keeps the suite inert when pytest runs without ``--tokencert-candidate``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

import pytest

from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.pytest_plugin.session import PhaseData, Session, TokenizerKit
from conformance.run.client import ChatParams, Client
from conformance.run.evidence import EvidenceStore, read_evidence
from conformance.run.prompts import PromptFactory, PromptSpec
from conformance.run.records import RequestRecord
from conformance.spec import Catalog, Condition, Level

if TYPE_CHECKING:
    from conformance.checks.audit import AuditedCount
    from conformance.run.tokenize.vocab import Vocabulary

PROTOCOL_MAX_TOKENS = 32  # protocol checks need a well-formed answer, not a long one


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "run_late(rank): run after the other tests (rank 1: exhausts a limit, "
        "rank 2: scans the evidence of the whole run)")


def _rank(item: pytest.Item) -> int:
    m = item.get_closest_marker("run_late")
    return int(m.args[0]) if m is not None and m.args else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: file order otherwise
    if config.getoption("tokencert_candidate", None):
        return
    skip = pytest.mark.skip(reason="conformance tests need --tokencert-candidate "
                            "(run them with `tokencert run`)")
    for it in items:
        it.add_marker(skip)


# The types of this file's fixtures, for the suites' annotations (imported there under
# TYPE_CHECKING: pytest hands fixtures over by name, never by import).


class ParamsFactory(Protocol):
    """``protocol_params``."""

    def __call__(self, seq: int, *, stream: bool, max_tokens: int | None = ...,
                 **extra: object) -> ChatParams: ...


ProtocolCount = Callable[[str], int]
RawSend = Callable[[Client], Awaitable[list[RequestRecord]]]


class SendRaw(Protocol):
    """``send_raw``."""

    def __call__(self, fn: RawSend, *, timeout_s: float | None = None,
                 api_key: str | None = None) -> list[RequestRecord]: ...


RunRecords = Callable[[], list[RequestRecord]]
Audit = Callable[[RequestRecord], "AuditedCount"]
# the plugin's own fixtures, under short names
LoadRunner = Callable[[str], PhaseData]
Thresholds = Mapping[Level, tuple[Condition, ...]]


@pytest.fixture(scope="session")
def protocol_params(tokenizer: TokenizerKit, plan: Plan) -> ParamsFactory:
    """``protocol_params(seq, stream=..., **extra)``: a fresh W-short prompt (the protocol
    phase's workload) with a small ``max_tokens``; deterministic in ``seq``."""
    ph = plan.phase("protocol")
    seed = ph.seed if ph is not None else 0
    input_tokens = (ph.input_tokens if ph is not None else None) or 100
    factory = PromptFactory(tokenizer.count_messages, tokenizer.tokenizer.encode,
                            tokenizer.tokenizer.decode, seed)

    def make(seq: int, *, stream: bool, max_tokens: int | None = PROTOCOL_MAX_TOKENS,
             **extra: object) -> ChatParams:
        msgs = factory.make(seq, PromptSpec(input_tokens))
        return ChatParams(messages=tuple(msgs), max_tokens=max_tokens, stream=stream,
                          extra=dict(extra))

    return make


@pytest.fixture(scope="session")
def protocol_count(plan: Plan, catalog: Catalog) -> ProtocolCount:
    """How many probes a protocol requirement sends: enough for its highest level's
    ``min_evidence``, and a share of the profile's protocol requests."""
    ph = plan.phase("protocol")
    budget = ph.requests if ph is not None and ph.requests else 4

    def count(rid: str) -> int:
        req = catalog.get(rid)
        need = max((e.samples or 1 for e in req.min_evidence.values()), default=1)
        return max(need, budget // 4)

    return count


@pytest.fixture(scope="session")
def send_raw(tokencert_session: Session, evidence: EvidenceStore) -> SendRaw:
    """``send_raw(fn, timeout_s=None, api_key=None)``: run ``await fn(client)`` on a fresh
    measuring client (``post_raw``/``get`` with any auth) and record every record it returns
    as evidence. ``api_key``: another key for the client (the second tenant)."""
    s = tokencert_session

    def send(fn: RawSend, *, timeout_s: float | None = None,
             api_key: str | None = None) -> list[RequestRecord]:
        cfg = s.client_config(timeout_s)
        if api_key is not None:
            cfg = dataclasses.replace(cfg, api_key=api_key)

        async def go() -> list[RequestRecord]:
            async with Client(cfg, redactor=s.redactor,
                              count_tokens=s.tokenizer.tokenizer.count) as c:
                return await fn(c)

        recs = asyncio.run(go())
        for r in recs:
            evidence.request(r)
        evidence.checkpoint()
        return recs

    return send


@pytest.fixture
def run_records(evidence: EvidenceStore) -> RunRecords:
    """``run_records()``: every request record of the whole run so far, all phases (raw
    bodies and events restored), as written to the evidence (redacted)."""

    def load() -> list[RequestRecord]:
        evidence.checkpoint()
        ev = read_evidence(evidence.root)
        return [r for ph in ev.phases.values() for r in ph.records(evidence.root)]

    return load


@pytest.fixture(scope="session")
def vocabulary(tokenizer: TokenizerKit) -> Vocabulary:
    """The declared vocabulary as bytes (METER-003's logprob and chunk checks, and the
    longest token: the byte bound per token of every audited count)."""
    from conformance.run.tokenize.vocab import Vocabulary

    return Vocabulary.of(tokenizer.tokenizer)


@pytest.fixture(scope="session")
def audit(tokenizer: TokenizerKit, declaration: Declaration,
          vocabulary: Vocabulary) -> Audit:
    """``audit(record)`` → the auditor's :class:`~conformance.checks.audit.AuditedCount` of
    one response's completion tokens (cached per record id): what TPOT, throughput and
    billing figures use instead of the service's own ``completion_tokens``."""
    from conformance.checks.audit import audit_completion

    m = declaration.model
    seen: dict[str, AuditedCount] = {}

    def one(rec: RequestRecord) -> AuditedCount:
        a = seen.get(rec.request_id)
        if a is None:
            a = seen[rec.request_id] = audit_completion(
                rec, tokenizer.tokenizer.count, vocabulary, logprobs=m.features.logprobs,
                one_token_per_chunk=m.features.one_token_per_chunk,
                eos_counted=m.eos_counted)
        return a

    return one
