"""``tokencert demo``: the reference service through to a verified DEMO certificate.

A thin adapter over :func:`conformance.demo.run_demo`; the conformance run is the one
``tokencert run`` uses (same pytest session, same live progress).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.markup import escape

from conformance.cli.console import err, out, print_json

EXIT_OK, EXIT_FAILED = 0, 1


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what the demo started."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (embedded use): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out_dir: Path = typer.Option(Path("demo"), "--out", help="Directory to write "
                                     "(must be empty or absent)."),
        force: bool = typer.Option(False, "--force", help="Write into a non-empty --out, "
                                   "replacing an earlier demo's run/, pki/, certificate/ "
                                   "and reference/ (nothing else is touched)."),
        as_json: bool = typer.Option(False, "--json", help="Print a machine-readable "
                                     "summary on stdout (progress goes to stderr)."),
        profile: str = typer.Option("quick", "--profile", hidden=True,
                                    help="Run profile (developers: a small YAML profile)."),
        only: str | None = typer.Option(None, "--only", hidden=True,
                                        help="Requirement ids/globs (developers, tests)."),
    ) -> None:
        """Start the reference service over TLS, run the quick profile against it, create a
        throw-away PKI, record DEMO decisions for the manual requirements, issue a DEMO
        certificate (watermarked, `demo: true` in the signed data), render the
        self-assessment report and verify certificate and bundle offline. Everything it
        started is stopped again. Exit 0 only when the verification passed.

        Examples:

        \b
          tokencert demo
          tokencert demo --out demo --force --json
        """
        from conformance.cli.run_cmd import run_suite
        from conformance.demo import run_demo

        def suite(candidate: Path, run_dir: Path, prof: str, sel: str | None
                  ) -> dict[str, Any]:
            return run_suite(candidate, prof, run_dir, sel, quiet_stdout=as_json)

        def say(msg: str) -> None:
            err.print(f"[bold cyan]demo[/] {escape(msg)}", highlight=False)

        t0 = time.monotonic()
        with _sigterm_as_interrupt():
            result = run_demo(out_dir, suite, profile=profile, only=only, force=force,
                              say=say)
        elapsed = time.monotonic() - t0
        if as_json:
            print_json({**result.to_json(), "elapsed_s": round(elapsed, 1)})
        else:
            style = "green" if result.valid else "red"
            out.print(
                f"certificate  {result.certificate_pdf}\n"
                f"bundle       {result.bundle}\n"
                f"report       {result.report_html}"
                + (f"\n             {result.report_pdf}" if result.report_pdf else "")
                + f"\ntrust root   {result.trust_root}\n"
                f"level        {result.level or 'none'} (a demo, not a certification)\n"
                f"elapsed      {elapsed:.0f} s", highlight=False)
            out.print(f"[bold {style}]verification: {escape(result.bottom_line)}[/]",
                      highlight=False)
            out.print(f"check it again: tokencert verify {result.certificate_pdf} --bundle "
                      f"{result.bundle} --trust {result.trust_root} --crl {result.crl} "
                      f"--status {result.trust_root.parent / 'status.json'} --allow-demo",
                      highlight=False)
        sys.stdout.flush()
        raise typer.Exit(EXIT_OK if result.valid else EXIT_FAILED)
