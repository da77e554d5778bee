"""``tokencert report RUN_DIR``: the self-assessment report (HTML with plots, and PDF)."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance._core.errors import InputError, Problem
from conformance.cli.console import out, print_json


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        run_dir: Path = typer.Argument(..., help="A run directory written by `tokencert run`."),
        html_out: Path | None = typer.Option(None, "--html", help="Where to write the HTML "
                                             "(default RUN_DIR/report.html)."),
        pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write the PDF."),
        json_out: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
    ) -> None:
        """Render the self-assessment report from saved evidence (no re-run): a
        self-contained HTML file with plots (TTFT/TPOT CDFs with threshold lines, latency over
        time, throughput and TTFT vs concurrency, metering error by language, status
        breakdown) and the same as PDF. Marked "Self-assessment — not a certificate".

        Examples:

        \b
          tokencert report run1
          tokencert report run1 --no-pdf --html run1-report.html
        """
        if not run_dir.is_dir():
            raise InputError(f"not a run directory: {run_dir}", [Problem(
                "directory not found", file=str(run_dir),
                hint="pass the --out directory of `tokencert run`")])
        from conformance.report.html import write_report

        paths = write_report(run_dir, html_out, pdf=pdf)
        if json_out:
            print_json({"written": [str(p) for p in paths]})
        else:
            for p in paths:
                out.print(f"wrote {p}", highlight=False)
