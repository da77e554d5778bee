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
                  "  tokencert pki init-tsa --dir pki --ca-passphrase-env TC_CA_PASS "
                  "--passphrase-env TC_TSA_PASS\n"
                  "  tokencert pki init-status-signer --dir pki --ca-passphrase-env TC_CA_PASS "
                  "--passphrase-env TC_ST_PASS\n"
                  "  tokencert pki crl --dir pki --ca-passphrase-env TC_CA_PASS",
                  no_args_is_help=True)
status_app = typer.Typer(help="Withdraw, suspend or reinstate a conformance certificate in "
                         "the signed status list.\n\nExamples:\n\n\b\n"
                         "  tokencert pki status suspend EXC-HQTS-2026.1-2026-000001 --dir pki "
                         '--reason "billing under review" --passphrase-env TC_ST_PASS\n'
                         "  tokencert pki status publish --dir pki --passphrase-env TC_ST_PASS",
                         no_args_is_help=True)
app.add_typer(status_app, name="status")
register_app = typer.Typer(help="The body's public register of certificates.\n\nExamples:"
                           "\n\n\b\n  tokencert pki register export --dir pki --out public "
                           "--passphrase-env TC_ST_PASS", no_args_is_help=True)
app.add_typer(register_app, name="register")

DIR = typer.Option(Path("pki"), "--dir", help="The PKI directory (holds ca.key.pem, "
                   "ca.cert.pem, body.json, index.json, crl.pem, tsa.*, status.*, "
                   "status.json, registry.json).")
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
    body_name: str | None = typer.Option(None, "--body-name", help="The certification "
                                         "body's name on certificates (default --org)."),
    accreditation: str = typer.Option("not accredited", "--accreditation", help="The "
                                      "body's accreditation reference, e.g. 'DAkkS D-ZE-12345'."),
    prefix: str = typer.Option("TC", "--prefix", help="Certificate-number prefix of this "
                               "body (2–12 capitals/digits)."),
    register_url: str = typer.Option("https://register.tokencert.invalid/", "--register-url",
                                     help="The body's public register (the QR code links "
                                     "there with number and digest)."),
    demo: bool = typer.Option(False, "--demo", help="A DEMO PKI: every certificate it "
                              "issues carries the DEMO policy and signs only DEMO documents."),
    pass_env: str | None = CA_PASS,
    json_out: bool = JSON,
) -> None:
    """Create the root CA: ECDSA P-384, CA:TRUE (pathlen 0), keyCertSign + cRLSign, and
    body.json (the body's name, accreditation, number prefix, register URL).

    Examples:

    \b
      tokencert pki init-ca --dir pki --ca-passphrase-env TC_CA_PASS \\
          --body-name "Example Certification GmbH" --accreditation "DAkkS D-ZE-12345" \\
          --prefix EXC --register-url https://register.example.org/
      tokencert pki init-ca --dir demo-pki --demo --prefix DEMO --ca-passphrase-env TC_CA_PASS
    """
    from conformance.certificate.pki import init_ca
    from conformance.certificate.roles import Body, check_prefix, write_body

    check_prefix(prefix)
    pki = init_ca(dir_, passphrase(pass_env, "CA key", confirm=True,
                                   flag="--ca-passphrase-env"), name, org, years, demo=demo)
    write_body(dir_, Body(body_name or org, accreditation, prefix, register_url, demo))
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
    documentSigning EKU (1.3.6.1.5.5.7.3.36), CRL distribution point (and the DEMO policy
    when the PKI is a DEMO one).

    Examples:

    \b
      tokencert pki issue-evaluator --dir pki --name "Jane Doe" --out keys/jane \\
          --ca-passphrase-env TC_CA_PASS --passphrase-env TC_EV_PASS
      tokencert pki issue-evaluator --dir demo-pki --name "Demo Evaluator" --out demo-keys \\
          --ca-passphrase-env TC_CA_PASS --passphrase-env TC_EV_PASS
    """
    from conformance.certificate.pki import Pki, issue_evaluator

    pki = Pki(dir_)
    ca_pass = passphrase(ca_pass_env, "CA key", flag="--ca-passphrase-env")
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

    path = make_crl(Pki(dir_), passphrase(ca_pass_env, "CA key", flag="--ca-passphrase-env"), days)
    if json_out:
        print_json({"crl": str(path)})
        return
    out.print(f"wrote {path}", highlight=False)


def _role_cmd(kind: str, dir_: Path, ca_pass_env: str | None, pass_env: str | None,
              days: int, json_out: bool) -> None:
    from conformance.certificate.pki import Pki
    from conformance.certificate.roles import init_status_signer, init_tsa

    pki = Pki(dir_)
    ca_pass = passphrase(ca_pass_env, "CA key", flag="--ca-passphrase-env")
    key_pass = passphrase(pass_env, f"new {kind} key", confirm=True)
    make = init_tsa if kind == "TSA" else init_status_signer
    path = make(pki, ca_pass, key_pass, days=days)
    if json_out:
        print_json({"cert": str(path)})
        return
    out.print(f"wrote {path} and its encrypted key", highlight=False)


KEY_PASS = typer.Option(None, "--passphrase-env", metavar="NAME",
                        help="Variable holding the new key's passphrase.")


@app.command("init-tsa")
def init_tsa_cmd(dir_: Path = DIR, ca_pass_env: str | None = CA_PASS,
                 pass_env: str | None = KEY_PASS,
                 days: int = typer.Option(3650, "--days", min=1), json_out: bool = JSON) -> None:
    """Create the body's RFC 3161 time-stamping authority (RSA 3072, EKU timeStamping,
    critical) under the root: DIR/tsa.cert.pem and the encrypted DIR/tsa.key.pem. `certify
    --pki DIR` timestamps with it; an external authority is `certify --tsa-url URL`.

    Examples:

    \b
      tokencert pki init-tsa --dir pki --ca-passphrase-env TC_CA_PASS \\
          --passphrase-env TC_TSA_PASS
    """
    _role_cmd("TSA", dir_, ca_pass_env, pass_env, days, json_out)


@app.command("init-status-signer")
def init_status_cmd(dir_: Path = DIR, ca_pass_env: str | None = CA_PASS,
                    pass_env: str | None = KEY_PASS,
                    days: int = typer.Option(3650, "--days", min=1),
                    json_out: bool = JSON) -> None:
    """Create the key that alone signs the status list and the public register (the
    tokencert status-signing EKU, critical): DIR/status.cert.pem, DIR/status.key.pem.

    Examples:

    \b
      tokencert pki init-status-signer --dir pki --ca-passphrase-env TC_CA_PASS \\
          --passphrase-env TC_ST_PASS
    """
    _role_cmd("status signer", dir_, ca_pass_env, pass_env, days, json_out)


def _status(action: str, number: str | None, dir_: Path, reason: str | None,
            pass_env: str | None, registry: Path | None, days: int) -> None:
    from conformance._core.errors import InputError, Problem
    from conformance.certificate.pki import Pki
    from conformance.certificate.registry import Registry
    from conformance.certificate.roles import status_signer
    from conformance.certificate.statuslist import update

    pki = Pki(dir_)
    reg = registry or dir_ / "registry.json"
    if number is not None:
        if not reg.is_file():
            raise InputError(f"no certificate registry at {reg}", [Problem(
                "cannot check that the number was issued", file=str(reg),
                hint="pass --registry (the one `certify --registry` / `--pki` wrote)")])
        if Registry(reg).find(number) is None:
            raise InputError(f"{number} was never issued (not in {reg})", [Problem(
                "unknown certificate number", file=str(reg),
                hint="copy the number from the certificate or registry.json")])
    key, cert = status_signer(pki, passphrase(pass_env, "status signer key"))
    new = update(dir_ / "status.json", action, number or "", key, cert, [], reason,
                 days=days)
    what = f"{number}: {action} recorded" if number else "status list re-signed"
    out.print(f"{what} (sequence {new['sequence']}, next update {new['next_update']}); "
              f"publish {dir_ / 'status.json'}", highlight=False)


NUMBER = typer.Argument(..., help="Certificate number, e.g. EXC-HQTS-2026.1-2026-000001.")
REASON = typer.Option(None, "--reason", help="Why (shown by verify).")
ST_PASS = typer.Option(None, "--passphrase-env", metavar="NAME",
                       help="Variable holding the status signer's key passphrase (prompted "
                       "when omitted).")
REGISTRY = typer.Option(None, "--registry", help="The certificate registry (default "
                        "DIR/registry.json); the number must be in it.")
DAYS = typer.Option(7, "--days", min=1, help="Days until the list's next update.")


@status_app.command("withdraw")
def withdraw(number: str = NUMBER, dir_: Path = DIR, reason: str | None = REASON,
             pass_env: str | None = ST_PASS, registry: Path | None = REGISTRY,
             days: int = DAYS) -> None:
    """Withdraw a conformance certificate (final).

    Examples:

    \b
      tokencert pki status withdraw EXC-HQTS-2026.1-2026-000001 --dir pki \\
          --reason "vendor request" --passphrase-env TC_ST_PASS
    """
    _status("withdraw", number, dir_, reason, pass_env, registry, days)


@status_app.command("suspend")
def suspend(number: str = NUMBER, dir_: Path = DIR, reason: str | None = REASON,
            pass_env: str | None = ST_PASS, registry: Path | None = REGISTRY,
            days: int = DAYS) -> None:
    """Suspend a conformance certificate (reversible with reinstate).

    Examples:

    \b
      tokencert pki status suspend EXC-HQTS-2026.1-2026-000001 --dir pki \\
          --reason "billing under review" --passphrase-env TC_ST_PASS
    """
    _status("suspend", number, dir_, reason, pass_env, registry, days)


@status_app.command("reinstate")
def reinstate(number: str = NUMBER, dir_: Path = DIR, reason: str | None = REASON,
              pass_env: str | None = ST_PASS, registry: Path | None = REGISTRY,
              days: int = DAYS) -> None:
    """Reinstate a suspended certificate.

    Examples:

    \b
      tokencert pki status reinstate EXC-HQTS-2026.1-2026-000001 --dir pki \\
          --reason "review closed" --passphrase-env TC_ST_PASS
    """
    _status("reinstate", number, dir_, reason, pass_env, registry, days)


@status_app.command("publish")
def publish(dir_: Path = DIR, pass_env: str | None = ST_PASS, days: int = DAYS) -> None:
    """Re-sign the status list unchanged (next sequence number, fresh next update): run it
    before the current list's next update, whether or not anything changed.

    Examples:

    \b
      tokencert pki status publish --dir pki --passphrase-env TC_ST_PASS --days 7
    """
    _status("publish", None, dir_, None, pass_env, None, days)


@register_app.command("export")
def register_export(dir_: Path = DIR, out_dir: Path = typer.Option(
        Path("register"), "--out", help="Directory for register.json and index.html."),
        pass_env: str | None = ST_PASS, registry: Path | None = REGISTRY,
        json_out: bool = JSON) -> None:
    """Write the body's public register (issued, suspended, withdrawn) as a signed
    register.json and a static index.html.

    Examples:

    \b
      tokencert pki register export --dir pki --out public --passphrase-env TC_ST_PASS
    """
    from conformance.certificate.pki import Pki
    from conformance.certificate.register import export
    from conformance.certificate.registry import Registry
    from conformance.certificate.roles import load_body, status_signer

    pki = Pki(dir_)
    body = load_body(dir_)
    key, cert = status_signer(pki, passphrase(pass_env, "status signer key"))
    js, html = export(out_dir, body, Registry(registry or dir_ / "registry.json"),
                      dir_ / "status.json", key, cert, [])
    if json_out:
        print_json({"register": str(js), "html": str(html)})
        return
    out.print(f"wrote {js} (signed) and {html}", highlight=False)
