"""Sign the rendered PDF with pyHanko: a PAdES certification signature (DocMDP: no
changes allowed), B-B, or B-LT with the chain and the CRL embedded when a CRL is given;
B-T with an RFC 3161 signature timestamp when a time stamper is given."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance._core.errors import CertificateError, Problem

FIELD_NAME = "TokencertCertification"


@dataclass(frozen=True)
class SigningPolicy:
    """How to sign; data, not code."""

    reason: str = "HQTS conformance certificate"
    location: str = "tokencert"
    certify: bool = True  # a certification signature (DocMDP) forbidding later changes


def _asn1_cert(cert: x509.Certificate) -> object:
    from asn1crypto import x509 as ax509

    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> object:
    from asn1crypto import keys

    return keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def local_timestamper(key: rsa.RSAPrivateKey, cert: x509.Certificate,
                      chain: Sequence[x509.Certificate] = (),
                      fixed: datetime | None = None) -> object:
    """The body's own RFC 3161 time-stamping authority, in process (``pki init-tsa``).
    ``fixed`` pins its clock (tests only)."""
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    # pyhanko-certvalidator leaves SimpleCertificateStore.from_certs unannotated.
    store = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
        [_asn1_cert(c) for c in chain])
    return DummyTimeStamper(tsa_cert=_asn1_cert(cert), tsa_key=_asn1_key(key),
                            certs_to_embed=store, fixed_dt=fixed)


def remote_timestamper(url: str) -> object:
    """An external RFC 3161 authority reached over HTTP(S) (``certify --tsa-url``)."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(url)


def sign_pdf(pdf: bytes, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
             chain: Sequence[x509.Certificate] = (), crl: x509.CertificateRevocationList |
             None = None, trust_root: x509.Certificate | None = None,
             policy: SigningPolicy | None = None, timestamper: object = None) -> bytes:
    """The signed PDF (one incremental update, plus the DSS revision for B-LT)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pol = policy or SigningPolicy()
    if timestamper is not None and not isinstance(timestamper, TimeStamper):
        raise TypeError(f"timestamper: a pyHanko TimeStamper, not {type(timestamper).__name__}")
    # The key stays in memory: converted, never written.
    pk = _asn1_key(key)
    others = [_asn1_cert(c) for c in chain]
    # pyhanko-certvalidator leaves SimpleCertificateStore.from_certs unannotated.
    store = SimpleCertificateStore.from_certs(others)  # type: ignore[no-untyped-call]
    signer = signers.SimpleSigner(signing_cert=_asn1_cert(cert), signing_key=pk,
                                  cert_registry=store)
    vc = None
    if crl is not None:
        roots = [_asn1_cert(trust_root)] if trust_root is not None else [
            c for c in others[-1:]]
        vc = ValidationContext(trust_roots=roots, other_certs=others, allow_fetching=False,
                               crls=[crl.public_bytes(serialization.Encoding.DER)],
                               revocation_mode="soft-fail")
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, reason=pol.reason, location=pol.location,
        certify=pol.certify,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256",
        embed_validation_info=vc is not None, validation_context=vc)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    # pyHanko warns that fetching is off: intended, everything is embedded from the CRL given.
    log = logging.getLogger("pyhanko")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        signers.PdfSigner(meta, signer=signer, timestamper=timestamper
                          ).sign_pdf(writer, output=out)
    except SigningError as exc:
        raise CertificateError(f"signing failed: {exc}", [Problem(
            str(exc), hint="check the evaluator certificate, its chain and the CRL")]) from None
    finally:
        log.setLevel(level)
    return out.getvalue()
