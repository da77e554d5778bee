"""Third-party verification of a certificate PDF and its evidence bundle, offline.

Needs only ``pip install tokencert[verify]``: pyHanko reads the signature; WeasyPrint and
the renderer are never imported (an import-linter contract and a test keep it so).
"""

from conformance.verify.api import load_trust_root, verify_certificate
from conformance.verify.report import FACTS, Fact, VerifyReport

__all__ = ["FACTS", "Fact", "VerifyReport", "load_trust_root", "verify_certificate"]
