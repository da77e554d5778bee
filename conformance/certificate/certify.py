"""``certify``: preflight → number → evidence bundle → PDF → signature, as stage objects.

Nothing is written until every stage succeeded; the registry number is reserved first so
the number inside the signed bundle and PDF is final.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance._core import resources
from conformance._core.canonical import canonical_bytes
from conformance._core.clock import SystemClock
from conformance._core.errors import CertificateError, Problem
from conformance._core.schema import validate_data
from conformance.bundle import CertificateData, build_bundle
from conformance.bundle.builder import declaration_copy
from conformance.bundle.dsse import sign_statement, statement
from conformance.bundle.oids import DOCUMENT_SIGNING, is_demo
from conformance.certificate.preflight import check_run
from conformance.certificate.registry import Registry
from conformance.certificate.review import load_results
from conformance.certificate.roles import Body
from conformance.certificate.view import Evaluator, build_view
from conformance.spec import load_edition

ATTESTATION_NAME = "attestation.intoto.jsonl"
CERTIFICATE_NAME = "certificate.json"


@dataclass(frozen=True)
class Signing:
    """The evaluator's (or vendor's) key material."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    crl: x509.CertificateRevocationList | None = None
    trust_root: x509.Certificate | None = None
    timestamper: object = None  # RFC 3161: local_timestamper(...) or remote_timestamper(url)


@dataclass(frozen=True)
class Certified:
    number: str
    pdf: Path
    bundle: Path
    bundle_digest: str
    demo: bool
    waived: tuple[Problem, ...]


def add_months(when: datetime, months: int) -> datetime:
    y, m = divmod(when.month - 1 + months, 12)
    year, month = when.year + y, m + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def _iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def evaluator_of(cert: x509.Certificate) -> Evaluator:
    def attr(oid: x509.ObjectIdentifier) -> str:
        vals = cert.subject.get_attributes_for_oid(oid)
        return str(vals[0].value) if vals else ""

    return Evaluator(attr(NameOID.COMMON_NAME), attr(NameOID.ORGANIZATION_NAME))


def check_signer(s: Signing, at: datetime) -> None:
    if not s.cert.not_valid_before_utc <= at <= s.cert.not_valid_after_utc:
        raise CertificateError("the evaluator certificate is not valid now", [Problem(
            f"valid {s.cert.not_valid_before_utc.isoformat()} to "
            f"{s.cert.not_valid_after_utc.isoformat()}",
            hint="renew it with `tokencert pki issue-evaluator`")])
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if s.key.public_key().public_bytes(der, pub) != s.cert.public_key().public_bytes(der, pub):
        raise CertificateError("the key does not belong to the certificate", [Problem(
            "--key and --cert do not match", hint="pass the evaluator's own key and cert")])
    try:
        eku = s.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ku = s.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        eku, ku = None, None
    if eku is None or ku is None or DOCUMENT_SIGNING not in eku or not (
            ku.digital_signature and ku.content_commitment):
        raise CertificateError("the certificate is not an evaluator certificate", [Problem(
            "needs digitalSignature + nonRepudiation and the documentSigning EKU",
            hint="issue one with `tokencert pki issue-evaluator`")])


def _attachments(results_bytes: bytes, attestation: bytes | None, data: CertificateData,
                 bundle_digest: str | None) -> list[Any]:
    from conformance.certificate.render import PdfAttachment

    card = canonical_bytes({**data.to_json(), "bundle_digest": bundle_digest})
    atts = [PdfAttachment(CERTIFICATE_NAME, card, "certificate data (number, validity, "
                          "bundle digest)", "Data"),
            PdfAttachment("results.json", results_bytes, "tokencert results.json", "Data")]
    if attestation is not None:
        atts.append(PdfAttachment(ATTESTATION_NAME, attestation,
                                  "in-toto Statement v1 in a DSSE envelope", "Supplement"))
    return atts


def _rejudge_problems(run_dir: Path, results: dict[str, Any], decl: bytes | None,
                      f: str) -> list[Problem]:
    """results.json is never the source of truth: re-judge the evidence and compare."""
    from conformance.report.rejudge import differences, rejudge

    again = rejudge(run_dir, json.loads(decl) if decl is not None else None)
    problems = [Problem(f"re-judging the evidence: {p}", file=f,
                        hint="certify only what `tokencert run` and `tokencert review` wrote")
                for p in again.problems]
    if again.results is not None:
        problems += [Problem(f"results.json differs from the verdicts its evidence gives: {d}",
                             file=f, hint="results.json was edited; recompute it with "
                             "`tokencert results RUN_DIR` and record reviews with "
                             "`tokencert review`") for d in differences(results,
                                                                         again.results)[:20]]
    return problems


def _key_problems(signing: Signing, demo: bool) -> list[Problem]:
    if demo and not is_demo(signing.cert):
        return [Problem("certify --demo refuses an accredited evaluator key", hint="a DEMO "
                        "certificate is signed with a DEMO PKI's key (`pki init-ca --demo`)")]
    if not demo and is_demo(signing.cert):
        return [Problem("the evaluator key belongs to a DEMO PKI", hint="a certificate is "
                        "signed with an accredited evaluator key")]
    if not demo and signing.timestamper is None:
        return [Problem("a certificate needs a trusted RFC 3161 timestamp", hint="pass "
                        "--pki DIR (the body's `pki init-tsa`) or --tsa-url")]
    return []


def certify(run_dir: Path, signing: Signing, out_dir: Path, registry: Registry,
            demo: bool = False, now: datetime | None = None, body: Body | None = None,
            declaration: Path | None = None) -> Certified:
    from conformance.certificate.render import render_pdf
    from conformance.certificate.sign import sign_pdf

    results, raw = load_results(run_dir)
    f = str(run_dir / "results.json")
    pre = check_run(results, run_dir / "results.json")
    problems = list(pre.problems)
    if results.get("demo") and not demo:
        problems.append(Problem("the run was a demo run", json_path="$.demo",
                                hint="pass --demo to issue a demo certificate"))
    problems += _key_problems(signing, demo)
    if body is not None and body.demo != demo:
        problems.append(Problem(f"the body's PKI is {'a' if body.demo else 'not a'} DEMO PKI",
                                hint="DEMO certificates come from a DEMO PKI only"))
    decl = declaration_copy(run_dir, (), declaration)
    if decl is None and not demo:
        problems.append(Problem("no candidate declaration for the bundle", hint="pass "
                                "--candidate (the declaration the run used)"))
    if not pre.problems:
        problems += _rejudge_problems(run_dir, results, decl, f)
    if problems or (pre.waived and not demo):
        raise CertificateError(f"certify refuses {run_dir}", problems + list(
            () if demo else pre.waived))
    assert pre.profile is not None
    issued = (now or SystemClock().utc_now()).replace(microsecond=0)
    check_signer(signing, issued)
    until = add_months(issued, pre.profile.validity_months)
    number = registry.allocate(results["spec"]["edition"], issued.year, {
        "candidate": results["candidate"], "issued_at": _iso(issued), "demo": demo},
        prefix=body.prefix if body else None)
    data = CertificateData(number, "certificate", _iso(issued), _iso(issued), _iso(until), demo,
                           body.to_json() if body else None)
    bundle = build_bundle(run_dir, results, raw, data, signing.key, signing.cert,
                          signing.chain, declaration=declaration)
    view = build_view(results, load_edition(resources.edition_of(results)), data,
                      evaluator_of(signing.cert), bundle.digest,
                      json.loads(decl) if decl is not None else None)
    pdf = render_pdf(view, _attachments(raw, bundle.attestation, data, bundle.digest))
    signed = sign_pdf(pdf, signing.key, signing.cert, signing.chain, signing.crl,
                      signing.trust_root, timestamper=signing.timestamper)
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf_path, zip_path = out_dir / f"{number}.pdf", out_dir / f"{number}.bundle.zip"
    zip_path.write_bytes(bundle.data)
    pdf_path.write_bytes(signed)
    registry.complete(number, bundle_digest=bundle.digest, valid_until=_iso(until),
                      pdf_sha256=hashlib.sha256(signed).hexdigest())
    return Certified(number, pdf_path, zip_path, bundle.digest, demo, pre.waived)


def render_self_assessment(run_dir: Path, out_pdf: Path, signing: Signing | None = None,
                           now: datetime | None = None) -> Path:
    """The same document marked "Self-assessment — not a certificate": unsigned, or signed
    (attestation + PDF signature) with a vendor key."""
    from conformance.certificate.render import render_pdf
    from conformance.certificate.sign import SigningPolicy, sign_pdf

    results, raw = load_results(run_dir)
    # Any schema-valid run renders (incomplete, http, custom profile: it says what it is).
    schema_bad = validate_data("results", results, str(run_dir / "results.json"))
    if schema_bad:
        raise CertificateError(f"cannot render {run_dir}: results.json violates its schema",
                               schema_bad)
    issued = (now or SystemClock().utc_now()).replace(microsecond=0)
    number = "SELF-" + hashlib.sha256(raw).hexdigest()[:12].upper()
    data = CertificateData(number, "self-assessment", _iso(issued), _iso(issued),
                           _iso(issued), bool(results.get("demo")))
    attestation = None
    if signing is not None:
        stmt = statement({"results.json": hashlib.sha256(raw).hexdigest()},
                         {"certificate": data.to_json(), "demo": data.demo,
                          "spec": results["spec"], "candidate": results["candidate"],
                          "level": results["summary"].get("level")})
        attestation = sign_statement(stmt, signing.key, signing.cert)
    evaluator = evaluator_of(signing.cert) if signing else None
    view = build_view(results, load_edition(resources.edition_of(results)), data, evaluator, None)
    pdf = render_pdf(view, _attachments(raw, attestation, data, None))
    if signing is not None:
        pdf = sign_pdf(pdf, signing.key, signing.cert, signing.chain, None, None,
                       SigningPolicy(reason="Vendor self-assessment (not a certificate)"))
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    out_pdf.write_bytes(pdf)
    return out_pdf


