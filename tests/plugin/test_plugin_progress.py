"""The live phase line (requests done, errors, TTFT and TPOT percentiles) on a terminal;
the plain line (phase i of N, requests of planned, elapsed of expected, ETA) elsewhere, at
a fixed cadence driven here by an injected clock."""

from __future__ import annotations

import io

from conformance.plan.duration import PhaseExpectation
from conformance.pytest_plugin.progress import PhaseProgress, Snapshot, format_plain
from conformance.run.records import RequestRecord


def rec(seq: int, ttft_ms: int, status: int = 200) -> RequestRecord:
    r = RequestRecord(request_id=f"s-{seq}", phase="sustained", seq=seq, status=status,
                      sent_ns=0, first_token_ns=ttft_ms * 1_000_000,
                      last_byte_ns=(ttft_ms + 99) * 1_000_000)
    r.usage = {"completion_tokens": 100}
    return r


def test_progress_line_shows_live_figures() -> None:
    buf = io.StringIO()
    p = PhaseProgress(stream=buf, hz=1000.0, force=True)
    for i in range(10):
        p("sustained", rec(i, 50 + i), i + 1)
    p("sustained", rec(10, 0, status=500), 11)
    line = p.line()
    assert "11 requests, errors 1" in line and line.startswith("phase sustained")
    assert "TTFT p50 54 ms" in line and "TPOT p50 1 ms" in line
    p.close()
    assert "sustained" in buf.getvalue()


def test_no_live_line_when_not_a_terminal() -> None:
    buf = io.StringIO()
    p = PhaseProgress(stream=buf)
    assert p.plain and not p.enabled
    p("sustained", rec(0, 10), 1)
    p.close()
    assert buf.getvalue() == ""  # no interval passed: no plain line either, and no \r


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


EXPECTED = (PhaseExpectation("protocol", 12, 30.0), PhaseExpectation("sustained", 300, 60.0),
            PhaseExpectation("recovery", 40, 90.0))


def test_plain_line_cadence_with_an_injected_clock() -> None:
    buf, clock = io.StringIO(), FakeClock()
    p = PhaseProgress(stream=buf, expected=EXPECTED, interval_s=15.0, clock=clock)
    written = []
    for step in range(0, 61):  # one minute in 1 s ticks, requests arriving meanwhile
        clock.t = 1000.0 + step
        if step >= 3:
            p("sustained", rec(step, 10), step - 2)
        written.append(p.tick())
    assert [i for i, w in enumerate(written) if w] == [15, 30, 45, 60]
    lines = buf.getvalue().splitlines()
    assert len(lines) == 4 and all("\r" not in ln and "\x1b" not in ln for ln in lines)
    assert lines[0].startswith("progress: phase 1/3 sustained: 13/~300 requests, 12 s of ~60 s")
    # 48 s left of sustained + 90 s of recovery + 30 s of protocol (not started) = 168 s
    assert "ETA 2 min 48 s" in lines[0]
    assert "run: 58/~352 requests, 60 s of ~3 min 00 s" in lines[-1]


def test_segments_count_as_their_plan_phase_and_silence_still_ticks() -> None:
    buf, clock = io.StringIO(), FakeClock()
    p = PhaseProgress(stream=buf, expected=EXPECTED, interval_s=10.0, clock=clock)
    p("recovery-baseline", None, 0)
    p("recovery-baseline", rec(0, 10), 7)
    p("recovery-0", rec(1, 10), 3)
    clock.t += 10  # nothing answers for 10 s: the line still comes
    assert p.tick()
    s = p.snapshot()
    assert (s.phase, s.done, s.planned, s.phase_index) == ("recovery", 10, 40, 1)


def test_format_plain_before_any_phase_and_with_tests() -> None:
    s = Snapshot(elapsed_s=5, expected_s=3600, phases=4, run_planned=900, eta_s=3595,
                 test=3, tests=41)
    assert format_plain(s) == ("progress: phase 0/4 (no load phase started yet); test 3/41; "
                               "run: 0/~900 requests, 5 s of ~60 min 00 s, ETA 59 min 55 s")


def test_ticker_thread_stops_on_close() -> None:
    buf, clock = io.StringIO(), FakeClock()
    p = PhaseProgress(stream=buf, expected=EXPECTED, interval_s=0.0, clock=clock)
    p.start(poll_s=0.001)
    p.close()
    assert p._ticker is None


def test_plain_line_goes_to_its_own_stream() -> None:
    buf, plain, clock = io.StringIO(), io.StringIO(), FakeClock()
    p = PhaseProgress(stream=buf, expected=EXPECTED, interval_s=15.0, clock=clock,
                      plain_stream=plain)
    clock.t += 15
    assert p.tick()
    assert buf.getvalue() == "" and plain.getvalue().startswith("progress: phase 0/3")
    p.close()
    assert plain.closed and p.plain_stream is None
