"""``tokencert doctor``: the run's preflight alone — can this declaration be measured?"""

from __future__ import annotations

from pathlib import Path

import typer

from conformance.cli.console import err, out, print_json


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        candidate: Path = typer.Option(..., "--candidate", help="The candidate declaration."),
        profile: str = typer.Option("quick", "--profile",
                                    help="quick | standard | certification, or a YAML path "
                                    "(its request deadline caps the declaration's)."),
        only: str | None = typer.Option(None, "--only",
                                        help="Requirement ids/globs the run would select."),
        catalog: Path | None = typer.Option(None, "--catalog", help="Catalog directory."),
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    ) -> None:
        """Check in seconds what `tokencert run` checks before it sends anything: the host
        resolves, the port accepts connections, it speaks the declared transport (TLS with
        the declared trust, or plain http), the base URL is the API's prefix, the key is
        accepted, the model is offered, and a streamed request with usage is answered.
        Sends three requests; decides no verdict. Exit codes: 0 ready to run; 2 the
        declaration or environment is wrong (the message says what to change); 3 the
        service cannot be reached.

        Examples:

        \b
          tokencert doctor --candidate candidate.yaml
          tokencert doctor --candidate candidate.yaml --profile certification --json
        """
        from conformance.cli.run_inputs import check_service
        from conformance.declaration import load_declaration
        from conformance.plan import build_plan
        from conformance.spec import load_catalog, load_profile

        decl = load_declaration(candidate)
        prof = load_profile(profile)
        plan = build_plan(load_catalog(catalog), prof, decl, only)
        if not decl.endpoint.api_key():
            err.print(f"warning: environment variable {decl.endpoint.api_key_env} is not "
                      "set: the key check will fail", highlight=False, markup=False)
        report = check_service(decl, prof, plan)
        if as_json:
            print_json({"ok": True, **report.to_json()})
            return
        for step in report.steps:
            out.print(f"ok  {step.name:9} {step.detail}", highlight=False, markup=False)
        for note in report.notes:
            out.print(f"note: {note}", highlight=False, markup=False)
        out.print(f"ready: {decl.endpoint.base_url} can be measured "
                  f"({report.seconds:.1f} s)", highlight=False, markup=False)
