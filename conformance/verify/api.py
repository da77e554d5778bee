"""``verify_certificate``: every check a third party runs, offline, without a renderer.

Whatever the input, the answer is a report: an unreadable or malformed document is a
failed fact, never a traceback (pyHanko's own logging is silenced while it reads).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from conformance._core.errors import VerificationError
from conformance.bundle.dsse import EnvelopeError
from conformance.bundle.oids import TIME_STAMPING, has_eku, is_demo
from conformance.bundle.zipio import ZipLimits
from conformance.verify.bundlecheck import check_bundle, open_statement, subjects_of
from conformance.verify.pdfsig import PdfFacts, read_pdf
from conformance.verify.report import OTHER_KINDS, VerifyReport
from conformance.verify.signer import check_revocation, check_usages, check_validity
from conformance.verify.status import check_status

# The issue date on the certificate must match the trusted timestamp this closely.
ISSUE_TOLERANCE = timedelta(minutes=15)


@dataclass(frozen=True)
class Supplied:
    """What the verifier supplies beyond the PDF and the trust root."""

    bundle: bytes | None = None
    crls: list[bytes] = field(default_factory=list)
    status_lists: list[Path] = field(default_factory=list)
    at: datetime | None = None
    rejudge: bool = True
    allow_demo: bool = False
    accepted: frozenset[str] = frozenset()
    limits: ZipLimits | None = None


def _parse_time(value: Any) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pyHanko logs (with tracebacks) and warns about what it cannot parse; the report says
    it instead."""
    logs = [logging.getLogger(n) for n in ("pyhanko", "pyhanko_certvalidator")]
    saved = [lg.disabled for lg in logs]
    for lg in logs:
        lg.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, was in zip(logs, saved, strict=True):
            lg.disabled = was


def _attestation(att: dict[str, bytes], signer: x509.Certificate | None,
                 card: dict[str, Any], report: VerifyReport) -> None:
    line = att.get("attestation.intoto.jsonl")
    if line is None or signer is None:
        report.set("attestation_verified", False if signer is not None else None,
                   "no attestation in the PDF" if line is None else "unsigned document")
        return
    try:
        stmt = open_statement(line.splitlines()[0], signer)
    except (EnvelopeError, IndexError) as exc:
        report.set("attestation_verified", False, str(exc))
        return
    signed = stmt.get("predicate", {}).get("certificate", {})
    same = all(signed.get(k) == card.get(k) for k in ("number", "kind", "demo", "issued_at",
                                                      "valid_from", "valid_until", "body"))
    report.set("attestation_verified", same, "verifies with the PDF signer" if same else
               "the attested certificate data differ from the PDF's")
    results = att.get("results.json")
    want = subjects_of(stmt).get("results.json")
    ok = results is not None and hashlib.sha256(results).hexdigest() == want
    report.set("results_match_attestation", ok, "sha256 matches" if ok else
               "the embedded results.json is not the attested one")


def _time_facts(facts: PdfFacts, card: dict[str, Any], report: VerifyReport) -> None:
    """Trusted time: the TSA holds the timeStamping EKU, and the issue date matches."""
    tsa, at = facts.tsa, facts.trusted_at
    if at is None or report.facts.get("trusted_time") is None:
        return
    if tsa is None or not has_eku(tsa, TIME_STAMPING):
        report.set("trusted_time", False, "the timestamp is not by a time-stamping "
                   "authority (no timeStamping EKU)")
        return
    issued = _parse_time(card.get("issued_at"))
    if issued is None or abs(issued - at) > ISSUE_TOLERANCE:
        report.set("trusted_time", False, f"the certificate says issued "
                   f"{card.get('issued_at')}, but it was timestamped {at.isoformat()}")
        return
    if is_demo(tsa) and not report.demo:
        report.set("trusted_time", False, "a DEMO time-stamping authority dated a document "
                   "that does not say DEMO")


def _kind_fact(signer: x509.Certificate, report: VerifyReport) -> None:
    demo_key = is_demo(signer)
    if demo_key and not report.demo:
        report.set("signer_matches_kind", False, "a DEMO evaluator key signed a document that "
                   "does not say DEMO")
    elif report.demo and not demo_key:
        report.set("signer_matches_kind", False, "an accredited evaluator key signed a DEMO "
                   "document (certify --demo refuses this)")
    else:
        report.set("signer_matches_kind", True, "DEMO key, DEMO document" if demo_key else
                   "accredited evaluator key")


def _subject(results: bytes | None, card: dict[str, Any], report: VerifyReport,
             signer: x509.Certificate | None) -> None:
    try:
        doc = json.loads(results or b"{}")
    except ValueError:
        doc = {}
    cand = doc.get("candidate", {}) if isinstance(doc, dict) else {}
    summary = doc.get("summary", {}) if isinstance(doc, dict) else {}
    cats = summary.get("per_category", {}) if isinstance(summary, dict) else {}
    report.subject = {
        "service": cand.get("name"), "vendor": cand.get("vendor"),
        "version": cand.get("version"), "models": cand.get("models"),
        "level": summary.get("level") if isinstance(summary, dict) else None,
        "levels": {c: e.get("level") for c, e in cats.items() if isinstance(e, dict)}
        if isinstance(cats, dict) else {},
        "profile": (doc.get("profile") or {}).get("id") if isinstance(doc, dict) else None,
        "valid_from": card.get("valid_from"), "valid_until": card.get("valid_until"),
        "issued_at": card.get("issued_at"), "body": card.get("body"),
        "evaluator": signer.subject.rfc4514_string() if signer is not None else None,
    }


def _verify(pdf: bytes, trust_root: x509.Certificate, s: Supplied,
            report: VerifyReport) -> None:
    when = s.at or datetime.now(UTC)
    facts = read_pdf(pdf, trust_root, report)
    att = facts.attachments
    try:
        card: dict[str, Any] = json.loads(att["certificate.json"])
        if not isinstance(card, dict):
            card = {}
    except (KeyError, ValueError):
        card = {}
    report.number, report.kind = card.get("number"), card.get("kind")
    report.demo = bool(card.get("demo"))
    report.info.update({"signed_at_self_reported": facts.signed_at.isoformat()
                        if facts.signed_at else None,
                        "timestamp": facts.trusted_at.isoformat() if facts.trusted_at else None,
                        "checked_at": when.isoformat()})
    _subject(att.get("results.json"), card, report, facts.signer)
    if facts.signer is not None:
        _time_facts(facts, card, report)
        check_validity(facts.signer, facts.trusted_at, report)
        check_usages(facts.signer, report)
        _kind_fact(facts.signer, report)
        check_revocation(facts.signer, [trust_root, *facts.certs], s.crls, facts.crls, when,
                         report)
    _attestation(att, facts.signer, card, report)
    if s.bundle is not None:
        check_bundle(s.bundle, facts.signer, att, card, report, s.limits)
        _rejudge(s, report)
    else:
        for name in ("bundle_safe", "bundle_matches_manifest", "bundle_matches_certificate",
                     "verdicts_reproduced"):
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
    if s.status_lists:
        check_status(s.status_lists, report.number, trust_root, when, report)
    else:
        report.set("not_withdrawn", None, "no --status list given")


def _rejudge(s: Supplied, report: VerifyReport) -> None:
    if report.kind in OTHER_KINDS:
        return  # no verdicts to re-judge: the document kind says what it is
    if not s.rejudge:
        report.set("verdicts_reproduced", None, "not re-judged (--no-rejudge)")
        return
    if report.facts.get("bundle_matches_manifest") is None or \
            report.facts["bundle_matches_manifest"].status != "pass":
        report.set("verdicts_reproduced", False, "the bundle does not match its manifest")
        return
    from conformance.verify.rejudge import rejudge_bundle

    assert s.bundle is not None
    ok, detail = rejudge_bundle(s.bundle, s.limits)
    report.set("verdicts_reproduced", ok, detail)


def verify_certificate(pdf: bytes, trust_root: x509.Certificate, bundle: bytes | None = None,
                       crls: list[bytes] | None = None,
                       status_list: Path | list[Path] | None = None,
                       at: datetime | None = None, limits: ZipLimits | None = None, *,
                       rejudge: bool = True, allow_demo: bool = False,
                       accepted: frozenset[str] = frozenset()) -> VerifyReport:
    lists = [] if status_list is None else ([status_list] if isinstance(status_list, Path)
                                            else list(status_list))
    s = Supplied(bundle, list(crls or []), lists, at, rejudge, allow_demo, accepted, limits)
    report = VerifyReport(allow_demo=allow_demo, accepted=accepted)
    try:
        with _quiet():
            _verify(pdf, trust_root, s, report)
    except VerificationError as exc:
        report.set("document_readable", False, exc.message)
    except Exception as exc:  # any malformed input is an invalid document, never a crash
        report.set("document_readable", False, f"the document is malformed "
                   f"({type(exc).__name__}: {str(exc)[:200]})")
    return report


def load_trust_root(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise VerificationError(f"cannot read trust root {path} ({exc})") from None

