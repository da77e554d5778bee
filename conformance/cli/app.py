"""The ``tokencert`` command. Exceptions map to exit codes here, and only here.

Exit codes: 0 success; 1 a check failed (a MUST requirement failed, verification
failed); 2 usage or input error; 3 a run could not complete.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from conformance import __version__
from conformance._core.errors import TokencertError
from conformance._core.redact import scrub
from conformance.cli import (
    certify_cmd,
    compare_cmd,
    declaration_cmd,
    demo_cmd,
    doctor_cmd,
    init_cmd,
    monitor_cmd,
    pki_cmd,
    plan_cmd,
    reference_cmd,
    report_cmd,
    review_cmd,
    run_cmd,
    spec_cmd,
    verify_cmd,
)
from conformance.cli.console import err

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3

app = typer.Typer(
    name="tokencert",
    help=(
        "Certify LLM token services against the HQTS catalog.\n\n"
        "Examples:\n\n\b\n"
        "  tokencert demo --out demo\n"
        "  tokencert spec list --category PERF\n"
        "  tokencert run --candidate candidate.yaml --profile quick --out run1\n\n"
        "Exit codes: 0 success; 1 a check failed (a MUST requirement failed, verification "
        "failed); 2 usage or input error; 3 a run could not complete."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tokencert {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Certify LLM token services against the HQTS catalog."""


app.add_typer(spec_cmd.app, name="spec")
app.add_typer(declaration_cmd.app, name="declaration")
app.add_typer(reference_cmd.app, name="reference")
demo_cmd.register(app)
doctor_cmd.register(app)
init_cmd.register(app)
compare_cmd.register(app)
report_cmd.register(app)
run_cmd.register(app)
plan_cmd.register(app)
app.add_typer(pki_cmd.app, name="pki")
app.add_typer(monitor_cmd.app, name="monitor")
certify_cmd.register(app)
review_cmd.register(app)
verify_cmd.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        rc = app(args=argv, prog_name="tokencert", standalone_mode=False)
    except TokencertError as exc:
        err.print("[bold red]error:[/] " + escape(scrub(exc.render())), highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and friends
        # Duck-typed: recent typer raises the exceptions of its own vendored click, which
        # are not `click.ClickException`.
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(EXIT_USAGE)
        raise
    sys.exit(rc if isinstance(rc, int) else EXIT_OK)
