"""``tokencert verify CERT.pdf``: offline third-party verification. Exit 0 valid, 1 not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from conformance._core.errors import InputError, Problem
from conformance.cli.console import out, print_json

_STYLE = {"pass": "green", "fail": "red", "unknown": "yellow"}


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}", [Problem(
            "file not readable", file=str(path))]) from None


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--at {value!r} is not an ISO 8601 time", [Problem(
            "bad time", hint="e.g. 2027-03-01T00:00:00Z")]) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_cmd(
        pdf: Path = typer.Argument(..., help="The certificate PDF."),
        trust: Path = typer.Option(..., "--trust", help="The certification body's root "
                                   "certificate (PEM) you trust."),
        bundle: Path | None = typer.Option(None, "--bundle", help="The evidence bundle zip "
                                           "(re-judged unless --no-rejudge)."),
        crl: list[Path] = typer.Option([], "--crl", help="A current CRL of the body, fetched "
                                       "by you (the one embedded at signing proves the state "
                                       "at signing only). Repeatable."),
        status: list[Path] = typer.Option([], "--status", help="The body's signed status "
                                          "list (status.json), fresh. Repeatable: the highest "
                                          "sequence decides."),
        at: str | None = typer.Option(None, "--at", help="Check at this time (ISO 8601; "
                                      "default now)."),
        no_rejudge: bool = typer.Option(False, "--no-rejudge", help="Skip re-judging the "
                                        "bundle's evidence (faster; reported as not checked)."),
        allow_demo: bool = typer.Option(False, "--allow-demo", help="Accept a DEMO "
                                        "certificate as what it is (exit 0 if all else holds)."),
        accept: list[str] = typer.Option([], "--accept-unchecked", metavar="WHAT",
                                         help="Accept these facts unchecked (groups: "
                                         "revocation, status, time, bundle, rejudge, or fact "
                                         "names; comma-separated or repeated)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Verify a certificate offline: signature intact and covering the whole file,
        trusted timestamp, trusted and unrevoked evaluator, attestation, bundle against
        manifest and PDF, verdicts re-judged from the evidence, validity period, status
        list. Exit 0 valid, 1 invalid or not fully checked, 2 usage error.

        Examples:

        \b
          tokencert verify cert1/EXC-HQTS-2026.1-2026-000001.pdf \\
              --bundle cert1/EXC-HQTS-2026.1-2026-000001.bundle.zip --trust pki/ca.cert.pem \\
              --crl pki/crl.pem --status pki/status.json
          tokencert verify cert1/EXC-HQTS-2026.1-2026-000001.pdf --trust pki/ca.cert.pem \\
              --accept-unchecked bundle,revocation,status --json
        """
        from conformance.verify import load_trust_root, verify_certificate
        from conformance.verify.report import expand_accepted

        try:
            accepted = expand_accepted(accept)
        except ValueError as exc:
            raise InputError(f"--accept-unchecked: {exc}", [Problem(
                "unknown name", hint="e.g. --accept-unchecked revocation,status")]) from None
        for p in status:
            if not p.is_file():
                raise InputError(f"cannot read status list {p}", [Problem(
                    "file not found", file=str(p))])
        report = verify_certificate(
            _read(pdf, "certificate"), load_trust_root(trust),
            _read(bundle, "bundle") if bundle else None,
            [_read(c, "CRL") for c in crl], status, _when(at), rejudge=not no_rejudge,
            allow_demo=allow_demo, accepted=accepted)
        if json_out:
            print_json(report.to_json())
        else:
            title = f"{report.number or pdf.name}" + (" (DEMO)" if report.demo else "")
            table = Table(title=title)
            for col in ("Fact", "Status", "Detail"):
                table.add_column(col, overflow="fold")
            for f in report.ordered():
                table.add_row(f.name, f"[{_STYLE[f.status]}]{f.status}[/]", escape(f.detail))
            out.print(table)
            style = "green" if report.valid else "red"
            out.print(f"[bold {style}]{escape(report.bottom_line)}[/]", highlight=False)
        if not report.valid:
            raise typer.Exit(1)
