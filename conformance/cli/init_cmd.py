"""``tokencert init``: write an annotated candidate.yaml template."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance._core import resources
from conformance._core.errors import InputError, Problem
from conformance.cli.console import out


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        path: Path = typer.Argument(Path("candidate.yaml"), help="Where to write the template."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write an annotated candidate.yaml template to fill in.

        Examples:

        \b
          tokencert init candidate.yaml
        """
        if path.exists() and not force:
            raise InputError(
                f"{path} already exists",
                [
                    Problem(
                        "refusing to overwrite",
                        file=str(path),
                        hint="pass --force, or choose another path",
                    )
                ],
            )
        template = resources.spec_dir() / "templates" / "candidate.yaml"
        path.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
        out.print(
            f"wrote {path}; edit it, then run: tokencert declaration check {path}", highlight=False
        )
