"""tokencert — certify LLM token services against the HQTS requirement catalog.

The public API is deliberately small; see ``__all__``. Nothing here has import-time
side effects.
"""

from __future__ import annotations

__version__ = "0.1.0"

from conformance._core.errors import (
    CertificateError,
    DeclarationError,
    EvidenceError,
    RunError,
    SpecError,
    TokencertError,
    VerificationError,
)

__all__ = [
    "CertificateError",
    "DeclarationError",
    "EvidenceError",
    "RunError",
    "SpecError",
    "TokencertError",
    "VerificationError",
    "__version__",
]
