"""Shared METER probes: the multilingual metering corpus, sent once per session.

Every corpus request asks for what makes the strongest evidence the declaration offers:
streamed with usage (``stream_options.include_usage``), per-token ``logprobs`` where
declared, temperature 0 and a fixed seed (where declared) so that METER-004's non-streamed
twins can be compared. Half of the requests are cut by a small ``max_tokens`` (METER-006
needs responses at the cap), half may stop on their own (``finish_reason: stop``, where a
declared EOS token is billed). The reference prompt count is the declared tokenizer over
the declared chat template — nothing calibrated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.run.client import ChatParams
from conformance.run.corpora import MeteringCase, metering_cases
from conformance.run.records import RequestRecord

CUT_TOKENS = 8        # responses cut at the cap (finish_reason: length)
OPEN_TOKENS = 96      # room to stop naturally
SEND_CONCURRENCY = 4  # the metering phase's default

Send = Callable[..., list[RequestRecord]]


@pytest.fixture(scope="session")
def send_concurrent(client, evidence) -> Send:  # type: ignore[no-untyped-def]
    """``send_concurrent([(tag, ChatParams)], phase=..., concurrency=4, seq0=0)``: chat
    requests with up to ``concurrency`` in flight; each becomes the evidence record
    ``<phase>-<tag>``. Returns the records in request order."""

    def send(requests: Sequence[tuple[str, ChatParams]], *, phase: str,
             concurrency: int = SEND_CONCURRENCY, seq0: int = 0) -> list[RequestRecord]:
        async def go() -> list[RequestRecord]:
            gate = asyncio.Semaphore(max(1, concurrency))
            async with client.async_client() as c:
                async def one(i: int, tag: str, p: ChatParams) -> RequestRecord:
                    async with gate:
                        rec: RequestRecord = await c.chat(p, request_id=f"{phase}-{tag}",
                                                          phase=phase, seq=seq0 + i)
                    evidence.request(rec)
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


@dataclass(frozen=True)
class MeteringRun:
    probes: list[Probe]
    twin_extra: dict[str, Any]  # the sampling parameters every probe used


def sampling_extra(declaration: Any, seed: int) -> dict[str, Any]:
    """Deterministic sampling (temperature 0, the seed where declared) and per-token
    logprobs where declared."""
    f = declaration.model.features
    extra: dict[str, Any] = {"temperature": 0}
    if f.seed:
        extra["seed"] = seed % 2**31
    if f.logprobs:
        extra["logprobs"] = True
    return extra


def phase_settings(plan: Any, name: str) -> tuple[int, int]:
    """(seed, concurrency) of a plan phase, with defaults when the phase is not planned."""
    ph = plan.phase(name)
    return (ph.seed, max(1, ph.concurrency)) if ph is not None else (0, SEND_CONCURRENCY)


@pytest.fixture(scope="session")
def metering_run(send_concurrent, tokenizer, declaration, plan) -> MeteringRun:  # type: ignore[no-untyped-def]
    seed, conc = phase_settings(plan, "metering")
    extra = sampling_extra(declaration, seed)
    cap_max = declaration.model.max_output_tokens
    cases = metering_cases()
    reqs: list[tuple[str, ChatParams]] = []
    for i, case in enumerate(cases):
        cut = i % 2 == 0 or case.lang == "long"
        mt = min(CUT_TOKENS if cut else OPEN_TOKENS, cap_max)
        reqs.append((f"corpus-{case.id}", ChatParams(
            messages=case.messages, max_tokens=mt, stream=True,
            extra={**extra, "stream_options": {"include_usage": True}})))
    recs = send_concurrent(reqs, phase="metering", concurrency=conc)
    probes = [Probe(c, p, tokenizer.count_messages(c.messages), r)
              for c, (_, p), r in zip(cases, reqs, recs, strict=True)]
    return MeteringRun(probes, extra)
