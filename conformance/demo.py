"""``tokencert demo``: the whole pipeline on the local reference service, end to end.

reference service over TLS → conformance run (a profile, ``quick`` by default) → a
throw-away PKI → demo decisions on the manual requirements → DEMO certificate and evidence
bundle → self-assessment report → offline verification against the demo root.

Everything is real (TLS, signatures, PDF); only the certification is not: the reviews say
they were recorded by the demo, and the certificate carries ``demo: true`` in its signed
data and a DEMO watermark on every page. The passphrases of the demo keys are generated
here and live only in memory; the API keys live only in this process's environment while
the run lasts. Whatever was started is stopped again, also on an error or Ctrl-C.

The conformance run itself is a pytest session, which the library may not import: the
caller passes it in as ``run_suite`` (the CLI passes the one ``tokencert run`` uses).
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance._core.environ import scoped_environment
from conformance._core.errors import InputError, Problem, RunError

RunSuite = Callable[[Path, Path, str, str | None], dict[str, Any]]
"""(candidate declaration, run directory, profile, only) → the results document."""

Say = Callable[[str], None]

# What the demo writes under --out; --force removes exactly these, nothing else.
OWN = ("reference", "run", "pki", "certificate")
DEMO_REVIEWER = "tokencert demo (automatic, no evaluator)"
DEMO_NOTE = ("DEMO decision recorded automatically by `tokencert demo`: no evaluator "
             "reviewed any document. Reference-service statement: {statement}")


@dataclass(frozen=True)
class DemoResult:
    out: Path
    run_dir: Path
    certificate_pdf: Path
    bundle: Path
    number: str
    report_html: Path
    report_pdf: Path | None
    trust_root: Path
    crl: Path
    valid: bool
    bottom_line: str
    level: str | None
    counts: dict[str, int]
    reviews: tuple[str, ...]
    waived: tuple[str, ...]
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out), "run": str(self.run_dir),
            "certificate": {"number": self.number, "pdf": str(self.certificate_pdf),
                            "bundle": str(self.bundle), "demo": True},
            "report": {"html": str(self.report_html),
                       "pdf": str(self.report_pdf) if self.report_pdf else None},
            "trust_root": str(self.trust_root), "crl": str(self.crl),
            "verification": {"valid": self.valid, "bottom_line": self.bottom_line},
            "level": self.level, "counts": self.counts,
            "demo_reviews": list(self.reviews), "waived_for_demo": list(self.waived),
            "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()},
        }


def prepare_out(out: Path, force: bool) -> None:
    """Refuse a non-empty ``out`` unless ``force``; with it, remove only what a demo
    writes there (``OWN``), never anything else."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is not a directory", [Problem(
            "a file is in the way", file=str(out), hint="choose another --out")])
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise InputError(f"--out {out} is not empty", [Problem(
                "refusing to write into a non-empty directory", file=str(out),
                hint="choose a new --out, or pass --force to replace an earlier demo there")])
        for name in OWN:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _review_manual(run_dir: Path, results: dict[str, Any], say: Say) -> list[str]:
    from conformance.certificate import record_review
    from conformance.reference.declare import GOVERNANCE

    decided = []
    for r in results["requirements"]:
        if r.get("method") != "manual" or r.get("outcome") != "manual":
            continue
        statement = GOVERNANCE.get(r["id"], "none")
        record_review(run_dir, r["id"], "pass", DEMO_NOTE.format(statement=statement),
                      reviewer=DEMO_REVIEWER)
        decided.append(r["id"])
    if decided:
        say(f"recorded DEMO decisions (no evaluator) for {', '.join(decided)}")
    return decided


def run_demo(out: Path, run_suite: RunSuite, *, profile: str = "quick",
             only: str | None = None, force: bool = False,
             say: Say = lambda _msg: None) -> DemoResult:
    """Run the demo into ``out``; returns what was written and the verification result.

    Raises InputError (bad --out), RunError (the run did not complete) or
    CertificateError (certify refused for a reason a demo does not waive).
    """
    from cryptography import x509

    from conformance.certificate import (
        Registry,
        Signing,
        certify,
        init_ca,
        issue_evaluator,
        load_cert,
        load_private_key,
        make_crl,
    )
    from conformance.certificate.roles import (
        Body,
        init_status_signer,
        init_tsa,
        status_signer,
        tsa,
        write_body,
    )
    from conformance.certificate.sign import local_timestamper
    from conformance.certificate.statuslist import update
    from conformance.reference import ReferenceService
    from conformance.report.html import write_report
    from conformance.verify import verify_certificate

    out = out.resolve()
    prepare_out(out, force)
    run_dir, pki_dir, cert_dir = out / "run", out / "pki", out / "certificate"
    timings: dict[str, float] = {}
    t = time.monotonic()

    say("starting the reference service over TLS (loopback)")
    with ReferenceService.start(tls=True, workdir=out / "reference") as svc:
        timings["start_service"] = time.monotonic() - t
        say(f"reference service at {svc.base_url}; running the {profile!r} profile"
            + (f" (only {only})" if only else ""))
        t = time.monotonic()
        with scoped_environment(svc.env):
            results = run_suite(svc.declaration_path, run_dir, profile, only)
        declaration = svc.declaration_path  # kept: the workdir is under --out
        timings["run"] = time.monotonic() - t
    say("reference service stopped")
    if results.get("status") != "complete":
        raise RunError(f"the demo run did not complete; what was recorded is in {run_dir}")

    t = time.monotonic()
    say(f"creating a demo PKI in {pki_dir} (passphrases kept in memory only)")
    ca_pass, ev_pass = (secrets.token_urlsafe(32).encode() for _ in range(2))
    pki = init_ca(pki_dir, ca_pass, "tokencert DEMO Root (not a certification body)",
                  "tokencert demo", years=1, demo=True)
    body = Body("tokencert DEMO (not a certification body)", "none (DEMO)", "DEMO",
                "https://register.tokencert.invalid/demo", demo=True)
    write_body(pki_dir, body)
    issued = issue_evaluator(pki, ca_pass, pki_dir / "evaluator", ev_pass,
                             "DEMO Evaluator (not accredited)", "tokencert demo", days=30)
    init_tsa(pki, ca_pass, ev_pass, "tokencert DEMO Time-Stamping Authority", days=30)
    init_status_signer(pki, ca_pass, ev_pass, "tokencert DEMO Status Signer", days=30)
    crl_path = make_crl(pki, ca_pass)
    ca_cert = pki.ca_cert()
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    tsa_key, tsa_cert = tsa(pki, ev_pass)
    signing = Signing(load_private_key(issued.key_path, ev_pass), load_cert(issued.cert_path),
                      (ca_cert,), crl, ca_cert, local_timestamper(tsa_key, tsa_cert, [ca_cert]))
    st_key, st_cert = status_signer(pki, ev_pass)
    update(pki_dir / "status.json", "publish", "", st_key, st_cert, [])
    del ca_pass, ev_pass, st_key, tsa_key
    timings["pki"] = time.monotonic() - t

    reviews = _review_manual(run_dir, results, say)

    t = time.monotonic()
    say("issuing the DEMO certificate and evidence bundle")
    cert = certify(run_dir, signing, cert_dir, Registry(cert_dir / "registry.json"), demo=True,
                   body=body, declaration=declaration)
    for p in cert.waived:
        say(f"waived for the demo: {p.message}")
    timings["certify"] = time.monotonic() - t

    t = time.monotonic()
    say("rendering the self-assessment report")
    written = write_report(run_dir, None, pdf=True)
    timings["report"] = time.monotonic() - t

    t = time.monotonic()
    say("verifying the certificate and bundle against the demo root")
    report = verify_certificate(cert.pdf.read_bytes(), ca_cert, cert.bundle.read_bytes(),
                                [crl_path.read_bytes()], pki_dir / "status.json", None,
                                allow_demo=True)
    timings["verify"] = time.monotonic() - t

    final = _read_results(run_dir)
    summary = final.get("summary", {})
    return DemoResult(
        out=out, run_dir=run_dir, certificate_pdf=cert.pdf, bundle=cert.bundle,
        number=cert.number, report_html=written[0],
        report_pdf=written[1] if len(written) > 1 else None, trust_root=pki.ca_cert_path,
        crl=crl_path, valid=report.valid and report.demo, bottom_line=report.bottom_line,
        level=summary.get("level"),
        counts={k: int(v) for k, v in (summary.get("counts") or {}).items()},
        reviews=tuple(reviews), waived=tuple(p.message for p in cert.waived),
        timings_s=timings)


def _read_results(run_dir: Path) -> dict[str, Any]:
    from conformance.certificate.review import load_results

    return load_results(run_dir)[0]
