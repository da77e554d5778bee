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
    signed_at: datetime | None = None
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
    root = ax509.Certificate.load(_der(trust_root))
    others = [ax509.Certificate.load(_der(c)) for c in facts.certs]
    vc = ValidationContext(trust_roots=[root], other_certs=others, allow_fetching=False,
                           moment=facts.signed_at, revocation_mode="soft-fail")
    usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                match_all_key_usages=True)
    try:
        st = validate_pdf_signature(sig, vc, key_usage_settings=usage)
    except Exception as exc:  # a malformed signature is a failed fact, not a crash
        report.set("signature_intact", False, f"signature unreadable ({exc})")
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
    report.set("chain_trusted", bool(st.trusted),
               "chains to the trust root" if st.trusted else
               f"does not chain to the trust root ({st.trust_problem_indic or 'untrusted'})")
    return facts
