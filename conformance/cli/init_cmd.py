"""``tokencert init``: write an annotated candidate.yaml template."""

from __future__ import annotations

import re
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
        dialect: str = typer.Option(
            "openai-chat", "--dialect",
            help="The wire dialect: openai-chat, anthropic-messages or openai-responses."),
    ) -> None:
        """Write an annotated candidate.yaml template to fill in.

        Examples:

        \b
          tokencert init candidate.yaml
          tokencert init messages-candidate.yaml --dialect anthropic-messages
        """
        # imported here: the client pulls httpx, which a [verify]-only install lacks
        from conformance.run.client.config import DIALECTS

        if dialect not in DIALECTS:
            raise InputError(
                f"unknown dialect {dialect!r}",
                [Problem(f"known: {', '.join(DIALECTS)}", hint="pass one of them to --dialect")],
            )
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
        text = template.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^(  dialect: )openai-chat\b", lambda m: m.group(1) + dialect, text,
                      count=1)
        path.write_text(text, encoding="utf-8")
        out.print(
            f"wrote {path}; edit it, then run: tokencert declaration check {path}", highlight=False
        )
