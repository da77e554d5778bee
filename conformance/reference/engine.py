"""What the gateway asks of an inference engine, whatever engine it is."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Perturb:
    """Timing changes injected by defects (all neutral by default)."""

    extra_ttft_ms: float = 0.0
    tpot_factor: float = 1.0
    stall_at_token: int = 0
    stall_ms: float = 0.0
    tpot_growth: float | None = None


@dataclass(frozen=True)
class GenRequest:
    request_id: str
    model: str
    prompt_text: str
    prompt_ids: Sequence[int]
    messages: Sequence[Mapping[str, Any]]
    max_tokens: int
    max_tokens_requested: bool
    stop: tuple[str, ...] = ()
    seed: int | None = None
    temperature: float = 1.0
    cached_tokens: int = 0
    logprobs: bool = False
    top_logprobs: int = 0
    perturb: Perturb = field(default_factory=Perturb)


@dataclass(frozen=True)
class Token:
    """One delivered piece of output: normally exactly one engine token."""

    text: str
    token_id: int | None = None
    logprob: float | None = None
    n_tokens: int = 1
    reasoning: bool = False  # visible reasoning, streamed before the answer


@dataclass(frozen=True)
class Finish:
    reason: str  # "stop" | "length"
    completion_tokens: int  # tokens the engine generated and bills (EOS included if counted)


class EngineError(Exception):
    """The engine failed; the gateway answers 502/503 without details."""


class Engine(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def generate(self, req: GenRequest) -> AsyncGenerator[Token | Finish, None]: ...


async def perturbed(events: AsyncGenerator[Token | Finish, None], p: Perturb
                    ) -> AsyncGenerator[Token | Finish, None]:
    """Apply timing defects to an engine that has no latency model of its own (llama.cpp,
    upstream): extra delay before the first token, stretched gaps, one stall."""
    import asyncio
    import contextlib

    loop = asyncio.get_running_loop()
    n, last = 0, loop.time()
    async with contextlib.aclosing(events) as source:
        async for ev in source:
            if isinstance(ev, Token):
                n += 1
                now = loop.time()
                delay = p.extra_ttft_ms / 1000 if n == 1 else (now - last) * (p.tpot_factor - 1)
                if p.stall_at_token and n == p.stall_at_token:
                    delay += p.stall_ms / 1000
                if delay > 0:
                    await asyncio.sleep(delay)
                last = loop.time()
            yield ev
