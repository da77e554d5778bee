"""``tokencert review RUN_DIR REQ-ID``: record the evaluator's decision on a manual item."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance.cli.console import out, print_json


def register(app: typer.Typer) -> None:
    @app.command("review")
    def review_cmd(
        run_dir: Path = typer.Argument(..., help="A run directory written by `tokencert run`."),
        requirement: str = typer.Argument(..., help="A manual requirement, e.g. DATA-001."),
        verdict: str = typer.Option(..., "--verdict", help="pass or fail."),
        note: str = typer.Option(..., "--note", help="What was checked, against what."),
        attach: Path | None = typer.Option(None, "--attach", help="A document to keep as "
                                           "evidence (copied, hashed)."),
        reviewer: str | None = typer.Option(None, "--reviewer", help="Who decided."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Record a manual requirement's verdict as evidence (appended under
        RUN_DIR/evidence/reviews/, hashed) and in results.json.

        Examples:

        \b
          tokencert review run1 DATA-001 --verdict pass \\
              --note "regions match the hosting contract" --attach contract.pdf \\
              --reviewer "Jane Doe"
        """
        from conformance.certificate.review import record_review

        review = record_review(run_dir, requirement, verdict, note, attach, reviewer)
        if json_out:
            print_json(review)
        else:
            out.print(f"{requirement}: {verdict} recorded in {review['evidence']} "
                      f"(sha256 {review['sha256'][:16]}…)", highlight=False)
