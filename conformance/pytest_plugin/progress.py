"""Live progress of load phases on the terminal: phase, requests done, TTFT/TPOT, errors.

Shown only when both stdout and stderr are terminals (never in a pipe, a file or CI, so
machine-read output stays clean); pytest's output capture is suspended around each
refresh (at most ``hz`` times a second) so the line reaches the user during a test.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TextIO

from conformance.run.records import RequestRecord
from conformance.stats import quantile

Suspend = Callable[[], AbstractContextManager[object]]


def _tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class PhaseProgress:
    def __init__(self, stream: TextIO | None = None, suspend: Suspend | None = None,
                 hz: float = 2.0, force: bool = False) -> None:
        self.stream = stream or sys.__stderr__ or sys.stderr
        self.enabled = force or (_tty(self.stream) and _tty(sys.__stdout__ or sys.stdout))
        self.suspend = suspend or contextlib.nullcontext
        self.period = 1.0 / hz
        self._last = 0.0
        self._phase = ""
        self._ttft: list[float] = []
        self._tpot: list[float] = []
        self._errors = 0
        self._done = 0
        self._t0 = time.monotonic()
        self._fresh = True

    def __call__(self, phase: str, rec: RequestRecord | None, done: int) -> None:
        if phase != self._phase:
            if self._phase:
                self._show(final=True)
            self._phase, self._ttft, self._tpot, self._errors = phase, [], [], 0
            self._t0 = time.monotonic()
            self._fresh = True
        self._done = done
        if rec is not None:
            if rec.ok:
                if (t := rec.ttft_ms()) is not None:
                    self._ttft.append(t)
                if (p := rec.tpot_ms()) is not None:
                    self._tpot.append(p)
            else:
                self._errors += 1
        now = time.monotonic()
        if now - self._last >= self.period:
            self._last = now
            self._show()

    def line(self) -> str:
        def p(v: list[float], q: float) -> str:
            x = quantile(v, q) if v else None
            return "-" if x is None else f"{x:.0f}"

        return (f"phase {self._phase} {time.monotonic() - self._t0:4.0f} s: "
                f"{self._done} requests, errors {self._errors} | "
                f"TTFT p50 {p(self._ttft, 0.5)} ms p99 {p(self._ttft, 0.99)} ms | "
                f"TPOT p50 {p(self._tpot, 0.5)} ms")

    def _show(self, final: bool = False) -> None:
        if not self.enabled:
            return
        start = "\n" if self._fresh else "\r\x1b[2K"  # own line, then rewrite it in place
        self._fresh = False
        with self.suspend():
            self.stream.write(start + self.line() + ("\n" if final else ""))
            self.stream.flush()

    def close(self) -> None:
        if self._phase:
            self._show(final=True)
