"""``tokencert monitor demo``: three local targets, a compressed schedule, the report.

The targets are the reference service three times: ``fast``, ``slow`` (every output token
takes longer) and ``overbilling`` (a middle speed, with the ``hidden_token`` defect: one
hidden prompt token billed on every request). Their keys live in this process's
environment only while the demo runs; the campaign file names the variables.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conformance._core.environ import scoped_environment
from conformance._core.errors import InputError, Problem

if TYPE_CHECKING:
    from conformance.monitor.store import Store

Say = Callable[[str], None]
# what the demo's throw-away PKI cannot show (no TSA, status signer or CRL); a real
# publication is verified with all of them (docs/monitoring.md)
DEMO_UNCHECKED = frozenset({"trusted_time", "signer_valid_at_signing", "signer_not_revoked",
                            "not_withdrawn"})

# name → (time per output token in ms, defects). Ordered fastest first.
TARGETS: Mapping[str, tuple[float, tuple[str, ...]]] = {
    "fast": (3.0, ()),
    "overbilling": (9.0, ("hidden_token",)),
    "slow": (27.0, ()),
}
KEY_ENV = "TOKENCERT_MONITOR_DEMO_KEY_{}"


@dataclass(frozen=True)
class DemoOutcome:
    out: Path
    campaign_path: Path
    db: Path
    rounds: int
    report_dir: Path | None
    report_pdf: Path | None
    verified: str | None
    dashboard_url: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def write_campaign(out: Path, declarations: Mapping[str, Path], every_s: float) -> Path:
    doc = {
        "campaign": "demo",
        "prober": {"name": "local", "region": "loopback"},
        "targets": [{"name": n, "declaration": str(p),
                     "api_key_env": KEY_ENV.format(n.upper())}
                    for n, p in declarations.items()],
        "workloads": [{"name": "short", "input_tokens": 100, "output_tokens": 48}],
        "scenarios": [{"name": "single", "parallel": 1}, {"name": "parallel-4", "parallel": 4}],
        "schedule": {"every_s": every_s},
        "request_timeout_s": 30,
        "window_hours": 72,
    }
    path = out / "monitor.yaml"
    path.write_text("# written by `tokencert monitor demo`\n" + yaml.safe_dump(
        doc, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def targets(out: Path) -> Iterator[tuple[dict[str, Path], dict[str, str]]]:
    """Start the three reference services; their declarations and key variables."""
    from conformance.reference import ReferenceService

    with contextlib.ExitStack() as stack:
        decls, env = {}, {}
        for name, (tpot, defects) in TARGETS.items():
            svc = stack.enter_context(ReferenceService.start(
                defects=defects, workdir=out / "targets" / name,
                sim_config={"tpot_ms": tpot, "base_ttft_ms": 30.0, "jitter": 0.05}))
            decls[name] = svc.declaration_path
            env[KEY_ENV.format(name.upper())] = svc.api_key
        yield decls, env


def run_demo(out: Path, *, every_s: float = 20.0, duration_s: float = 180.0,
             report: bool = True, serve_port: int | None = 0, min_rounds: int | None = None,
             say: Say = lambda _m: None) -> DemoOutcome:
    """Probe three local targets on a compressed schedule, then write the report.
    Probing stops after ``duration_s``, or once every (target, workload, scenario) has
    ``min_rounds`` completed rounds."""
    from conformance.monitor.campaign import load_campaign
    from conformance.monitor.prober import Prober
    from conformance.monitor.scheduler import Runner, run_forever
    from conformance.monitor.store import open_store

    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out} is not empty", [Problem(
            "refusing to write into a non-empty directory", file=str(out),
            hint="choose a new --out")])
    out.mkdir(parents=True, exist_ok=True)
    db = out / "monitor.db"
    url = None
    say("starting three local targets: fast, slow, and over-billing by one token")
    with targets(out) as (decls, env), scoped_environment(env):
        path = write_campaign(out, decls, every_s)
        campaign = load_campaign(path)
        store = open_store(db)
        server = None
        try:
            if serve_port is not None:
                from conformance.monitor.dashboard import serve_in_thread

                server, url = serve_in_thread(store, port=serve_port)
                say(f"dashboard: {url}")
            say(f"probing every {every_s:g} s for {duration_s:g} s (campaign {path})")
            keys = len(campaign.targets) * len(campaign.workloads) * len(campaign.scenarios)

            def enough() -> bool:
                done = [r for r in store.rounds("demo") if r["status"] == "done"]
                seen = {(r["target"], r["workload"], r["scenario"]) for r in done}
                return min_rounds is not None and len(seen) == keys and all(
                    sum(1 for r in done if (r["target"], r["workload"], r["scenario"]) == k)
                    >= min_rounds for k in seen)

            run_forever(Runner(Prober(campaign, store), say), threading.Event(),
                        max_seconds=duration_s, until=enough)
            rounds = sum(1 for r in store.rounds("demo") if r["status"] == "done")
            report_dir = pdf = None
            verified = None
            if report:
                report_dir, pdf, verified = demo_publish(store, out, say)
        finally:
            if server is not None:
                server.should_exit = True
            store.close()
    return DemoOutcome(out, path, db, rounds, report_dir, pdf, verified, url)


def demo_publish(store: Store, out: Path, say: Say) -> tuple[Path, Path, str]:
    """The demo's report: static HTML, and a signed report under a throw-away demo PKI,
    verified at once against the demo root."""
    import secrets

    from conformance.certificate import (
        Signing,
        init_ca,
        issue_evaluator,
        load_cert,
        load_private_key,
    )
    from conformance.monitor.figures import compute, month
    from conformance.monitor.publish import write_static
    from conformance.monitor.signed import sign_report
    from conformance.monitor.store import utc_naive
    from conformance.verify import verify_certificate

    period = utc_naive().strftime("%Y-%m")
    w = compute(store, month(period, campaign="demo"))
    report_dir = out / "report"
    write_static(store, w, report_dir, f"tokencert monitoring · demo · {period}")
    say(f"static report: {report_dir / 'index.html'}")
    ca_pass, ev_pass = (secrets.token_urlsafe(32).encode() for _ in range(2))
    pki = init_ca(out / "pki", ca_pass, "tokencert DEMO Root (not a certification body)",
                  "tokencert demo", years=1, demo=True)
    issued = issue_evaluator(pki, ca_pass, out / "pki" / "evaluator", ev_pass,
                             "DEMO Monitoring Publisher", "tokencert demo", days=30)
    ca = pki.ca_cert()
    signing = Signing(load_private_key(issued.key_path, ev_pass), load_cert(issued.cert_path),
                      (ca,), None, ca)
    signed = sign_report(store, w, signing, report_dir, period, demo=True)
    # a demo: no timestamp authority, status list or CRL is set up, and it says so
    rep = verify_certificate(signed.pdf.read_bytes(), ca, signed.bundle.read_bytes(),
                             allow_demo=True, accepted=DEMO_UNCHECKED)
    say(f"signed report {signed.pdf} — verify: {rep.bottom_line}")
    return report_dir, signed.pdf, rep.bottom_line
