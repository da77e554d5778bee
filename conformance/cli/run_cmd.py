"""``tokencert run`` (the conformance suite against a candidate) and ``tokencert results``.

``run`` checks its inputs (exit 2 on bad input), then runs pytest in-process over the
packaged ``test_suites/`` with the tokencert plugin options. Exit codes: 0 the run completed
and no MUST requirement failed; 1 a MUST requirement failed; 2 bad input; 3 the run could
not complete (what was recorded is kept: finish it with ``--resume``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import typer

from conformance._core import resources
from conformance._core.errors import InputError, Problem, RunError
from conformance.cli.console import err, out, print_json

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3


def preflight(candidate: Path, profile: str, out_dir: Path, only: str | None, resume: bool,
              catalog: Path | None) -> None:
    """Everything that can be wrong with the inputs, reported before anything is sent."""
    from conformance.declaration import load_declaration
    from conformance.plan import build_plan
    from conformance.spec import load_catalog, load_profile

    decl = load_declaration(candidate)
    plan_catalog = load_catalog(catalog)
    build_plan(plan_catalog, load_profile(profile), decl, only)
    env = decl.endpoint.api_key_env
    if not os.environ.get(env):
        raise InputError(f"the API key variable {env} is not set", [Problem(
            f"environment variable {env} is empty", file=str(candidate),
            json_path="$.endpoint.api_key_env", hint=f"export {env}=<key> and run again")])
    manifest = out_dir / "evidence" / "run.json"
    if manifest.exists() and not resume:
        raise InputError(f"{out_dir} already holds a run", [Problem(
            "evidence exists", file=str(manifest),
            hint="pass --resume to continue it, or choose a new --out")])
    if resume and not manifest.exists():
        raise InputError(f"nothing to resume in {out_dir}", [Problem(
            "no evidence/run.json", file=str(manifest), hint="drop --resume to start a run")])


def pytest_args(candidate: Path, profile: str, out_dir: Path, only: str | None,
                resume: bool, junit: Path, catalog: Path | None,
                ray_address: str | None = None, ray_workers: int | None = None) -> list[str]:
    suites = resources.test_suites_dir()
    args = [str(suites), "--rootdir", str(suites), "-c", str(suites / "pytest.ini"),
            "-p", "no:cacheprovider", "-q", "--no-header",
            "--tokencert-junit", str(junit), "--tokencert-candidate", str(candidate),
            "--tokencert-profile", profile, "--tokencert-out", str(out_dir)]
    if only:
        args += ["--tokencert-only", only]
    if resume:
        args.append("--tokencert-resume")
    if catalog is not None:
        args += ["--tokencert-catalog", str(catalog)]
    if ray_address:
        args += ["--tokencert-ray-address", ray_address]
    if ray_workers is not None:
        args += ["--tokencert-ray-workers", str(ray_workers)]
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


def run_suite(candidate: Path, profile: str, out_dir: Path, only: str | None = None,
              resume: bool = False, junit: Path | None = None,
              catalog: Path | None = None, quiet_stdout: bool = False,
              ray_address: str | None = None, ray_workers: int | None = None
              ) -> dict[str, Any]:
    """Check the inputs, run the conformance suite in-process (pytest with the tokencert
    plugin, live phase progress on a terminal) and return the results document.

    Shared by ``tokencert run`` and ``tokencert demo``. With ``quiet_stdout`` pytest's own
    report goes to stderr, so stdout stays free for JSON. Raises InputError (exit 2) on bad
    input and RunError (exit 3) when no results were written.
    """
    import pytest

    from conformance.report import results

    preflight(candidate, profile, out_dir, only, resume, catalog)
    check_ray(ray_address, ray_workers)
    out_dir.mkdir(parents=True, exist_ok=True)
    junit_path = junit or out_dir / "junit.xml"
    args = pytest_args(candidate.resolve(), profile, out_dir.resolve(), only, resume,
                       junit_path.resolve(), catalog, ray_address, ray_workers)
    with contextlib.redirect_stdout(sys.stderr) if quiet_stdout else contextlib.nullcontext():
        rc = pytest.main(args)
    if rc == pytest.ExitCode.USAGE_ERROR:
        raise InputError("the conformance suite refused to start (see above)")
    if not (out_dir / results.RESULTS).exists():
        raise RunError(f"the run did not complete (pytest exit {int(rc)}); what was "
                       f"recorded is in {out_dir}/evidence — continue with --resume")
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
        candidate: Path = typer.Option(..., "--candidate", help="The candidate declaration."),
        profile: str = typer.Option("quick", "--profile",
                                    help="quick | standard | certification, or a YAML path."),
        out_dir: Path = typer.Option(..., "--out", help="Run directory to write."),
        only: str | None = typer.Option(None, "--only",
                                        help="Requirement ids/globs, e.g. 'PERF-*,API-001'."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
        junit: Path | None = typer.Option(None, "--junit",
                                          help="JUnit XML path (default OUT/junit.xml): "
                                          "one test case per requirement, from its verdict."),
        catalog: Path | None = typer.Option(None, "--catalog", help="Catalog directory."),
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
          tokencert run --candidate candidate.yaml --out run1 --resume
          tokencert run --candidate candidate.yaml --out run1 --ray-address auto
        """
        doc = run_suite(candidate, profile, out_dir, only, resume, junit, catalog,
                        quiet_stdout=as_json, ray_address=ray_address,
                        ray_workers=ray_workers)
        show(doc, as_json)
        code = exit_code(doc)
        if code == EXIT_INCOMPLETE:
            err.print(f"run incomplete: continue it with --resume --out {out_dir}")
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
        doc = results.compute(run_dir)
        show(doc, as_json, fmt, failed)
        raise typer.Exit(exit_code(doc))
