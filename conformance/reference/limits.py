"""Per-key rate limits (token buckets) and a concurrency gate with a bounded queue."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass


class TokenBucket:
    """Refills ``rate_per_min`` units per minute up to ``capacity``; may go into debt."""

    def __init__(self, rate_per_min: int) -> None:
        self.capacity = float(rate_per_min)
        self.level = float(rate_per_min)
        self._rate = rate_per_min / 60.0
        self._t = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._t) * self._rate)
        self._t = now

    def try_take(self, amount: float) -> float:
        """Take ``amount`` now and return 0, or return the seconds until it would fit."""
        self._refill()
        need = min(amount, self.capacity)
        if self.level >= need:
            self.level -= amount
            return 0.0
        return (need - self.level) / self._rate

    def charge(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def reset_seconds(self) -> float:
        self._refill()
        return max(self.capacity - self.level, 0.0) / self._rate

    @property
    def remaining(self) -> int:
        self._refill()
        return max(int(self.level), 0)


@dataclass
class Refusal:
    """Why a request was refused with 429, and when to come back."""

    message: str
    code: str
    retry_after_s: float


class KeyLimits:
    """The limits of one API key."""

    def __init__(self, rpm: int, tpm: int, max_concurrency: int, max_queue: int) -> None:
        self.requests = TokenBucket(rpm)
        self.tokens = TokenBucket(tpm)
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.in_flight = 0
        self.waiting = 0
        self._cond = asyncio.Condition()

    def admit(self, tokens: int) -> Refusal | None:
        wait = self.requests.try_take(1)
        if wait > 0:
            return Refusal("Rate limit reached for requests per minute.",
                           "rate_limit_exceeded", wait)
        wait = self.tokens.try_take(tokens)
        if wait > 0:
            self.requests.charge(-1)
            return Refusal("Rate limit reached for tokens per minute.",
                           "rate_limit_exceeded", wait)
        return None

    async def enter(self, timeout_s: float) -> Refusal | None:
        """Wait for a concurrency slot (bounded queue, bounded wait)."""
        async with self._cond:
            if self.in_flight < self.max_concurrency:
                self.in_flight += 1
                return None
            if self.waiting >= self.max_queue:
                return Refusal("Too many concurrent requests for this key; retry shortly.",
                               "concurrency_limit_exceeded", 1.0)
            self.waiting += 1
            try:
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: self.in_flight < self.max_concurrency),
                    timeout_s)
            except TimeoutError:
                return Refusal("Timed out waiting for a concurrency slot.",
                               "concurrency_limit_exceeded", 1.0)
            finally:
                self.waiting -= 1
            self.in_flight += 1
            return None

    async def leave(self) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()  # waiters re-check; no wake-up is lost to a timeout

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(int(self.requests.capacity)),
            "x-ratelimit-remaining-requests": str(self.requests.remaining),
            "x-ratelimit-reset-requests": f"{self.requests.reset_seconds():.3f}s",
            "x-ratelimit-limit-tokens": str(int(self.tokens.capacity)),
            "x-ratelimit-remaining-tokens": str(self.tokens.remaining),
            "x-ratelimit-reset-tokens": f"{self.tokens.reset_seconds():.3f}s",
        }


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
