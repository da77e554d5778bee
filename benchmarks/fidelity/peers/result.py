"""The common shape of a peer's run: one :class:`PeerRequest` per request it sent.

Times keep the peer's own clock and say which: ``send_wall_ns`` is the peer's wall-clock
send stamp (both peers record one); ``send_mono_ns`` is the same instant on
``CLOCK_MONOTONIC`` (the ground-truth server's clock) — read directly where the peer records
``perf_counter_ns`` (AIPerf), else converted from wall time with the wall−monotonic offset
this process sampled around the run (GuideLLM stamps ``time.time()`` only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["ok", "error", "incomplete", "cancelled"]


class PeerRunError(RuntimeError):
    """A peer could not be installed, started, finished or parsed (message says which)."""


@dataclass(frozen=True)
class PeerRequest:
    """One request as the peer recorded it."""

    status: Status
    send_wall_ns: int
    send_mono_ns: int | None
    ttft_ms: float | None
    output_tokens: int | None
    end_wall_ns: int | None = None  # last byte received (peer's wall clock)
    itl_ms: tuple[float, ...] = ()  # every gap, where the peer exports them (AIPerf)
    chunk_mono_ns: tuple[int, ...] = ()  # content chunks received, monotonic (AIPerf raw)
    itl_mean_ms: float | None = None
    response_id: str | None = None  # the ``id`` of the chunks the server sent
    request_id: str | None = None  # the peer's own id (AIPerf sends it as X-Request-ID)
    error: str | None = None


@dataclass(frozen=True)
class PeerResult:
    """A finished peer run: its requests, its own summary, and how it was invoked."""

    peer: str
    version: str
    command: tuple[str, ...]
    out_dir: Path
    requests: tuple[PeerRequest, ...]
    reported: dict[str, float]  # the peer's own figures: ttft_p50_ms, ttft_p99_ms, ...
    wall_minus_mono_ns: int
    started_mono_ns: int
    ended_mono_ns: int
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> list[PeerRequest]:
        return [r for r in self.requests if r.status == "ok"]

    def achieved_rate(self) -> float:
        """Requests sent per second between the first and the last send (peer's clock)."""
        sends = sorted(r.send_wall_ns for r in self.requests)
        if len(sends) < 2 or sends[-1] == sends[0]:
            return 0.0
        return (len(sends) - 1) / ((sends[-1] - sends[0]) / 1e9)

    def tokens_per_s(self) -> float:
        """Output tokens of successful requests over the first send → last end span."""
        ends = [r.end_wall_ns for r in self.ok if r.end_wall_ns]
        if not ends or not self.requests:
            return 0.0
        span = (max(ends) - min(r.send_wall_ns for r in self.requests)) / 1e9
        return sum(r.output_tokens or 0 for r in self.ok) / span if span > 0 else 0.0

    def ttft_quantile(self, q: float) -> float:
        return quantile([r.ttft_ms for r in self.ok if r.ttft_ms is not None], q)


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (the project's definition); NaN when empty."""
    if not values:
        return math.nan
    v = sorted(values)
    return v[min(len(v), max(1, math.ceil(q * len(v)))) - 1]


def wall_minus_mono_ns() -> int:
    """``time_ns() − monotonic_ns()`` from the tightest of a few bracketed reads."""
    best: tuple[int, int] | None = None
    for _ in range(16):
        a = time.monotonic_ns()
        w = time.time_ns()
        b = time.monotonic_ns()
        if best is None or b - a < best[0]:
            best = (b - a, w - (a + b) // 2)
    assert best is not None
    return best[1]
