"""Object identifiers shared by the certification body's PKI and the verifier.

The private arcs are UUID-based OIDs (ITU-T X.667, ``2.25.<uuid>``): unique without a
registration, so they never collide with anyone else's.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

# The evaluator's signing EKU (RFC 9336 documentSigning).
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
# RFC 3161 time-stamping authority (must be the only EKU, marked critical).
TIME_STAMPING = ExtendedKeyUsageOID.TIME_STAMPING
# Signs the certificate status list and the public register, nothing else.
STATUS_SIGNING = x509.ObjectIdentifier("2.25.290486896669936701304768520864967133799")
# Certificate policy marking every certificate of a DEMO PKI (`tokencert demo`,
# `pki init-ca --demo`): a key under it never signs a real certificate.
DEMO_POLICY = x509.ObjectIdentifier("2.25.308498964566848219955930008223713296160")


def has_eku(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bool:
    try:
        return oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def is_demo(cert: x509.Certificate) -> bool:
    """The certificate carries the DEMO policy."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return False
    return any(p.policy_identifier == DEMO_POLICY for p in policies)
