"""Plan phases → load-engine phase specs, and the default request factory of a workload."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.declaration.models import TokenizerRef
from conformance.plan import PhasePlan
from conformance.run.client import ChatParams
from conformance.run.load import (
    Arrival,
    Burst,
    Concurrency,
    ConstantRate,
    PhaseSpec,
    Poisson,
    Sequential,
    StopConditions,
)
from conformance.run.prompts import PromptFactory, PromptSpec
from conformance.run.tokenize import ChatTemplate, Tokenizer, load_tokenizer


def arrival(pp: PhasePlan) -> Arrival:
    s, n = pp.strategy, max(1, pp.concurrency)
    if s == "sequential":
        return Sequential() if pp.rate_rps is None else ConstantRate(pp.rate_rps, 1)
    if s == "concurrent":
        # a rate set on a closed loop is the declared-limit cap (rpm/tpm): open loop at the
        # cap, never more than ``n`` in flight
        return Concurrency(n) if pp.rate_rps is None else ConstantRate(pp.rate_rps, n)
    if s == "constant":
        return ConstantRate(pp.rate_rps or 1.0, n if pp.concurrency > 1 else None)
    if s == "poisson":
        return Poisson(pp.rate_rps or 1.0, n if pp.concurrency > 1 else None)
    if s == "burst":
        total = pp.requests or n
        return Burst(size=n, bursts=max(1, -(-total // n)), interval_s=1.0)
    raise ValueError(f"unknown strategy {s!r}")


def phase_spec(pp: PhasePlan) -> PhaseSpec:
    return PhaseSpec(
        name=pp.name,
        arrival=arrival(pp),
        stop=StopConditions(max_requests=pp.requests, duration_s=pp.duration_s,
                            max_error_rate=pp.max_error_rate),
        seed=pp.seed,
        processes=pp.processes,
    )


MAX_PREBUILT = 5000


@dataclass(frozen=True)
class PromptSource:
    """What a worker process needs to build prompts itself: the declared files (picklable)."""

    tokenizer: TokenizerRef
    template: Path
    bos_token: str | None = None
    eos_token: str | None = None

    def open(self) -> tuple[Tokenizer, ChatTemplate]:
        return (load_tokenizer(self.tokenizer),
                ChatTemplate.from_file(self.template, self.bos_token, self.eos_token))


@dataclass
class WorkloadFactory:
    """``factory(seq, rng)``: a fresh, unique prompt of the workload's exact input length,
    asking for exactly its output length, streamed with usage.

    Building a prompt of exact token length takes tens of milliseconds of tokenizer work;
    done on the event loop during the phase it would delay every other stream's reads.
    :meth:`prepare` builds the prompts the phase is expected to use before it starts. The
    factory pickles (for worker processes) without its tokenizer, which a worker reopens
    from the declared files when it runs past the prepared prompts."""

    source: PromptSource
    seed: int
    input_tokens: int
    output_tokens: int
    cache: dict[int, ChatParams] = field(default_factory=dict)
    kit: tuple[Tokenizer, ChatTemplate] | None = field(default=None, repr=False)
    _prompts: PromptFactory | None = field(default=None, init=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "kit": None, "_prompts": None}

    def prompts(self) -> PromptFactory:
        if self._prompts is None:
            tok, tpl = self.kit or self.source.open()

            def count(msgs: Sequence[Any]) -> int:
                return tok.count(tpl.render(msgs, add_generation_prompt=True))

            self._prompts = PromptFactory(count, tok.encode, lambda ids: tok.decode(ids),
                                          self.seed)
        return self._prompts

    def prepare(self, seqs: Iterable[int]) -> None:
        for seq in seqs:
            if seq not in self.cache:
                self.cache[seq] = self.build(seq)

    def __call__(self, seq: int, rng: random.Random) -> ChatParams:
        hit = self.cache.pop(seq, None)
        return hit if hit is not None else self.build(seq)

    def build(self, seq: int) -> ChatParams:
        msgs = self.prompts().make(seq, PromptSpec(self.input_tokens))
        return ChatParams(messages=tuple(msgs), max_tokens=self.output_tokens, stream=True,
                          extra={"stream_options": {"include_usage": True}})


def default_factory(pp: PhasePlan, source: PromptSource,
                    kit: tuple[Tokenizer, ChatTemplate] | None = None) -> WorkloadFactory:
    return WorkloadFactory(source, pp.seed, pp.input_tokens or 100, pp.output_tokens or 100,
                           kit=kit)


def expected_requests(pp: PhasePlan, declared_concurrency: int, capacity_tps: float) -> int:
    """How many requests the phase will likely send (for prompt preparation): its request
    count, or its duration × the rate the declared capacity predicts, with margin."""
    if pp.requests is not None:
        return pp.requests
    if pp.duration_s is None:
        return pp.concurrency
    if pp.rate_rps is not None and pp.strategy in ("constant", "poisson"):
        rps = pp.rate_rps
    else:
        per_stream = capacity_tps / max(1, declared_concurrency) / max(1, pp.output_tokens or 1)
        rps = per_stream * pp.concurrency
        if pp.rate_rps is not None:
            rps = min(rps, pp.rate_rps)
    n = math.ceil(pp.duration_s * rps * 1.5) + pp.concurrency + pp.warmup_requests
    return min(n, MAX_PREBUILT)
