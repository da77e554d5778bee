"""Progress of a run: a live line on a terminal, a plain line every ``interval_s`` elsewhere.

On a terminal (stdout and stderr both), the current load phase's line is rewritten in
place (at most ``hz`` times a second): requests done, errors, TTFT/TPOT percentiles. In a
pipe, a file or CI, a plain line is written every ``interval_s`` (15 s) by a ticker thread
— also while nothing answers: phase i of N, requests done of planned, elapsed of expected
(``conformance.plan.duration``), ETA. pytest's output capture is suspended around each
write so the line reaches the user during a test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TextIO

from conformance.plan.duration import PhaseExpectation, human_duration
from conformance.run.records import RequestRecord
from conformance.stats import quantile

Suspend = Callable[[], AbstractContextManager[object]]
Clock = Callable[[], float]
PLAIN_INTERVAL_S = 15.0  # within the 10-30 s a CI log reader expects a sign of life


def _tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands, for the plain progress line."""

    elapsed_s: float
    expected_s: float  # the whole run, from the plan
    phases: int  # planned load phases
    phase: str | None = None  # the current (latest started) plan phase
    phase_index: int = 0  # 1-based position among the phases started so far
    done: int = 0  # requests recorded in this phase
    planned: int | None = None  # requests the plan expects of it
    phase_elapsed_s: float = 0.0
    phase_expected_s: float | None = None
    run_done: int = 0
    run_planned: int = 0
    eta_s: float = 0.0
    test: int = 0
    tests: int = 0


def format_plain(s: Snapshot) -> str:
    """``progress: phase 2/5 sustained: 130/~300 requests, 45 s of ~1 min 00 s; run: ...``"""
    parts = ["progress:"]
    if s.phase is None:
        parts.append(f"phase 0/{s.phases} (no load phase started yet);")
    else:
        planned = f"/~{s.planned}" if s.planned is not None else ""
        expected = (f" of ~{human_duration(s.phase_expected_s)}"
                    if s.phase_expected_s is not None else "")
        parts.append(f"phase {s.phase_index}/{s.phases} {s.phase}: {s.done}{planned} "
                     f"requests, {human_duration(s.phase_elapsed_s)}{expected};")
    if s.tests:
        parts.append(f"test {s.test}/{s.tests};")
    parts.append(f"run: {s.run_done}/~{s.run_planned} requests, "
                 f"{human_duration(s.elapsed_s)} of ~{human_duration(s.expected_s)}, "
                 f"ETA {human_duration(s.eta_s)}")
    return " ".join(parts)


def _plan_phase(name: str, known: Sequence[str]) -> str:
    """A derived segment (``recovery-baseline``, ``recovery-3``) counts as its plan phase."""
    if name in known:
        return name
    base = name.split("-", 1)[0]
    return base if base in known else name


class PhaseProgress:
    def __init__(self, stream: TextIO | None = None, suspend: Suspend | None = None,
                 hz: float = 2.0, force: bool = False, *, plain: bool | None = None,
                 expected: Sequence[PhaseExpectation] = (),
                 interval_s: float = PLAIN_INTERVAL_S, clock: Clock = time.monotonic,
                 plain_stream: TextIO | None = None) -> None:
        self.stream = stream or sys.__stderr__ or sys.stderr
        # the plain line's own stream: a duplicate of the real stderr taken before any
        # test runs, written from the ticker thread without touching pytest's capture
        self.plain_stream = plain_stream
        self.mid_line: Callable[[], bool] = lambda: False  # is the console mid-line?
        self.enabled = force or (_tty(self.stream) and _tty(sys.__stdout__ or sys.stdout))
        self.plain = (not self.enabled) if plain is None else plain
        self.suspend = suspend or contextlib.nullcontext
        self.period = 1.0 / hz
        self.interval_s = interval_s
        self.clock = clock
        self.expected = {p.phase: p for p in expected}
        self._lock = threading.RLock()
        self._last = 0.0
        self._phase = ""
        self._ttft: list[float] = []
        self._tpot: list[float] = []
        self._errors = 0
        self._done = 0
        self._t0 = clock()
        self._fresh = True
        # plain-line state
        self._run_t0 = self._t0
        self._last_plain = self._t0
        self._started: dict[str, float] = {}  # plan phase -> first seen (clock)
        self._segments: dict[str, dict[str, int]] = {}  # plan phase -> segment -> done
        self._test = (0, 0)
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    # -- feeding ---------------------------------------------------------------------------
    def __call__(self, phase: str, rec: RequestRecord | None, done: int) -> None:
        with self._lock:
            now = self.clock()
            if phase != self._phase:
                if self._phase:
                    self._show(final=True)
                self._phase, self._ttft, self._tpot, self._errors = phase, [], [], 0
                self._t0 = now
                self._fresh = True
            self._done = done
            base = _plan_phase(phase, list(self.expected))
            self._started.setdefault(base, now)
            self._segments.setdefault(base, {})[phase] = done
            if rec is not None:
                if rec.ok:
                    if (t := rec.ttft_ms()) is not None:
                        self._ttft.append(t)
                    if (p := rec.tpot_ms()) is not None:
                        self._tpot.append(p)
                else:
                    self._errors += 1
            if now - self._last >= self.period:
                self._last = now
                self._show()

    def test_started(self, index: int, total: int) -> None:
        with self._lock:
            self._test = (index, total)

    # -- the live line (terminal) --------------------------------------------------------------
    def line(self) -> str:
        def p(v: list[float], q: float) -> str:
            x = quantile(v, q) if v else None
            return "-" if x is None else f"{x:.0f}"

        return (f"phase {self._phase} {self.clock() - self._t0:4.0f} s: "
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

    # -- the plain line (no terminal) ----------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self.clock()
            exp = self.expected
            run_planned = sum(p.requests for p in exp.values())
            run_done = sum(sum(seg.values()) for seg in self._segments.values())
            not_started = sum(p.duration_s for k, p in exp.items() if k not in self._started)
            current = max(self._started, key=lambda k: self._started[k], default=None)
            snap = Snapshot(elapsed_s=now - self._run_t0,
                            expected_s=sum(p.duration_s for p in exp.values()),
                            phases=len(exp), run_done=run_done,
                            run_planned=max(run_planned, run_done), eta_s=not_started,
                            test=self._test[0], tests=self._test[1])
            if current is None:
                return snap
            pe = exp.get(current)
            phase_elapsed = now - self._started[current]
            remaining = max(0.0, pe.duration_s - phase_elapsed) if pe else 0.0
            order = sorted(self._started, key=lambda k: self._started[k])
            return dataclasses.replace(
                snap, phase=current, phase_index=order.index(current) + 1,
                phases=max(len(exp), len(order)),
                done=sum(self._segments.get(current, {}).values()),
                planned=pe.requests if pe else None, phase_elapsed_s=phase_elapsed,
                phase_expected_s=pe.duration_s if pe else None, eta_s=not_started + remaining)

    def tick(self) -> bool:
        """Write the plain line if ``interval_s`` has passed since the last; True if written."""
        if not self.plain:
            return False
        with self._lock:
            now = self.clock()
            if now - self._last_plain < self.interval_s:
                return False
            self._last_plain = now
            text = format_plain(self.snapshot())
            if self.mid_line():  # pytest's dots: the line starts on a line of its own
                text = "\n" + text
            if self.plain_stream is not None:
                self.plain_stream.write(text + "\n")
                self.plain_stream.flush()
            else:
                with self.suspend():
                    self.stream.write(text + "\n")
                    self.stream.flush()
        return True

    def start(self, poll_s: float = 1.0) -> None:
        """Tick from a daemon thread (plain mode only): lines keep coming while a request
        hangs or a test runs without a load phase."""
        if not self.plain or self._ticker is not None:
            return

        def run() -> None:
            while not self._stop.wait(poll_s):
                try:
                    self.tick()
                except (OSError, ValueError):  # the stream went away: stop quietly
                    return

        self._ticker = threading.Thread(target=run, name="tokencert-progress", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        with self._lock:
            if self._phase:
                self._show(final=True)
            if self.plain_stream is not None:
                with contextlib.suppress(OSError):
                    self.plain_stream.close()
                self.plain_stream = None


def real_stderr() -> TextIO | None:
    """A new stream on a duplicate of file descriptor 2, taken now: call it while pytest's
    capture is suspended (``pytest_configure``), and later redirections of fd 2 by the
    capture do not reach it. None where fd 2 cannot be duplicated."""
    import os

    try:
        return os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    except OSError:
        return None
