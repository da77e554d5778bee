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
