"""``tokencert run`` (the conformance suite against a candidate) and ``tokencert results``.

``run`` checks its inputs (exit 2 on bad input), then runs pytest in-process over the
packaged ``test_suites/`` with the tokencert plugin options. Exit codes: 0 the run completed
and no MUST requirement failed; 1 a MUST requirement failed; 2 bad input; 3 the run could
not complete (what was recorded is kept: finish it with ``--resume``).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import typer

from conformance._core import resources
from conformance._core.errors import InputError, Problem, RunError
from conformance.cli.console import err, out, print_json
from conformance.cli.run_inputs import (
    check_inputs,
    check_out,
    check_service,
    resume_command,
    resume_inputs,
    run_edition,
    sigterm_interrupts,
)

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3


def pytest_args(candidate: Path, profile: str, out_dir: Path, only: str | None,
                resume: bool, junit: Path, catalog: Path | None,
                ray_address: str | None = None, ray_workers: int | None = None,
                edition: str | None = None) -> list[str]:
    suites = resources.test_suites_dir()
    args = [str(suites), "--rootdir", str(suites), "-c", str(suites / "pytest.ini"),
            "-p", "no:cacheprovider", "-q", "--no-header",
            "--tokencert-junit", str(junit), "--tokencert-candidate", str(candidate),
            "--tokencert-profile", profile, "--tokencert-out", str(out_dir),
            "--tokencert-no-preflight"]  # run_suite has checked the service already
    if only:
        args += ["--tokencert-only", only]
    if resume:
        args.append("--tokencert-resume")
    if catalog is not None:
        args += ["--tokencert-catalog", str(catalog)]
    if edition:
        args += ["--tokencert-edition", edition]
    if ray_address:
        args += ["--tokencert-ray-address", ray_address]
    if ray_workers is not None:
        args += ["--tokencert-ray-workers", str(ray_workers)]
    args.append("--tokencert-no-preflight")  # run_suite has checked the service already
    return args


def check_ray(ray_address: str | None, ray_workers: int | None) -> None:
    """--ray-address needs the distributed extra; --ray-workers needs --ray-address."""
    if ray_workers is not None and not ray_address:
        raise InputError("--ray-workers needs --ray-address", [Problem(
            "no Ray cluster given", hint="add --ray-address auto (or host:port, or local)")])
    if ray_workers is not None and ray_workers < 1:
        raise InputError("--ray-workers must be >= 1")
    if ray_address is None:
        return
    import importlib.util

    if not ray_address.strip():
        raise InputError("--ray-address must not be empty (host:port, auto or local)")
    if importlib.util.find_spec("ray") is None:
        raise InputError("--ray-address needs Ray", [Problem(
            "the ray package is not installed",
            hint="pip install 'tokencert[distributed]'")])


def run_suite(candidate: Path | None, profile: str | None, out_dir: Path,
              only: str | None = None,
              resume: bool = False, junit: Path | None = None,
              catalog: Path | None = None, quiet_stdout: bool = False,
              ray_address: str | None = None, ray_workers: int | None = None,
              edition: str | None = None) -> dict[str, Any]:
    """Check the inputs, run the conformance suite in-process (pytest with the tokencert
    plugin, live phase progress on a terminal) and return the results document.

    Shared by ``tokencert run`` and ``tokencert demo``. With ``quiet_stdout`` pytest's own
    report goes to stderr, so stdout stays free for JSON. Raises InputError (exit 2) on bad
    input and RunError (exit 3) when no results were written.
    """
    import pytest

    from conformance.report import results

    check_out(out_dir)
    edition = run_edition(out_dir, edition, catalog, resume)
    if resume:
        candidate, profile, catalog, only = resume_inputs(out_dir, candidate, profile,
                                                          catalog, only)
    if candidate is None:
        raise InputError("--candidate is required", [Problem(
            "no candidate declaration given",
            hint="tokencert run --candidate candidate.yaml --out DIR (only --resume reads "
            "it from the run directory)")])
    profile = profile or "quick"
    decl, prof, plan = check_inputs(candidate, profile, out_dir, only, resume, catalog,
                                    edition)
    check_ray(ray_address, ray_workers)
    report = check_service(decl, prof, plan)
    for note in report.notes:
        err.print(f"preflight: {note}", highlight=False, markup=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    junit_path = junit or out_dir / "junit.xml"
    if Path(profile).suffix in (".yaml", ".yml") and Path(profile).is_file():
        profile = str(Path(profile).resolve())
    args = pytest_args(candidate.resolve(), profile, out_dir.resolve(), only, resume,
                       junit_path.resolve(), catalog.resolve() if catalog else None,
                       ray_address, ray_workers, edition)
    with contextlib.redirect_stdout(sys.stderr) if quiet_stdout else contextlib.nullcontext(), \
            sigterm_interrupts():
        rc = pytest.main(args)
    if rc == pytest.ExitCode.USAGE_ERROR:
        raise InputError("the conformance suite refused to start (see above)")
    if not (out_dir / results.RESULTS).exists():
        raise RunError(f"the run did not complete (pytest exit {int(rc)}); what was "
                       f"recorded is in {out_dir}/evidence — continue it: "
                       f"{resume_command(out_dir)}")
    return results.read(out_dir)


def exit_code(doc: dict[str, Any]) -> int:
    from conformance.report.results import must_failed

    if doc["status"] != "complete":
        return EXIT_INCOMPLETE
    return EXIT_FAILED if must_failed(doc) else EXIT_OK


def show(doc: dict[str, Any], as_json: bool, fmt: str = "table", failed: bool = False
         ) -> None:
    """The verdicts on stdout: a text table (words never split: at the terminal's width,
    or at its natural width in a pipe), Markdown, CSV or JSON (conformance.report.table)."""
    from conformance.report.table import render

    fmt = "json" if as_json else fmt
    if fmt == "json" and not failed:
        print_json(doc)
        return
    sys.stdout.write(render(doc, fmt, failed, out.width if out.is_terminal else None))


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        candidate: Path | None = typer.Option(
            None, "--candidate", help="The candidate declaration (with --resume: read from "
            "the run directory)."),
        profile: str | None = typer.Option(
            None, "--profile", help="quick (default) | standard | certification, or a YAML "
            "path (with --resume: read from the run directory)."),
        out_dir: Path = typer.Option(..., "--out", help="Run directory to write."),
        only: str | None = typer.Option(None, "--only",
                                        help="Requirement ids/globs, e.g. 'PERF-*,API-001'."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
        junit: Path | None = typer.Option(None, "--junit",
                                          help="JUnit XML path (default OUT/junit.xml): "
                                          "one test case per requirement, from its verdict."),
        catalog: Path | None = typer.Option(None, "--catalog", help="Catalog directory."),
        edition: str | None = typer.Option(
            None, "--edition", help="Published catalog edition: hqts-2026.1 (default) or "
            "hqts-2026.2 (adds tool calls, structured output and their metering). "
            "--resume keeps the run's edition."),
        as_json: bool = typer.Option(False, "--json", help="Print results.json at the end."),
        ray_address: str | None = typer.Option(
            None, "--ray-address", help="Run the load phases on a Ray cluster: host:port, "
            "auto (the cluster `ray start` runs here) or local (a private one on 127.0.0.1)."),
        ray_workers: int | None = typer.Option(
            None, "--ray-workers", help="Ray load workers per phase (default: one per node)."),
    ) -> None:
        """Run the conformance suite against a candidate and write OUT/results.json,
        OUT/evidence/ and OUT/junit.xml.

        Examples:

        \b
          tokencert run --candidate candidate.yaml --profile quick --out run1
          tokencert run --candidate candidate.yaml --out run1 --only 'API-*,METER-001'
          tokencert run --resume --out run1
          tokencert run --candidate candidate.yaml --out run2 --edition hqts-2026.2
          tokencert run --candidate candidate.yaml --out run1 --ray-address auto
        """
        doc = run_suite(candidate, profile, out_dir, only, resume, junit, catalog,
                        quiet_stdout=as_json, ray_address=ray_address,
                        ray_workers=ray_workers, edition=edition)
        show(doc, as_json)
        code = exit_code(doc)
        if code == EXIT_INCOMPLETE:
            from conformance.report.results import run_end

            end = run_end(out_dir / "evidence") or {}
            for why in end.get("incomplete") or ["interrupted"]:
                err.print(f"incomplete: {why}", highlight=False, markup=False)
            err.print(f"run incomplete: continue it with `{resume_command(out_dir)}`",
                      highlight=False, markup=False)
        raise typer.Exit(code)

    @app.command("results")
    def results_cmd(
        run_dir: Path = typer.Argument(..., help="A run directory written by `tokencert run`."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON "
                                     "(same as --format json)."),
        fmt: str = typer.Option("table", "--format",
                                help="table | md | csv | json. The table never splits a word."),
        failed: bool = typer.Option(False, "--failed",
                                    help="Show only the requirements that failed."),
    ) -> None:
        """Print the verdict table again, recomputed from the saved evidence (no re-run).
        Exit codes as for `run`.

        Examples:

        \b
          tokencert results run1
          tokencert results run1 --failed
          tokencert results run1 --format md
          tokencert results run1 --format csv --failed
          tokencert results run1 --json
        """
        from conformance.report import results
        from conformance.report.table import FORMATS

        if fmt not in FORMATS:
            raise InputError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}", [Problem(
                f"unknown format {fmt!r}", hint="use --format table, md, csv or json")])
        if (run_dir / results.RESULTS).exists():
            results.read(run_dir)  # a truncated or corrupt results.json: say so (exit 2)
        doc = results.compute(run_dir)
        show(doc, as_json, fmt, failed)
        raise typer.Exit(exit_code(doc))
