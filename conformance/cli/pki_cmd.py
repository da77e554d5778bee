"""``tokencert pki``: the certification body's root CA, evaluator certificates, CRL and the
certificate status list."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance.cli.console import out, print_json
from conformance.cli.passphrase import passphrase

app = typer.Typer(help="PKI of a certification body: root CA, evaluator certificates, "
                  "revocation (CRL), certificate status list.\n\nExamples:\n\n\b\n"
                  "  tokencert pki init-ca --dir pki --ca-passphrase-env TC_CA_PASS\n"
                  '  tokencert pki issue-evaluator --dir pki --name "Jane Doe" --out keys/jane '
                  "--ca-passphrase-env TC_CA_PASS --passphrase-env TC_EV_PASS\n"
                  "  tokencert pki crl --dir pki --ca-passphrase-env TC_CA_PASS",
                  no_args_is_help=True)
status_app = typer.Typer(help="Withdraw, suspend or reinstate a conformance certificate in "
                         "the signed status list.\n\nExamples:\n\n\b\n"
                         "  tokencert pki status suspend HQTS-2026.1-2026-000001 --dir pki "
                         '--reason "billing under review" --ca-passphrase-env TC_CA_PASS',
                         no_args_is_help=True)
app.add_typer(status_app, name="status")

DIR = typer.Option(Path("pki"), "--dir", help="The PKI directory (holds ca.key.pem, "
                   "ca.cert.pem, index.json, crl.pem, status.json).")
CA_PASS = typer.Option(None, "--ca-passphrase-env", metavar="NAME",
                       help="Environment variable holding the CA key passphrase "
                       "(prompted when omitted).")
JSON = typer.Option(False, "--json", help="Print the written paths as JSON.")


@app.command("init-ca")
def init_ca_cmd(
    dir_: Path = DIR,
    name: str = typer.Option("tokencert Certification Body Root", "--name"),
    org: str = typer.Option("tokencert", "--org"),
    years: int = typer.Option(20, "--years", min=1, max=50),
    pass_env: str | None = CA_PASS,
    json_out: bool = JSON,
) -> None:
    """Create the root CA: ECDSA P-384, CA:TRUE (pathlen 0), keyCertSign + cRLSign.

    Examples:

    \b
      tokencert pki init-ca --dir pki --ca-passphrase-env TC_CA_PASS
    """
    from conformance.certificate.pki import init_ca

    pki = init_ca(dir_, passphrase(pass_env, "CA key", confirm=True), name, org, years)
    if json_out:
        print_json({"ca_cert": str(pki.ca_cert_path), "ca_key": str(pki.root / "ca.key.pem")})
        return
    out.print(f"wrote {pki.root / 'ca.cert.pem'} and the encrypted {pki.root / 'ca.key.pem'}",
              highlight=False)


@app.command("issue-evaluator")
def issue_cmd(
    name: str = typer.Option(..., "--name", help="The evaluator (lab signer) common name."),
    dir_: Path = DIR,
    org: str = typer.Option("tokencert evaluation lab", "--org"),
    out_dir: Path | None = typer.Option(None, "--out", help="Where to write evaluator.key.pem "
                                        "and evaluator.cert.pem (default DIR/evaluator)."),
    days: int = typer.Option(730, "--days", min=1),
    crl_url: str = typer.Option("http://crl.tokencert.invalid/ca.crl", "--crl-url"),
    ca_pass_env: str | None = CA_PASS,
    pass_env: str | None = typer.Option(None, "--passphrase-env", metavar="NAME",
                                        help="Variable holding the new key's passphrase."),
    json_out: bool = JSON,
) -> None:
    """Issue an evaluator certificate: ECDSA P-256, digitalSignature + nonRepudiation,
    documentSigning EKU (1.3.6.1.5.5.7.3.36), CRL distribution point.

    Examples:

    \b
      tokencert pki issue-evaluator --dir pki --name "Jane Doe" --out keys/jane \\
          --ca-passphrase-env TC_CA_PASS --passphrase-env TC_EV_PASS
    """
    from conformance.certificate.pki import Pki, issue_evaluator

    pki = Pki(dir_)
    ca_pass = passphrase(ca_pass_env, "CA key")
    key_pass = passphrase(pass_env, "new evaluator key", confirm=True)
    issued = issue_evaluator(pki, ca_pass, out_dir or dir_ / "evaluator", key_pass, name, org,
                             days, crl_url)
    if json_out:
        print_json({"cert": str(issued.cert_path), "key": str(issued.key_path),
                    "serial": f"{issued.serial:x}"})
        return
    out.print(f"wrote {issued.cert_path} (serial {issued.serial:x}) and the encrypted "
              f"{issued.key_path}", highlight=False)


@app.command("revoke")
def revoke_cmd(
    target: str = typer.Argument(..., help="Evaluator certificate file, or its hex serial."),
    dir_: Path = DIR,
    reason: str = typer.Option("key_compromise", "--reason",
                               help="CRL reason, e.g. key_compromise, superseded."),
) -> None:
    """Mark an evaluator certificate revoked (takes effect in the next `pki crl`).

    Examples:

    \b
      tokencert pki revoke keys/jane/evaluator.cert.pem --dir pki --reason key_compromise
    """
    from conformance.certificate.pki import Pki, revoke

    serial = revoke(Pki(dir_), target, reason)
    out.print(f"revoked {serial}; publish it with `tokencert pki crl --dir {dir_}`",
              highlight=False)


@app.command("crl")
def crl_cmd(
    dir_: Path = DIR,
    days: int = typer.Option(30, "--days", min=1, help="Days until the next update."),
    ca_pass_env: str | None = CA_PASS,
    json_out: bool = JSON,
) -> None:
    """Sign a fresh CRL listing every revoked evaluator certificate (DIR/crl.pem).

    Examples:

    \b
      tokencert pki crl --dir pki --ca-passphrase-env TC_CA_PASS
      tokencert pki crl --dir pki --days 7 --ca-passphrase-env TC_CA_PASS --json
    """
    from conformance.certificate.pki import Pki, make_crl

    path = make_crl(Pki(dir_), passphrase(ca_pass_env, "CA key"), days)
    if json_out:
        print_json({"crl": str(path)})
        return
    out.print(f"wrote {path}", highlight=False)


def _status(action: str, number: str, dir_: Path, reason: str | None,
            ca_pass_env: str | None) -> None:
    from conformance.certificate.pki import Pki
    from conformance.certificate.statuslist import update

    pki = Pki(dir_)
    key = pki.ca_key(passphrase(ca_pass_env, "CA key"))
    update(dir_ / "status.json", action, number, key, pki.ca_cert(), [], reason)
    out.print(f"{number}: {action} recorded; publish {dir_ / 'status.json'}", highlight=False)


NUMBER = typer.Argument(..., help="Certificate number, e.g. HQTS-2026.1-2026-000001.")
REASON = typer.Option(None, "--reason", help="Why (shown by verify).")


@status_app.command("withdraw")
def withdraw(number: str = NUMBER, dir_: Path = DIR, reason: str | None = REASON,
             ca_pass_env: str | None = CA_PASS) -> None:
    """Withdraw a conformance certificate (final).

    Examples:

    \b
      tokencert pki status withdraw HQTS-2026.1-2026-000001 --dir pki \\
          --reason "vendor request" --ca-passphrase-env TC_CA_PASS
    """
    _status("withdraw", number, dir_, reason, ca_pass_env)


@status_app.command("suspend")
def suspend(number: str = NUMBER, dir_: Path = DIR, reason: str | None = REASON,
            ca_pass_env: str | None = CA_PASS) -> None:
    """Suspend a conformance certificate (reversible with reinstate).

    Examples:

    \b
      tokencert pki status suspend HQTS-2026.1-2026-000001 --dir pki \\
          --reason "billing under review" --ca-passphrase-env TC_CA_PASS
    """
    _status("suspend", number, dir_, reason, ca_pass_env)


@status_app.command("reinstate")
def reinstate(number: str = NUMBER, dir_: Path = DIR, reason: str | None = REASON,
              ca_pass_env: str | None = CA_PASS) -> None:
    """Reinstate a suspended certificate.

    Examples:

    \b
      tokencert pki status reinstate HQTS-2026.1-2026-000001 --dir pki \\
          --reason "review closed" --ca-passphrase-env TC_CA_PASS
    """
    _status("reinstate", number, dir_, reason, ca_pass_env)
