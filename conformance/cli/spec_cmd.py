"""``tokencert spec``: validate, list and show the requirement catalog."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from conformance.cli.console import out, print_json
from conformance.spec import Catalog, Requirement, load_catalog

app = typer.Typer(
    help="Inspect and validate the requirement catalog.\n\n"
    "Examples:\n\n\b\n  tokencert spec validate\n  tokencert spec list --category METER\n"
    "  tokencert spec show PERF-001",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Fmt(StrEnum):
    table = "table"
    json = "json"


def _catalog(path: Path | None) -> Catalog:
    return load_catalog(path)


def _thresholds_text(r: Requirement) -> str:
    if not r.thresholds:
        return "evaluator review" if r.method == "manual" else "-"
    parts = []
    for lvl, conds in r.thresholds.items():
        descr = "; ".join(c.describe(r.metric(c.metric).unit) for c in conds)
        parts.append(f"{lvl}: {descr}")
    if len({tuple(c) for c in r.thresholds.values()}) == 1:
        conds = next(iter(r.thresholds.values()))
        return "all levels: " + "; ".join(c.describe(r.metric(c.metric).unit) for c in conds)
    return "\n".join(parts)


@app.command("validate")
def validate(
    path: Path | None = typer.Argument(
        None, help="Catalog directory or index file (default: the shipped edition)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate a catalog against its JSON Schema and semantic rules.

    Examples:

    \b
      tokencert spec validate
      tokencert spec validate --json
    """
    cat = _catalog(path)
    if json_out:
        print_json({"ok": True, "edition": cat.edition, "version": cat.version,
                    "requirements": len(cat), "digest": cat.digest})
        return
    out.print(
        f"ok: {cat.edition} {cat.version}: {len(cat)} requirements, digest {cat.digest}",
        highlight=False,
    )


@app.command("list")
def list_(
    category: str | None = typer.Option(
        None, "--category", "-c", help="Only this category (API, PERF, ...)."
    ),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table or json."),
    path: Path | None = typer.Option(None, "--catalog", help="Another catalog directory."),
) -> None:
    """List requirements with level, method and thresholds, and the catalog digest.

    Examples:

    \b
      tokencert spec list --category PERF
      tokencert spec list --format json
    """
    cat = _catalog(path)
    reqs = [r for r in cat if category is None or r.category == category.upper()]
    if category and not reqs:
        from conformance._core.errors import InputError, Problem

        cats = ", ".join(c.id for c in cat.categories)
        raise InputError(
            f"no requirements in category {category!r}",
            [Problem(f"unknown category {category!r}", hint=f"categories: {cats}")],
        )
    if fmt is Fmt.json:
        data: dict[str, Any] = {
            "edition": cat.edition,
            "version": cat.version,
            "digest": cat.digest,
            "requirements": [r.to_dict() for r in reqs],
        }
        print_json(data)
        return
    table = Table(title=f"{cat.title} — {cat.edition} ({len(reqs)} requirements)")
    for col in ("ID", "Obligation", "Method", "Title", "Thresholds"):
        table.add_column(col, overflow="fold")
    for r in reqs:
        table.add_row(r.id, r.obligation, r.method, r.title, _thresholds_text(r))
    out.print(table)
    out.print(f"catalog digest: {cat.digest}", highlight=False)


@app.command("show")
def show(
    rid: str = typer.Argument(..., metavar="ID", help="Requirement ID, e.g. PERF-001."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f"),
    path: Path | None = typer.Option(None, "--catalog"),
) -> None:
    """Show one requirement in full.

    Examples:

    \b
      tokencert spec show METER-001
      tokencert spec show PERF-001 --format json
    """
    cat = _catalog(path)
    try:
        r = cat.get(rid.upper())
    except KeyError:
        import difflib

        from conformance._core.errors import InputError, Problem

        close = difflib.get_close_matches(rid.upper(), cat.ids, n=3)
        raise InputError(
            f"unknown requirement {rid!r}",
            [
                Problem(
                    f"no requirement {rid!r} in {cat.edition}",
                    hint=f"did you mean {', '.join(close)}?"
                    if close
                    else "see `tokencert spec list`",
                )
            ],
        ) from None
    if fmt is Fmt.json:
        print_json(r.to_dict())
        return
    out.print(f"[bold]{r.id}[/] ({r.obligation}, {r.method}) — {r.title}")
    out.print(f"[dim]source:[/] {r.source}", highlight=False)
    out.print(f"\n[bold]Check[/]\n{r.check}")
    out.print(f"\n[bold]Rationale[/]\n{r.rationale}")
    if r.metrics:
        out.print("\n[bold]Metrics[/]")
        for m in r.metrics:
            out.print(f"  {m.name} [{m.unit}, {m.kind}]: {m.description}", markup=False)
    if r.thresholds:
        out.print("\n[bold]Thresholds[/] (judged on the 95% confidence bound)")
        out.print(_thresholds_text(r), markup=False)
    if r.min_evidence:
        out.print("\n[bold]Minimum evidence[/]")
        for lvl, e in r.min_evidence.items():
            bits = [
                f"{e.samples} samples" if e.samples else "",
                f"{e.duration_s:g} s" if e.duration_s else "",
            ]
            out.print(f"  {lvl}: " + ", ".join(b for b in bits if b))
    if r.applicability.requires:
        out.print(
            f"\n[bold]Applies when[/] the declaration offers: {', '.join(r.applicability.requires)}"
        )
    if r.review:
        out.print(f"\n[bold]Review[/] {r.review.guidance}")
