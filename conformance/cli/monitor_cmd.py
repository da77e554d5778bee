"""``tokencert monitor``: continuous measurement of many token services, a public ranking,
signed monthly reports, a live dashboard, and a demo."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from rich.markup import escape

from conformance._core.errors import InputError, Problem
from conformance.cli.console import err, out, print_json

app = typer.Typer(
    help="Monitor token services continuously: probe, store, rank, publish.\n\n"
    "Examples:\n\n\b\n"
    "  tokencert monitor demo --out mon-demo\n"
    "  tokencert monitor check monitor.yaml\n"
    "  tokencert monitor probe --campaign monitor.yaml --once\n"
    "  tokencert monitor probe --campaign monitor.yaml --db postgresql://mon@db/mon\n"
    "  tokencert monitor report --period 2026-12 --out site\n"
    "  tokencert monitor serve --db monitor.db",
    no_args_is_help=True,
)
DB_HELP = "The store: a SQLite file (default monitor.db) or postgresql://user@host:port/db."


def _say(msg: str) -> None:
    err.print(escape(msg), highlight=False)


@app.command("check")
def check(campaign: Path = typer.Argument(..., help="The campaign file (monitor.yaml).")
          ) -> None:
    """Validate a campaign file (schema, declarations, limits); exit 2 with file:line errors.

    Examples:

    \b
      tokencert monitor check monitor.yaml
    """
    from conformance.monitor.campaign import load_campaign

    c = load_campaign(campaign)
    out.print(f"campaign {c.name}: {len(c.targets)} targets × {len(c.workloads)} workloads "
              f"× {len(c.scenarios)} scenarios, prober {c.prober}, {c.schedule.describe()}",
              highlight=False)


@app.command("probe")
def probe(
    campaign: Path = typer.Option(..., "--campaign", help="The campaign file (monitor.yaml)."),
    db: str = typer.Option("monitor.db", "--db", help=DB_HELP),
    once: bool = typer.Option(False, "--once", help="Run the rounds due now, then exit."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output (--once)."),
) -> None:
    """Probe the campaign's targets: one round (--once) or on schedule until stopped.

    Rounds are keyed by (campaign, prober, target, workload, scenario, slot) in the store:
    a restarted prober runs the slot it missed and never repeats one.

    Examples:

    \b
      tokencert monitor probe --campaign monitor.yaml --once
      tokencert monitor probe --campaign monitor.yaml --db postgresql://mon@db.internal/mon
    """
    from conformance.monitor.campaign import load_campaign
    from conformance.monitor.prober import Prober
    from conformance.monitor.scheduler import Runner, run_forever
    from conformance.monitor.store import open_store

    c = load_campaign(campaign)
    missing = sorted({t.api_key_env for t in c.targets if t.api_key() is None})
    if missing:
        _say(f"warning: no key in {', '.join(missing)} (requests go without one)")
    store = open_store(db)
    try:
        runner = Runner(Prober(c, store), _say)
        if once:
            done = runner.recover() + runner.run_due()
            if json_out:
                print_json([{"target": r.key.target, "workload": r.key.workload,
                             "scenario": r.key.scenario, "slot": r.key.slot.isoformat() + "Z",
                             "status": r.status, "n": r.n, "ok": r.ok} for r in done])
            else:
                ran = [r for r in done if r.status != "skipped"]
                out.print(f"{len(ran)} rounds run, {len(done) - len(ran)} already in the store",
                          highlight=False)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            run_forever(runner, stop)
        except KeyboardInterrupt:
            stop.set()
    finally:
        store.close()


@app.command("report")
def report(
    period: str = typer.Option(..., "--period", help="The month, YYYY-MM (UTC)."),
    out_dir: Path = typer.Option(..., "--out", help="Directory for the static site."),
    db: str = typer.Option("monitor.db", "--db", help=DB_HELP),
    campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign."),
    prober: str | None = typer.Option(None, "--prober", help="Only this prober."),
    metric: str = typer.Option("output_tps", "--rank-by",
                               help="output_tps (default), ttft_ms or e2e_ms."),
    key: Path | None = typer.Option(None, "--key", help="Publisher key (encrypted PEM): "
                                    "also write the signed report PDF and bundle."),
    cert: Path | None = typer.Option(None, "--cert", help="Publisher certificate (PEM)."),
    chain: list[Path] = typer.Option([], "--chain", help="Issuer certificates; repeatable."),
    crl: Path | None = typer.Option(None, "--crl", help="CRL to embed (PAdES B-LT)."),
    pass_env: str | None = typer.Option(None, "--passphrase-env", metavar="NAME",
                                        help="Variable holding the key passphrase."),
    pki_dir: Path | None = typer.Option(None, "--pki", help="The body's PKI directory: its "
                                        "TSA key timestamps the signed report (RFC 3161)."),
    tsa_url: str | None = typer.Option(None, "--tsa-url", help="An external RFC 3161 "
                                       "time-stamping authority instead of the body's."),
    tsa_pass_env: str | None = typer.Option(None, "--tsa-passphrase-env", metavar="NAME",
                                            help="Variable holding the TSA key passphrase."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The monthly ranking as static HTML with plots; with --key/--cert also the signed
    monitoring report (PDF + evidence bundle) that `tokencert verify` checks.

    Examples:

    \b
      tokencert monitor report --period 2026-12 --out site --db monitor.db
      tokencert monitor report --period 2026-12 --out site --key pub.key.pem \\
          --cert pub.cert.pem --chain pki/ca.cert.pem --passphrase-env TC_PUB_PASS \\
          --pki pki --tsa-passphrase-env TC_TSA_PASS
    """
    from conformance.monitor.figures import METRICS, compute, month
    from conformance.monitor.publish import ranking_rows, write_static
    from conformance.monitor.store import open_store

    if metric not in METRICS:
        raise InputError(f"--rank-by {metric!r}", [Problem(
            "unknown metric", hint=f"use one of {', '.join(METRICS)}")])
    if (key is None) != (cert is None):
        raise InputError("--key and --cert go together", [Problem("missing one of them")])
    store = open_store(db)
    try:
        w = compute(store, month(period, campaign=campaign, prober=prober, metric=metric))
        pages = write_static(store, w, out_dir, f"tokencert monitoring · {period}")
        result: dict[str, object] = {"index": str(pages[0]), "rows": list(ranking_rows(w))}
        if key is not None and cert is not None:
            from conformance.certificate.certify import Signing
            from conformance.cli.certify_cmd import _signing, _timestamper
            from conformance.monitor.signed import sign_report

            has_tsa = pki_dir is not None and (pki_dir / "tsa.cert.pem").is_file()
            stamper = _timestamper(pki_dir if tsa_url is None and has_tsa else None, tsa_url,
                                   tsa_pass_env)
            signing = _signing(key, cert, chain, crl, pass_env, stamper)
            assert isinstance(signing, Signing)
            s = sign_report(store, w, signing, out_dir, period)
            result |= {"number": s.number, "pdf": str(s.pdf), "bundle": str(s.bundle),
                       "bundle_digest": s.bundle_digest}
    finally:
        store.close()
    if json_out:
        print_json(result)
    else:
        out.print(f"wrote {pages[0]} ({len(pages) - 1} target pages)", highlight=False)
        if "pdf" in result:
            out.print(f"signed report {result['number']}\n  {result['pdf']}\n  "
                      f"{result['bundle']}", highlight=False)


@app.command("serve")
def serve(
    db: str = typer.Option("monitor.db", "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", help="Port (0: any free port)."),
    refresh_s: float = typer.Option(10.0, "--refresh", help="Auto-refresh period (s)."),
) -> None:
    """The live dashboard: leaderboard with sorting and filters, charts, drill-down.

    Examples:

    \b
      tokencert monitor serve --db monitor.db --port 8765
    """
    import uvicorn

    from conformance.monitor.dashboard import make_app
    from conformance.monitor.store import open_store

    store = open_store(db)
    _say(f"dashboard on http://{host}:{port}/ (Ctrl-C stops)")
    try:
        uvicorn.run(make_app(store, refresh_s), host=host, port=port, log_level="warning")
    finally:
        store.close()


@app.command("demo")
def demo(
    out_dir: Path = typer.Option(Path("monitor-demo"), "--out", help="A new directory."),
    every_s: float = typer.Option(20.0, "--every", help="Seconds between rounds."),
    duration_s: float = typer.Option(180.0, "--duration", help="Seconds of probing."),
    port: int = typer.Option(0, "--port", help="Dashboard port during the demo (0: free)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Three local targets (fast, slow, over-billing by one token) probed on a compressed
    schedule, the dashboard live while it runs, then the static and the signed report.

    Examples:

    \b
      tokencert monitor demo --out mon-demo
      tokencert monitor demo --out mon-demo --every 5 --duration 60 --json
    """
    from conformance.monitor.demo import run_demo

    if every_s < 1 or duration_s <= 0:
        raise InputError("--every must be ≥ 1 s and --duration > 0", [Problem("bad timing")])
    res = run_demo(out_dir, every_s=every_s, duration_s=duration_s, serve_port=port,
                   say=_say)
    if json_out:
        print_json(res.to_json())
        return
    out.print(f"{res.rounds} rounds stored in {res.db}\nreport: {res.report_dir}/index.html\n"
              f"signed: {res.report_pdf}\nverify: {res.verified}\n"
              f"dashboard: tokencert monitor serve --db {res.db}", highlight=False)
