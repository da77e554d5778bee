"""What the CLI writes depends on who reads it: NO_COLOR strips colour, and the live
progress line appears only when both stdout and stderr are terminals (real ptys here)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

# SGR colour parameters: 30-38 / 90-97 foreground, 40-48 / 100-107 background
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;\d+)*m")


def _run_on_pty(args: list[str], env: dict[str, str], stdout_tty: bool,
                stderr_tty: bool) -> tuple[int, bytes]:
    """Run ``args`` with the chosen streams on a pseudo-terminal (NO_COLOR and FORCE_COLOR
    unset unless in ``env``); returns the exit code and everything the terminal received."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                             stdout=slave if stdout_tty else subprocess.DEVNULL,
                             stderr=slave if stderr_tty else subprocess.DEVNULL,
                             env={**{k: v for k, v in os.environ.items()
                                     if k not in ("NO_COLOR", "FORCE_COLOR")},
                                  "COLUMNS": "120", "TERM": "xterm-256color", **env})
        os.close(slave)
        slave = -1
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
        return p.wait(timeout=60), data
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_is_respected(no_color: bool) -> None:
    env = {"NO_COLOR": "1"} if no_color else {}
    # an input error: `error:` is printed in bold red on a terminal
    code, data = _run_on_pty([sys.executable, "-m", "conformance", "spec", "show", "NOPE-999"],
                             env, stdout_tty=True, stderr_tty=True)
    text = data.decode("utf-8", "replace")
    assert code == 2 and "error:" in text
    assert bool(COLOUR.search(text)) is not no_color, repr(text[:300])


PROBE = ("import sys\n"
         "from conformance.pytest_plugin.progress import PhaseProgress\n"
         "from conformance.cli.console import progress_enabled\n"
         "sys.exit((1 if PhaseProgress().enabled else 0) + (2 if progress_enabled() else 0))")


@pytest.mark.parametrize(("stdout_tty", "stderr_tty", "shown"), [
    (True, True, True), (False, True, False), (True, False, False), (False, False, False)])
def test_progress_only_when_stdout_and_stderr_are_terminals(
        stdout_tty: bool, stderr_tty: bool, shown: bool) -> None:
    code, _ = _run_on_pty([sys.executable, "-c", PROBE], {}, stdout_tty, stderr_tty)
    assert code == (3 if shown else 0)
