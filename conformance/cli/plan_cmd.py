"""``tokencert plan``: the phases a run will send, how long each is expected to take, and
the client load each puts on the instrument, with the number of load workers (processes or
Ray workers) it needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from conformance._core.errors import InputError, Problem
from conformance.cli.console import out, print_json, table_console

if TYPE_CHECKING:
    from conformance.declaration.models import Declaration
    from conformance.plan import Plan
    from conformance.plan.load import LoadEstimate
    from conformance.plan.probes import ProbeLoad


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        candidate: Path | None = typer.Option(
            None, "--candidate", help="The candidate declaration (with --levels: default "
            "a perfect service, the reference service's declaration with every feature)."),
        profile: str = typer.Option("quick", "--profile",
                                    help="quick | standard | certification, or a YAML path."),
        only: str | None = typer.Option(None, "--only",
                                        help="Requirement ids/globs, e.g. 'PERF-*,API-001'."),
        catalog: Path | None = typer.Option(None, "--catalog", help="Catalog directory."),
        edition: str | None = typer.Option(
            None, "--edition", help="Published catalog edition (default hqts-2026.1)."),
        as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
        levels: bool = typer.Option(False, "--levels", help=(
            "Instead of the client load: the highest level the profile can demonstrate for "
            "each automated requirement of a perfect service (its planned samples and "
            "duration judged against each level's minimum evidence and bounds).")),
    ) -> None:
        """Estimate the client load of each phase of a run (streams in flight, content
        chunks/s, bytes/s) against one client process's measured capacity
        (docs/scaling.md), and say how many load workers the run needs: more than one
        means worker processes on this machine, or `tokencert run --ray-address ...
        --ray-workers N` across machines. Sends nothing.

        Examples:

        \b
          tokencert plan --candidate candidate.yaml --profile certification
          tokencert plan --candidate candidate.yaml --profile standard --json
          tokencert plan --profile certification --levels
          tokencert plan --profile quick --levels --edition hqts-2026.2
        """
        from conformance.declaration import load_declaration
        from conformance.plan import build_plan
        from conformance.plan.bounds import run_bound
        from conformance.plan.build import request_timeout
        from conformance.plan.duration import expect_plan, human_duration, total_seconds
        from conformance.plan.load import estimate
        from conformance.spec import load_catalog, load_profile

        if edition:
            from conformance._core import resources
            from conformance.cli.run_inputs import run_edition
            from conformance.spec import load_edition

            run_edition(Path(), edition, catalog, resume=False)  # not with --catalog
            load_edition(edition)  # an unknown name lists the shipped ones
            catalog = resources.catalog_dir(edition)
        if levels:
            _levels(candidate, profile, only, catalog, as_json)
            return
        if candidate is None:
            raise InputError("--candidate is required (except with --levels)",
                             [Problem("no --candidate", hint="tokencert plan --candidate "
                                      "candidate.yaml --profile quick")])
        decl = load_declaration(candidate)
        prof = load_profile(profile)
        p = build_plan(load_catalog(catalog), prof, decl, only)
        est = estimate(p, decl)
        deadline = run_bound(p, decl, request_timeout(prof, decl)).deadline_s
        expected = {e.phase: e for e in expect_plan(p, decl.performance)}
        total = total_seconds(tuple(expected.values()))
        probes = _probes(p, decl, catalog, est)
        if as_json:
            print_json({"profile": p.profile, "candidate": decl.public_summary(),
                        **est.to_json(),
                        "duration": {"expected_s": round(total, 1), "deadline_s": deadline,
                                     "phases": [e.to_json() for e in expected.values()]},
                        "probes": [x.to_json() for x in probes]})
            return
        t = Table(title=f"phases and client load — {p.profile} profile")
        for col in ("Phase", "Strategy", "Requests", "Expected", "Streams", "Chunks/s",
                    "Bytes/s", "Workers", "Limited by"):
            t.add_column(col, justify="left" if col in ("Phase", "Strategy") else "right",
                         no_wrap=True)
        for ph in est.phases:
            e = expected[ph.phase]
            t.add_row(ph.phase, ph.strategy, f"~{e.requests:,}",
                      f"~{human_duration(e.duration_s)}", str(ph.streams),
                      f"{ph.chunks_per_s:,.0f}", f"{ph.bytes_per_s:,.0f}", str(ph.workers),
                      ph.limited_by)
        table_console().print(t)
        out.print(f"expected duration: ~{human_duration(total)} of load phases (at the "
                  "declared capacity; a slower service takes longer), plus the protocol "
                  "and security probes", highlight=False)
        out.print(f"run deadline: {human_duration(deadline)} (every request to its deadline; "
                  "a run past it stops as incomplete, exit 3, and can be resumed)",
                  highlight=False)
        cap = est.chunks_per_s_per_process
        out.print(f"one client process: {cap:,.0f} chunks/s measured, planned at "
                  f"{est.utilisation:.0%}; at most {est.streams_per_loop} streams per loop",
                  highlight=False)
        if est.workers > 1:
            out.print(f"this run needs {est.workers} load workers: run it with "
                      f"--ray-address ADDRESS --ray-workers {est.workers} (or on a machine "
                      "with that many free cores)", highlight=False)
        else:
            out.print("one client process is enough for this run", highlight=False)
        for x in probes:
            rate = f", {x.rate_rps:g} requests/s" if x.rate_rps is not None else ""
            fits = ("one client process can reach it" if x.one_process
                    else f"needs {x.processes} client processes")
            out.print(f"{x.requirement} probe: {x.what}{rate}; {fits}", highlight=False)


def _probes(p: Plan, decl: Declaration, catalog_dir: Path | None, est: LoadEstimate
            ) -> list[ProbeLoad]:
    """The refusal probes of the plan (STAB-003's burst, SEC-005's rate) and the client
    rate each needs (conformance.plan.probes)."""
    from conformance.plan.probes import probe_loads
    from conformance.spec import load_catalog

    burst = p.phase("burst")
    return probe_loads(load_catalog(catalog_dir), decl,
                       burst.concurrency if burst is not None else None, est.utilisation,
                       tuple(r.id for r in p.requirements if r.applicable))


def _levels(candidate: Path | None, profile: str, only: str | None, catalog: Path | None,
            as_json: bool) -> None:
    """``tokencert plan --levels``: the highest level each requirement can show."""
    import tempfile

    from conformance.declaration import load_declaration
    from conformance.reference.declare import perfect_declaration
    from conformance.report.reach import reach
    from conformance.spec import load_catalog, load_profile

    with tempfile.TemporaryDirectory(prefix="tokencert-levels-") as tmp:
        path = candidate or perfect_declaration(Path(tmp))
        decl = load_declaration(path)
    prof = load_profile(profile)
    rows = reach(load_catalog(catalog), prof, decl, only)
    who = "a perfect service" if candidate is None else str(candidate)
    if as_json:
        print_json({"profile": prof.id, "service": who, "requirements":
                    [r.to_json() for r in rows]})
        return
    t = Table(title=f"highest level demonstrable — {prof.id} profile, {who}")
    for col in ("Requirement", "Obligation", "Level", "Samples", "Duration", "Evidence",
                "Next level blocked by"):
        t.add_column(col, justify="right" if col in ("Samples", "Duration") else "left",
                     overflow="fold")
    for r in rows:
        p = r.planned
        dur = f"{p.duration_s:,.0f} s" if p and p.duration_s else ""
        t.add_row(r.id, r.obligation, r.level or ("—" if r.outcome == "pass" else r.outcome),
                  f"{p.samples:,}" if p else "", dur, p.source if p else "", r.blocker or "")
    out.print(t)
