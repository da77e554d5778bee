"""Print how long each mutation-matrix run took (the CI budget is 8 minutes on 2 cores)."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from mutation_matrix import TIMINGS

    if not TIMINGS:
        return
    tr = terminalreporter
    tr.section("mutation matrix: seconds per run")
    for what, verdicts, seconds in TIMINGS:
        tr.write_line(f"{seconds:7.1f} s  {what}: {verdicts}")
    tr.write_line(f"{sum(t for _, _, t in TIMINGS):7.1f} s  total")
