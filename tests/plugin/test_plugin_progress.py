"""The live phase line: requests done, errors, TTFT and TPOT percentiles."""

from __future__ import annotations

import io

from conformance.pytest_plugin.progress import PhaseProgress
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


def test_silent_when_not_a_terminal() -> None:
    buf = io.StringIO()
    p = PhaseProgress(stream=buf)
    p("sustained", rec(0, 10), 1)
    p.close()
    assert buf.getvalue() == ""
