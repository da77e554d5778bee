"""``tokencert plan``: the phases a run will send and the client load each puts on the
instrument, with the number of load workers (processes or Ray workers) it needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from conformance.cli.console import out, print_json

if TYPE_CHECKING:
    from conformance.declaration.models import Declaration
    from conformance.plan import Plan
    from conformance.plan.load import LoadEstimate
    from conformance.plan.probes import ProbeLoad


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        candidate: Path = typer.Option(..., "--candidate", help="The candidate declaration."),
        profile: str = typer.Option("quick", "--profile",
                                    help="quick | standard | certification, or a YAML path."),
        only: str | None = typer.Option(None, "--only",
                                        help="Requirement ids/globs, e.g. 'PERF-*,API-001'."),
        catalog: Path | None = typer.Option(None, "--catalog", help="Catalog directory."),
        as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
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
        """
        from conformance.declaration import load_declaration
        from conformance.plan import build_plan
        from conformance.plan.load import estimate
        from conformance.spec import load_catalog, load_profile

        decl = load_declaration(candidate)
        p = build_plan(load_catalog(catalog), load_profile(profile), decl, only)
        est = estimate(p, decl)
        probes = _probes(p, decl, catalog, est)
        if as_json:
            print_json({"profile": p.profile, "candidate": decl.public_summary(),
                        **est.to_json(), "probes": [x.to_json() for x in probes]})
            return
        t = Table(title=f"client load — {p.profile} profile")
        for col in ("Phase", "Strategy", "Streams", "Chunks/s", "Bytes/s", "Workers",
                    "Limited by"):
            t.add_column(col, justify="left" if col in ("Phase", "Strategy") else "right")
        for ph in est.phases:
            t.add_row(ph.phase, ph.strategy, str(ph.streams), f"{ph.chunks_per_s:,.0f}",
                      f"{ph.bytes_per_s:,.0f}", str(ph.workers), ph.limited_by)
        out.print(t)
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
