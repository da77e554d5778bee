"""Shared METER probes: the multilingual metering corpus, sent ``metering.repeats`` times
per session (the corpus itself, then a fresh seeded variant of every prompt per repeat).

Every corpus request asks for what makes the strongest evidence the declaration offers:
streamed with usage (``stream_options.include_usage``), per-token ``logprobs`` where
declared, temperature 0 and a fixed seed (where declared) so that METER-004's non-streamed
twins can be compared. Three in four requests are cut by a small ``max_tokens`` (an answer
cut by it holds exactly ``max_tokens`` tokens: settled evidence for METER-002/003 without
logprobs, and METER-006 needs responses at the cap), the others may stop on their own
(``finish_reason: stop``, where a declared EOS token is billed). A probe refused or failed
is retried (catalog ``probe_retries``) and then counts against its requirement. The
reference prompt count is the declared tokenizer over the declared chat template — nothing
calibrated.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from conformance.checks.metering import ProbePolicy
from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.pytest_plugin.fixtures import ProbeClient
from conformance.pytest_plugin.session import TokenizerKit
from conformance.run.client import ChatParams
from conformance.run.corpora import MeteringCase, metering_schedule
from conformance.run.evidence import EvidenceStore
from conformance.run.records import RequestRecord
from conformance.spec import Catalog

SEND_CONCURRENCY = 4  # the metering phase's default


class Send(Protocol):
    """``send_concurrent`` (the fixture's type, for the suites' annotations)."""

    def __call__(self, requests: Sequence[tuple[str, ChatParams]], *, phase: str,
                 concurrency: int = ..., seq0: int = ..., retries: int = ...,
                 wait_max_s: float = ...) -> list[RequestRecord]: ...


def _retry_wait(rec: RequestRecord, attempt: int, cap_s: float) -> float:
    """Seconds to wait before retrying ``rec``: its Retry-After (seconds) where given, else
    a short back-off; never more than the catalog's cap."""
    ra = rec.headers.get("retry-after", "")
    try:
        wait = float(ra) if ra else float(attempt)
    except ValueError:
        wait = float(attempt)
    return max(0.0, min(wait, cap_s))


@pytest.fixture(scope="session")
def probe_policy(catalog: Catalog) -> ProbePolicy:
    """Retries and the unanswered share the catalog allows the shared metering probes."""
    return ProbePolicy.of(catalog.get("METER-001"))


PACE_SHARE = 0.8  # audit probes start at most at this share of the declared request rate
PACE_BURST_S = 10.0  # ... after a burst of this many seconds' worth of requests


@pytest.fixture(scope="session")
def send_concurrent(client: ProbeClient, evidence: EvidenceStore,
                    declaration: Declaration) -> Send:
    """``send_concurrent([(tag, ChatParams)], phase=..., concurrency=4, seq0=0, retries=0)``:
    chat requests with up to ``concurrency`` in flight; each becomes the evidence record
    ``<phase>-<tag>``. A probe refused or failed is sent again up to ``retries`` times
    (``<phase>-<tag>-retryK``, after its Retry-After, capped at ``wait_max_s``), every try
    kept as evidence. Starts are paced under the declared rpm (a service honouring its own
    limit may refuse a probe sent beyond it). Returns the last try of each probe, in request
    order."""
    interval = 60.0 / max(1e-9, declaration.limits.rpm * PACE_SHARE)

    def send(requests: Sequence[tuple[str, ChatParams]], *, phase: str,
             concurrency: int = SEND_CONCURRENCY, seq0: int = 0, retries: int = 0,
             wait_max_s: float = 30.0) -> list[RequestRecord]:
        async def go() -> list[RequestRecord]:
            gate = asyncio.Semaphore(max(1, concurrency))
            loop = asyncio.get_running_loop()
            # a token bucket: a burst of PACE_BURST_S seconds' worth, then the paced rate
            slot = [loop.time() - PACE_BURST_S]

            async def paced() -> None:  # the next start slot under the declared rpm
                now = loop.time()
                at = slot[0] = max(slot[0] + interval, now - PACE_BURST_S)
                if at > now:
                    await asyncio.sleep(at - now)

            async with client.async_client() as c:
                async def one(i: int, tag: str, p: ChatParams) -> RequestRecord:
                    rec: RequestRecord | None = None
                    for k in range(retries + 1):
                        if rec is not None:
                            await asyncio.sleep(_retry_wait(rec, k, wait_max_s))
                        rid = f"{phase}-{tag}" + (f"-retry{k}" if k else "")
                        async with gate:
                            await paced()
                            rec = await c.chat(p, request_id=rid, phase=phase,
                                               seq=seq0 + i + 100_000 * k)
                        evidence.request(rec)
                        if rec.ok:
                            break
                    assert rec is not None
                    return rec
                return list(await asyncio.gather(
                    *(one(i, t, p) for i, (t, p) in enumerate(requests))))

        recs = asyncio.run(go())
        evidence.checkpoint()
        return recs

    return send


@dataclass(frozen=True)
class Probe:
    case: MeteringCase
    params: ChatParams
    reference: int   # declared tokenizer over the declared chat template
    record: RequestRecord
    repeat: int = 0


@dataclass(frozen=True)
class MeteringRun:
    probes: list[Probe]
    twin_extra: dict[str, Any]  # the sampling parameters every probe used


def sampling_extra(declaration: Declaration, seed: int) -> dict[str, Any]:
    """Deterministic sampling (temperature 0, the seed where declared) and per-token
    logprobs where declared."""
    f = declaration.model.features
    extra: dict[str, Any] = {"temperature": 0}
    if f.seed:
        extra["seed"] = seed % 2**31
    if f.logprobs:
        extra["logprobs"] = True
    return extra


def phase_settings(plan: Plan, name: str) -> tuple[int, int, int]:
    """(seed, concurrency, repeats) of a plan phase, with defaults when it is not planned."""
    ph = plan.phase(name)
    if ph is None:
        return 0, SEND_CONCURRENCY, 1
    return ph.seed, max(1, ph.concurrency), max(1, ph.repeats)


def variant(case: MeteringCase, repeat: int, seed: int) -> tuple[dict[str, str], ...]:
    """The case's messages for ``repeat``: the corpus itself first, then a fresh variant per
    repeat (a seeded tag before the last user message), so no cache can answer a repeat."""
    msgs = [dict(m) for m in case.messages]
    if repeat == 0:
        return tuple(msgs)
    tag = random.Random(f"{seed}:{case.id}:{repeat}").getrandbits(32)
    last = max(i for i, m in enumerate(msgs) if m.get("role") == "user")
    msgs[last]["content"] = f"[v{repeat}-{tag:08x}] {msgs[last]['content']}"
    return tuple(msgs)


@pytest.fixture(scope="session")
def metering_run(send_concurrent: Send, tokenizer: TokenizerKit, declaration: Declaration,
                 plan: Plan, probe_policy: ProbePolicy) -> MeteringRun:
    seed, conc, repeats = phase_settings(plan, "metering")
    extra = sampling_extra(declaration, seed)
    cap_max = declaration.model.max_output_tokens
    schedule = metering_schedule(repeats)
    reqs: list[tuple[str, ChatParams]] = []
    for sp in schedule:
        tag = f"corpus-{sp.case.id}" + (f"-r{sp.repeat}" if sp.repeat else "")
        reqs.append((tag, ChatParams(
            messages=variant(sp.case, sp.repeat, seed), max_tokens=min(sp.max_tokens, cap_max),
            stream=True, extra={**extra, "stream_options": {"include_usage": True}})))
    recs = send_concurrent(reqs, phase="metering", concurrency=conc,
                           retries=probe_policy.retries,
                           wait_max_s=probe_policy.retry_wait_max_s)
    probes = [Probe(sp.case, p, tokenizer.count_messages(p.messages), rec, sp.repeat)
              for sp, (_, p), rec in zip(schedule, reqs, recs, strict=True)]
    return MeteringRun(probes, extra)
