"""``verify_certificate``: every check a third party runs, offline, without a renderer."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from conformance._core.errors import VerificationError
from conformance.bundle.dsse import EnvelopeError
from conformance.bundle.zipio import ZipLimits
from conformance.verify.bundlecheck import check_bundle, open_statement, subjects_of
from conformance.verify.pdfsig import read_pdf
from conformance.verify.report import OTHER_KINDS, VerifyReport
from conformance.verify.signer import check_revocation, check_usages, check_validity
from conformance.verify.status import check_status


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _attestation(att: dict[str, bytes], signer: x509.Certificate | None,
                 card: dict[str, Any], report: VerifyReport) -> None:
    line = att.get("attestation.intoto.jsonl")
    if line is None or signer is None:
        report.set("attestation_verified", None if signer is None else False,
                   "no attestation in the PDF" if line is None else "unsigned document")
        return
    try:
        stmt = open_statement(line.splitlines()[0], signer)
    except (EnvelopeError, IndexError) as exc:
        report.set("attestation_verified", False, str(exc))
        return
    signed = stmt.get("predicate", {}).get("certificate", {})
    same = all(signed.get(k) == card.get(k) for k in ("number", "kind", "demo", "valid_from",
                                                      "valid_until"))
    report.set("attestation_verified", same, "verifies with the PDF signer" if same else
               "the attested certificate data differ from the PDF's")
    results = att.get("results.json")
    want = subjects_of(stmt).get("results.json")
    ok = results is not None and hashlib.sha256(results).hexdigest() == want
    report.set("results_match_attestation", ok, "sha256 matches" if ok else
               "the embedded results.json is not the attested one")


def verify_certificate(pdf: bytes, trust_root: x509.Certificate, bundle: bytes | None = None,
                       crls: list[bytes] | None = None, status_list: Path | None = None,
                       at: datetime | None = None,
                       limits: ZipLimits | None = None) -> VerifyReport:
    when = at or datetime.now(UTC)
    report = VerifyReport()
    facts = read_pdf(pdf, trust_root, report)
    att = facts.attachments
    try:
        card: dict[str, Any] = json.loads(att["certificate.json"])
    except (KeyError, ValueError):
        card = {}
    report.number, report.kind = card.get("number"), card.get("kind")
    report.demo = bool(card.get("demo"))
    report.info.update({"signed_at": facts.signed_at.isoformat() if facts.signed_at else None,
                        "valid_from": card.get("valid_from"),
                        "valid_until": card.get("valid_until"), "checked_at": when.isoformat()})
    if facts.signer is not None:
        report.info["evaluator"] = facts.signer.subject.rfc4514_string()
        check_validity(facts.signer, facts.signed_at, report)
        check_usages(facts.signer, report)
        source = "given" if crls else "embedded"
        check_revocation(facts.signer, [trust_root, *facts.certs], crls or facts.crls,
                         source, when, report)
    _attestation(att, facts.signer, card, report)
    if bundle is not None:
        check_bundle(bundle, facts.signer, att, card, report, limits)
    else:
        for name in ("bundle_safe", "bundle_matches_manifest", "bundle_matches_certificate"):
            report.set(name, None, "no --bundle given")
    report.set("is_certificate", report.kind == "certificate",
               {"certificate": "conformance certificate" + (" (DEMO)" if report.demo else ""),
                "self-assessment": "a vendor self-assessment, not a certificate"}.get(
                   str(report.kind), "no certificate data in the PDF"))
    if report.kind in OTHER_KINDS:  # another signed document kind, and it says which
        del report.facts["is_certificate"]
        report.set("document_kind", True, OTHER_KINDS[str(report.kind)])
    start, end = _parse_time(card.get("valid_from")), _parse_time(card.get("valid_until"))
    if start is None or end is None:
        report.set("within_validity", False, "no validity period")
    elif report.kind == "certificate":
        ok = start <= when <= end
        report.set("within_validity", ok, f"{start.date()} – {end.date()}" + (
            "" if ok else f"; checked at {when.isoformat()}"))
    if status_list is not None:
        check_status(status_list, report.number, trust_root, report)
    else:
        report.set("not_withdrawn", None, "no --status list given")
    return report


def load_trust_root(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise VerificationError(f"cannot read trust root {path} ({exc})") from None
