"""The public key of a certificate that signs others (a CA, a CRL issuer), typed as such.

``Certificate.public_key()`` may return key types that cannot sign (X25519, X448); the
signature checks and key-identifier builders of ``cryptography`` accept only the signing
ones. Narrowing here, once, keeps the callers free of casts."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes

_SIGNING = (dsa.DSAPublicKey, rsa.RSAPublicKey, ec.EllipticCurvePublicKey,
            ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)


def issuer_key(cert: x509.Certificate) -> CertificateIssuerPublicKeyTypes:
    """The certificate's public key; TypeError when its algorithm cannot sign."""
    key = cert.public_key()
    if not isinstance(key, _SIGNING):
        raise TypeError(f"{cert.subject.rfc4514_string()}: a {type(key).__name__} cannot sign")
    return key
