"""Clocks: a monotonic one for durations, UTC wall time only to say *when*."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int: ...
    def utc_now(self) -> datetime: ...


class SystemClock:
    """The real clock. Durations come from ``perf_counter_ns`` (monotonic, highest resolution)."""

    def monotonic_ns(self) -> int:
        return time.perf_counter_ns()

    def utc_now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A settable clock for tests."""

    def __init__(self, start_ns: int = 0, start_utc: datetime | None = None) -> None:
        self._ns = start_ns
        self._utc = start_utc or datetime(2026, 1, 1, tzinfo=UTC)

    def advance(self, ns: int) -> None:
        self._ns += ns

    def monotonic_ns(self) -> int:
        return self._ns

    def utc_now(self) -> datetime:
        from datetime import timedelta

        return self._utc + timedelta(microseconds=self._ns / 1000)


def utc_now_iso() -> str:
    """Current UTC time as an RFC 3339 string with a ``Z`` suffix."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
