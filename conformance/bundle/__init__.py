"""Evidence bundle: manifest, reproducible zip, in-toto Statement in a DSSE envelope."""

from conformance.bundle.builder import Bundle, CertificateData, build_bundle
from conformance.bundle.dsse import (
    INTOTO_PAYLOAD_TYPE,
    PREDICATE_TYPE,
    EnvelopeError,
    open_envelope,
    pae,
    sign_envelope,
)
from conformance.bundle.zipio import UnsafeZipError, ZipLimits, read_zip, write_zip

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "Bundle",
    "CertificateData",
    "EnvelopeError",
    "UnsafeZipError",
    "ZipLimits",
    "build_bundle",
    "open_envelope",
    "pae",
    "read_zip",
    "sign_envelope",
    "write_zip",
]
