"""``tokencert certify RUN_DIR``: evidence bundle + signed PDF certificate; with
``--self-assessment``, the same document marked "Self-assessment — not a certificate"."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance._core.errors import InputError, Problem
from conformance.cli.console import err, out, print_json
from conformance.cli.passphrase import passphrase


def _signing(key: Path, cert: Path, chain: list[Path], crl: Path | None,
             pass_env: str | None) -> object:
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
                   load_cert(cert), tuple(certs), crl_obj, roots[0] if roots else None)


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
                                             "registry (default OUT/registry.json)."),
        self_assessment: bool = typer.Option(False, "--self-assessment", help="Render the "
                                             "self-assessment PDF instead (key optional)."),
        pass_env: str | None = typer.Option(None, "--passphrase-env", metavar="NAME",
                                            help="Variable holding the key passphrase."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Issue a signed certificate and evidence bundle for a complete run, or refuse
        with every reason (incomplete run, foreign catalog, plain http, saturated client,
        undecided manual requirements, no level).

        Examples:

        \b
          tokencert certify run1 --key keys/jane/evaluator.key.pem \\
              --cert keys/jane/evaluator.cert.pem --chain pki/ca.cert.pem --crl pki/crl.pem \\
              --passphrase-env TC_EV_PASS --out cert1
          tokencert certify run1 --demo --key keys/jane/evaluator.key.pem \\
              --cert keys/jane/evaluator.cert.pem --chain pki/ca.cert.pem --crl pki/crl.pem \\
              --passphrase-env TC_EV_PASS --out cert1 --json
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
        signing = _signing(key, cert, chain, crl, pass_env)
        assert isinstance(signing, Signing)
        result = certify(run_dir, signing, out_dir, Registry(registry or out_dir /
                                                             "registry.json"), demo=demo)
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
