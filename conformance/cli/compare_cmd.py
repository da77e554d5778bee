"""``tokencert compare RUN_A RUN_B``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from conformance._core.errors import InputError, Problem
from conformance._core.schema import validate_data
from conformance.cli.console import out, print_json, table_console
from conformance.report.compare import compare


def _load(run: Path) -> dict[str, Any]:
    path = run / "results.json" if run.is_dir() else run
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no results.json in {run}", [Problem(
            "file not found", file=str(path), hint="pass a run directory written by "
            "`tokencert run`, or its results.json")]) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON", [Problem(exc.msg, file=str(path),
                                                          line=exc.lineno, column=exc.colno)]) \
            from None
    problems = validate_data("results", data, str(path))
    if problems:
        raise InputError(f"{path} is not a valid results.json", problems)
    return data


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        run_a: Path = typer.Argument(..., help="The earlier run (directory or results.json)."),
        run_b: Path = typer.Argument(..., help="The later run."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
        threshold: float = typer.Option(0.05, "--rel-threshold",
                                        help="Relative change flagged when a measurement has "
                                        "no confidence bounds (default 5%)."),
    ) -> None:
        """Show requirements whose verdict changed or whose measurements moved beyond their
        confidence bounds. Exit 1 when a requirement got worse.

        Examples:

        \b
          tokencert compare run1 run2
          tokencert compare run1/results.json run2 --json
        """
        cmp = compare(_load(run_a), _load(run_b), threshold)
        if json_out:
            print_json(cmp.to_json())
        else:
            out.print(f"level: {cmp.level_before or 'none'} → {cmp.level_after or 'none'}",
                      highlight=False)
            if cmp.spec_changed:
                out.print("[yellow]warning:[/] the runs used different catalog digests")
            if not cmp.changes:
                out.print("no verdict changed and no measurement moved beyond its bounds")
            else:
                table = Table(title="Changes")
                for col in ("ID", "Obligation", "Before", "After", "Direction", "Moved"):
                    table.add_column(col, no_wrap=col in ("ID", "Obligation", "Direction"))
                for c in cmp.changes:
                    moved = "; ".join(
                        f"{m.metric} {m.stat}: {m.before:g} → {m.after:g} {m.unit}, "
                        f"{m.change_text()} ({m.basis})"
                        for m in c.measurements if m.before is not None and m.after is not None
                    )
                    style = {"worse": "red", "better": "green"}.get(c.direction, "")
                    table.add_row(c.id, c.obligation, c.before, c.after,
                                  f"[{style}]{c.direction}[/]" if style else c.direction, moved)
                table_console().print(table)
        if cmp.regressions:
            raise typer.Exit(1)
