"""Consoles for the CLI: stdout for results, stderr for diagnostics. NO_COLOR is honoured
by rich itself; progress is hidden unless stdout and stderr are both terminals."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no colour, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def progress_enabled() -> bool:
    """Live progress only when a person watches: stdout and stderr both terminals."""
    return err.is_terminal and out.is_terminal


def table_console() -> Console:
    """Where to print a table: the terminal (rich wraps cells at spaces to fit it), or, in a
    pipe or a file, a console without a width limit, so no cell is wrapped at 80 columns."""
    if out.is_terminal:
        return out
    return Console(file=sys.stdout, soft_wrap=True, width=100_000)
