"""``tokencert verify CERT.pdf``: offline third-party verification. Exit 0 valid, 1 not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
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
        bundle: Path | None = typer.Option(None, "--bundle", help="The evidence bundle zip."),
        crl: Path | None = typer.Option(None, "--crl", help="A current CRL (else the one "
                                        "embedded at signing is used)."),
        status: Path | None = typer.Option(None, "--status", help="The signed certificate "
                                           "status list (status.json)."),
        at: str | None = typer.Option(None, "--at", help="Check validity at this time "
                                      "(ISO 8601; default now)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Verify a certificate offline: signature intact and covering the whole file,
        trusted and unrevoked evaluator, attestation, bundle against manifest and PDF,
        validity period, status list. Exit 0 valid, 1 invalid, 2 usage error.

        Examples:

        \b
          tokencert verify cert1/HQTS-2026.1-2026-000001.pdf \\
              --bundle cert1/HQTS-2026.1-2026-000001.bundle.zip --trust pki/ca.cert.pem
          tokencert verify cert1/HQTS-2026.1-2026-000001.pdf --trust pki/ca.cert.pem \\
              --crl pki/crl.pem --status pki/status.json --json
        """
        from conformance.verify import load_trust_root, verify_certificate

        report = verify_certificate(
            _read(pdf, "certificate"), load_trust_root(trust),
            _read(bundle, "bundle") if bundle else None,
            [_read(crl, "CRL")] if crl else None, status, _when(at))
        if json_out:
            print_json(report.to_json())
        else:
            title = f"{report.number or pdf.name}" + (" (DEMO)" if report.demo else "")
            table = Table(title=title)
            for col in ("Fact", "Status", "Detail"):
                table.add_column(col, overflow="fold")
            for f in report.ordered():
                table.add_row(f.name, f"[{_STYLE[f.status]}]{f.status}[/]", f.detail)
            out.print(table)
            style = "green" if report.valid else "red"
            out.print(f"[bold {style}]{report.bottom_line}[/]", highlight=False)
        if not report.valid:
            raise typer.Exit(1)
