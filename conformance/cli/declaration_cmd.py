"""``tokencert declaration``: check a candidate declaration."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from conformance.cli.console import err, out, print_json
from conformance.declaration import load_declaration

app = typer.Typer(
    help="Check candidate declarations.\n\n"
    "Examples:\n\n\b\n  tokencert declaration check candidate.yaml",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("check")
def check(
    path: Path = typer.Argument(..., help="The candidate.yaml to check."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate a declaration (schema, referenced files, consistency).

    Examples:

    \b
      tokencert declaration check candidate.yaml
      tokencert declaration check candidate.yaml --json
    """
    decl = load_declaration(path)
    missing_env = [n for n in decl.secret_env_names() if not os.environ.get(n)]
    if json_out:
        print_json(
            {
                "ok": True,
                "digest": decl.digest,
                "features": sorted(decl.features()),
                "unset_key_variables": missing_env,
            }
        )
        return
    out.print(
        f"ok: {path}: {decl.service_name} by {decl.vendor} "
        f"({len(decl.models)} model{'s' if len(decl.models) > 1 else ''}), "
        f"digest {decl.digest}",
        highlight=False,
    )
    out.print(f"features: {', '.join(sorted(decl.features())) or 'none'}", highlight=False)
    for n in missing_env:
        err.print(
            f"warning: environment variable {n} is not set; a run will need it", highlight=False
        )
