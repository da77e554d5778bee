"""``tokencert certify RUN_DIR``: evidence bundle + signed PDF certificate; with
``--self-assessment``, the same document marked "Self-assessment — not a certificate"."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance._core.errors import InputError, Problem
from conformance.cli.console import err, out, print_json
from conformance.cli.passphrase import passphrase


def _timestamper(tsa_dir: Path | None, tsa_url: str | None, tsa_pass_env: str | None,
                 ) -> object:
    if tsa_dir is not None and tsa_url is not None:
        raise InputError("give either --tsa-dir or --tsa-url, not both")
    if tsa_url is not None:
        from conformance.certificate.sign import remote_timestamper

        return remote_timestamper(tsa_url)
    if tsa_dir is None:
        return None
    from conformance.certificate.pki import Pki
    from conformance.certificate.roles import tsa
    from conformance.certificate.sign import local_timestamper

    pki = Pki(tsa_dir)
    key, cert = tsa(pki, passphrase(tsa_pass_env, "TSA key", flag="--tsa-passphrase-env"))
    return local_timestamper(key, cert, [pki.ca_cert()])


def _signing(key: Path, cert: Path, chain: list[Path], crl: Path | None,
             pass_env: str | None, timestamper: object = None) -> object:
    from cryptography import x509

    from conformance.certificate import Signing, load_cert, load_certs, load_private_key

    certs = [c for p in chain for c in load_certs(p)]
    roots = [c for c in certs if c.issuer == c.subject]
    crl_obj = None
    if crl is not None:
        try:
            crl_obj = x509.load_pem_x509_crl(crl.read_bytes())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read CRL {crl} ({exc})") from None
    return Signing(load_private_key(key, passphrase(pass_env, "evaluator key")),
                   load_cert(cert), tuple(certs), crl_obj, roots[0] if roots else None,
                   timestamper)


def register(app: typer.Typer) -> None:
    @app.command("certify")
    def certify_cmd(
        run_dir: Path = typer.Argument(..., help="A run directory written by `tokencert run`."),
        key: Path | None = typer.Option(None, "--key", help="Evaluator key (encrypted PEM)."),
        cert: Path | None = typer.Option(None, "--cert", help="Evaluator certificate (PEM)."),
        chain: list[Path] = typer.Option([], "--chain", help="Issuer certificates (PEM); "
                                         "repeatable. Include the root for PAdES B-LT."),
        out_dir: Path = typer.Option(Path("certificates-out"), "--out",
                                     help="Directory for NUMBER.pdf and NUMBER.bundle.zip "
                                     "(or the PDF path with --self-assessment)."),
        crl: Path | None = typer.Option(None, "--crl", help="CRL to embed (PAdES B-LT)."),
        demo: bool = typer.Option(False, "--demo", help="Issue a DEMO certificate: "
                                  "watermarked on every page, `demo: true` in the signed data."),
        registry: Path | None = typer.Option(None, "--registry", help="Certificate number "
                                             "registry (default PKI/registry.json with --pki, "
                                             "else OUT/registry.json)."),
        candidate: Path | None = typer.Option(None, "--candidate", help="The declaration the "
                                              "run used (bundled, redacted; the plan is "
                                              "re-derived from it)."),
        pki_dir: Path | None = typer.Option(None, "--pki", help="The body's PKI directory: "
                                            "body.json (name, accreditation, number prefix, "
                                            "register URL), registry.json and the TSA key."),
        tsa_url: str | None = typer.Option(None, "--tsa-url", help="An external RFC 3161 "
                                           "time-stamping authority instead of the body's."),
        tsa_pass_env: str | None = typer.Option(None, "--tsa-passphrase-env", metavar="NAME",
                                                help="Variable holding the TSA key passphrase "
                                                "(with --pki)."),
        self_assessment: bool = typer.Option(False, "--self-assessment", help="Render the "
                                             "self-assessment PDF instead (key optional)."),
        pass_env: str | None = typer.Option(None, "--passphrase-env", metavar="NAME",
                                            help="Variable holding the key passphrase."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Issue a signed, timestamped certificate and evidence bundle for a complete run,
        or refuse with every reason (incomplete run, foreign catalog, plain http, saturated
        client, undecided manual requirements, no level, results.json that the evidence
        does not reproduce).

        Examples:

        \b
          tokencert certify run1 --candidate candidate.yaml --pki pki \\
              --tsa-passphrase-env TC_TSA_PASS --key keys/jane/evaluator.key.pem \\
              --cert keys/jane/evaluator.cert.pem --chain pki/ca.cert.pem --crl pki/crl.pem \\
              --passphrase-env TC_EV_PASS --out cert1 --json
          tokencert certify run1 --demo --candidate candidate.yaml --pki demo-pki \\
              --key demo-keys/evaluator.key.pem --cert demo-keys/evaluator.cert.pem \\
              --chain demo-pki/ca.cert.pem --passphrase-env TC_EV_PASS --out demo-cert --json
          tokencert certify run1 --self-assessment --out self-assessment.pdf
        """
        from conformance.certificate import Registry, certify, render_self_assessment
        from conformance.certificate.certify import Signing

        if self_assessment:
            signing = _signing(key, cert, chain, None, pass_env) if key and cert else None
            target = out_dir if out_dir.suffix == ".pdf" else out_dir / "self-assessment.pdf"
            assert signing is None or isinstance(signing, Signing)
            path = render_self_assessment(run_dir, target, signing)
            if json_out:
                print_json({"self_assessment": str(path), "signed": signing is not None})
            else:
                out.print(f"wrote {path} (self-assessment — not a certificate)",
                          highlight=False)
            return
        if key is None or cert is None:
            raise InputError("certify needs --key and --cert", [Problem(
                "missing evaluator key material",
                hint="issue them with `tokencert pki issue-evaluator`")])
        body = None
        if pki_dir is not None:
            from conformance.certificate.roles import load_body

            body = load_body(pki_dir)
        stamper = _timestamper(pki_dir if tsa_url is None and (
            pki_dir is not None and (pki_dir / "tsa.cert.pem").is_file()) else None, tsa_url,
            tsa_pass_env)
        signing = _signing(key, cert, chain, crl, pass_env, stamper)
        assert isinstance(signing, Signing)
        reg = registry or (pki_dir / "registry.json" if pki_dir else out_dir / "registry.json")
        result = certify(run_dir, signing, out_dir, Registry(reg), demo=demo, body=body,
                         declaration=candidate)
        if json_out:
            print_json({"number": result.number, "pdf": str(result.pdf),
                        "bundle": str(result.bundle), "bundle_digest": result.bundle_digest,
                        "demo": result.demo,
                        "waived": [p.render() for p in result.waived]})
            return
        if result.demo:
            err.print("[yellow]DEMO certificate — not a certification[/]")
            for p in result.waived:
                err.print(f"  waived for the demo: {p.message}", highlight=False)
        out.print(f"certificate {result.number}\n  {result.pdf}\n  {result.bundle}\n"
                  f"  bundle {result.bundle_digest}", highlight=False)
