"""Certification: PKI, registry, status list, rendering (WeasyPrint), signing (pyHanko).

Rendering and signing modules import WeasyPrint / pyHanko inside functions only.
"""

from conformance.certificate.certify import (
    Certified,
    Signing,
    add_months,
    certify,
    render_self_assessment,
)
from conformance.certificate.pki import (
    Pki,
    init_ca,
    issue_evaluator,
    load_cert,
    load_certs,
    load_private_key,
    make_crl,
    revoke,
)
from conformance.certificate.registry import Registry
from conformance.certificate.review import record_review

__all__ = [
    "Certified",
    "Pki",
    "Registry",
    "Signing",
    "add_months",
    "certify",
    "init_ca",
    "issue_evaluator",
    "load_cert",
    "load_certs",
    "load_private_key",
    "make_crl",
    "record_review",
    "render_self_assessment",
    "revoke",
]
