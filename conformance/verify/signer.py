"""Facts about the evaluator certificate: validity at signing, usages, revocation."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from conformance.bundle.oids import DOCUMENT_SIGNING
from conformance.bundle.x509keys import issuer_key
from conformance.verify.report import VerifyReport


def check_validity(cert: x509.Certificate, at: datetime | None, report: VerifyReport) -> None:
    """Validity at the *trusted* signing time (the RFC 3161 timestamp); the signature's
    self-reported time proves nothing and is never used here."""
    if at is None:
        report.set("signer_valid_at_signing", None, "no trusted timestamp: the signing time "
                   "is only self-reported")
        return
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    if at > na:
        report.set("signer_valid_at_signing", False,
                   f"evaluator certificate expired {na.isoformat()} before signing "
                   f"({at.isoformat()})")
    elif at < nb:
        report.set("signer_valid_at_signing", False,
                   f"evaluator certificate not yet valid at signing ({at.isoformat()})")
    else:
        report.set("signer_valid_at_signing", True,
                   f"valid {nb.date()} – {na.date()}, signed {at.isoformat()}")


def check_usages(cert: x509.Certificate, report: VerifyReport) -> None:
    missing = []
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.digital_signature:
            missing.append("digitalSignature")
        if not ku.content_commitment:
            missing.append("nonRepudiation")
    except x509.ExtensionNotFound:
        missing.append("keyUsage")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if DOCUMENT_SIGNING not in eku:
            missing.append("documentSigning EKU")
    except x509.ExtensionNotFound:
        missing.append("documentSigning EKU")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            missing.append("end-entity (it is a CA)")
    except x509.ExtensionNotFound:
        pass
    report.set("signer_usages", not missing,
               "evaluator usages present" if not missing else "missing " + ", ".join(missing))


def _load_crl(data: bytes) -> x509.CertificateRevocationList | None:
    try:
        return (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data))
    except ValueError:
        return None


def check_revocation(cert: x509.Certificate, issuers: list[x509.Certificate],
                     given: list[bytes], embedded: list[bytes], at: datetime,
                     report: VerifyReport) -> None:
    """Only a CRL the verifier supplies, fresh at ``at``, proves the evaluator certificate is
    not revoked now; the CRL embedded at signing proves the state at signing only (a
    revocation it shows still fails)."""
    issuer = next((c for c in issuers if c.subject == cert.issuer), None)
    if issuer is None:
        report.set("signer_not_revoked", False, "the certificate's issuer is unknown")
        return
    emb = _usable(embedded, issuer)
    if _revoked(cert, emb, "embedded", report):
        return
    if not given:
        report.set("signer_not_revoked", None, "no current CRL given (--crl); the embedded "
                   "CRL proves the state at signing only" if emb else "no CRL given (--crl)")
        return
    usable = _usable(given, issuer)
    if not usable:
        report.set("signer_not_revoked", False,
                   f"no given CRL is signed by the issuer {issuer.subject.rfc4514_string()}")
        return
    if _revoked(cert, usable, "given", report):
        return
    newest = max(usable, key=lambda c: c.last_update_utc)
    if newest.next_update_utc is None or newest.next_update_utc < at:
        report.set("signer_not_revoked", False, f"stale CRL: the given CRL of "
                   f"{newest.last_update_utc.isoformat()} was due for renewal "
                   f"{newest.next_update_utc}; fetch the current one")
        return
    if newest.last_update_utc > at:
        report.set("signer_not_revoked", False, "the given CRL is dated after the "
                   f"verification time {at.isoformat()}")
        return
    report.set("signer_not_revoked", True,
               f"not on the given CRL of {newest.last_update_utc.date()} (fresh until "
               f"{newest.next_update_utc.date()})")


def _usable(crls: list[bytes], issuer: x509.Certificate) -> list[x509.CertificateRevocationList]:
    usable = []
    for data in crls:
        crl = _load_crl(data)
        if crl is None or crl.issuer != issuer.subject:
            continue
        try:
            ok = crl.is_signature_valid(issuer_key(issuer))
        except (InvalidSignature, TypeError, ValueError):
            ok = False
        if ok:
            usable.append(crl)
    return usable


def _revoked(cert: x509.Certificate, crls: list[x509.CertificateRevocationList], source: str,
             report: VerifyReport) -> bool:
    for crl in crls:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
                why = f" ({reason.name})"
            except x509.ExtensionNotFound:
                why = ""
            report.set("signer_not_revoked", False,
                       f"evaluator certificate revoked on {entry.revocation_date_utc.date()}"
                       f"{why} ({source} CRL)")
            return True
    return False
