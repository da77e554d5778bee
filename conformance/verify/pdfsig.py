"""Read a signed certificate PDF with pyHanko (no renderer): signature facts, signer
certificate, CRLs from the DSS, and the attachments of the *signed* revision."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance._core.errors import VerificationError
from conformance.verify.report import VerifyReport


@dataclass
class PdfFacts:
    attachments: dict[str, bytes] = field(default_factory=dict)
    signer: x509.Certificate | None = None
    certs: list[x509.Certificate] = field(default_factory=list)
    signed_at: datetime | None = None  # self-reported: proves nothing
    trusted_at: datetime | None = None  # the RFC 3161 timestamp's time, when trusted
    tsa: x509.Certificate | None = None
    crls: list[bytes] = field(default_factory=list)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _names(node: Any, out: dict[str, bytes], depth: int = 0) -> None:
    if depth > 8:
        return
    node = node.get_object() if hasattr(node, "get_object") else node
    names = node.get("/Names")
    if names is not None:
        for i in range(0, len(names) - 1, 2):
            spec = names[i + 1].get_object()
            ef = spec.get("/EF")
            if ef is not None and "/F" in ef:
                out[str(names[i])] = ef["/F"].get_object().data
    for kid in node.get("/Kids", []):
        _names(kid, out, depth + 1)


def _attachments(root: Any) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        tree = root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return out
    _names(tree, out)
    return out


def _dss_crls(root: Any) -> list[bytes]:
    try:
        return [c.get_object().data for c in root["/DSS"]["/CRLs"]]
    except (KeyError, TypeError):
        return []


def _tst_time(signer_info: Any) -> datetime | None:
    """The (not yet validated) time of the signature's first RFC 3161 token."""
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    try:
        for tst in extract_tst_data_iter(signer_info, signed=False):
            when: datetime = tst["encap_content_info"]["content"].parsed["gen_time"].native
            return when
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    return None


def read_pdf(data: bytes, trust_root: x509.Certificate, report: VerifyReport) -> PdfFacts:
    from asn1crypto import x509 as ax509
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import MDPPerm
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = reader.embedded_signatures
    except (PdfError, ValueError, KeyError) as exc:
        raise VerificationError(f"not a readable PDF ({exc})") from None
    facts = PdfFacts(crls=_dss_crls(reader.root))
    if not sigs:
        report.set("signature_intact", False, "the PDF carries no signature")
        facts.attachments = _attachments(reader.root)
        return facts
    sig = sigs[0]
    if len(sigs) > 1:
        report.info["extra_signatures"] = len(sigs) - 1
    facts.attachments = _attachments(reader.get_historical_resolver(sig.signed_revision).root)
    facts.signer = x509.load_der_x509_certificate(sig.signer_cert.dump())
    facts.certs = [x509.load_der_x509_certificate(c.chosen.dump())
                   for c in sig.signed_data["certificates"]]
    facts.signed_at = sig.self_reported_timestamp
    claimed = _tst_time(sig.signer_info)
    root = ax509.Certificate.load(_der(trust_root))
    others = [ax509.Certificate.load(_der(c)) for c in facts.certs]
    # The signer is judged at the timestamp's time (never the self-reported one); the
    # timestamp itself against the same root, now.
    vc = ValidationContext(trust_roots=[root], other_certs=others, allow_fetching=False,
                           moment=claimed, revocation_mode="soft-fail")
    ts_vc = ValidationContext(trust_roots=[root], allow_fetching=False,
                              revocation_mode="soft-fail")
    usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                match_all_key_usages=True)
    try:
        st = validate_pdf_signature(sig, vc, ts_validation_context=ts_vc,
                                    key_usage_settings=usage)
    except Exception as exc:  # a malformed signature is a failed fact, not a crash
        report.set("signature_intact", False, f"signature unreadable ({type(exc).__name__})")
        return facts
    report.set("signature_intact", bool(st.intact and st.valid),
               "intact" if st.intact and st.valid else "the signed bytes were altered")
    entire = st.coverage == SignatureCoverageLevel.ENTIRE_FILE
    lta_only = (st.coverage == SignatureCoverageLevel.ENTIRE_REVISION
                and st.modification_level is not None
                and st.modification_level.name in ("NONE", "LTA_UPDATES"))
    certifying = sig.docmdp_level == MDPPerm.NO_CHANGES
    whole = (entire or lta_only) and bool(st.docmdp_ok) and certifying
    detail = "signature covers the file" if whole else (
        "not a certification signature forbidding changes (DocMDP 1)" if not certifying else
        f"content was added after the signature (incremental update; modification level "
        f"{getattr(st.modification_level, 'name', '?')})")
    report.set("covers_whole_file", whole, detail)
    when = f" at {claimed.isoformat()}" if claimed else ""
    report.set("chain_trusted", bool(st.trusted),
               f"chains to the trust root{when}" if st.trusted else
               f"does not chain to the trust root{when} "
               f"({st.trust_problem_indic or 'untrusted'})")
    _timestamp(st.timestamp_validity, claimed, facts, report)
    return facts


def _timestamp(tv: Any, claimed: datetime | None, facts: PdfFacts,
               report: VerifyReport) -> None:
    from asn1crypto import x509 as ax509

    if tv is None:
        report.set("trusted_time", None, "no RFC 3161 timestamp on the signature (the "
                   "signing time is only self-reported)")
        return
    tsa_cert = getattr(tv, "signing_cert", None)
    if isinstance(tsa_cert, ax509.Certificate):
        facts.tsa = x509.load_der_x509_certificate(tsa_cert.dump())
    ok = bool(tv.intact and tv.valid and tv.trusted) and tv.timestamp == claimed
    if not ok:
        why = ("the timestamp token does not verify" if not (tv.intact and tv.valid) else
               "the timestamping authority does not chain to the trust root"
               if not tv.trusted else "the timestamp's time is inconsistent")
        report.set("trusted_time", False, why)
        return
    facts.trusted_at = tv.timestamp
    report.set("trusted_time", True, f"timestamped {tv.timestamp.isoformat()} by "
               + (facts.tsa.subject.rfc4514_string() if facts.tsa else "the body's TSA"))
