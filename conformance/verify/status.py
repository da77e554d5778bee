"""Check a certificate number against the signed certificate status list."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from conformance.bundle.dsse import EnvelopeError, open_envelope
from conformance.verify.report import VerifyReport

STATUS_PAYLOAD_TYPE = "application/vnd.tokencert.status+json"


def _chains(signer: x509.Certificate, chain: list[x509.Certificate],
            root: x509.Certificate) -> bool:
    cert = signer
    for _ in range(len(chain) + 2):
        if cert == root:
            return True
        issuer = root if cert.issuer == root.subject else next(
            (c for c in chain if c.subject == cert.issuer and c != cert), None)
        if issuer is None:
            return False
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError):
            return False
        cert = issuer
    return False


def check_status(path: Path, number: str | None, root: x509.Certificate,
                 report: VerifyReport) -> None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        pems = [x509.load_pem_x509_certificate(p.encode()) for p in doc["signer_chain"]]
        signer, chain = pems[0], pems[1:]
        opened = open_envelope(doc["envelope"], signer)
        payload = opened.json()
    except (OSError, ValueError, KeyError, TypeError, IndexError, EnvelopeError) as exc:
        report.set("not_withdrawn", False, f"status list {path} unusable ({exc})")
        return
    if opened.payload_type != STATUS_PAYLOAD_TYPE or not _chains(signer, chain, root):
        report.set("not_withdrawn", False,
                   "status list is not signed by the trusted certification body")
        return
    report.info["status_list_updated_at"] = payload.get("updated_at")
    entry = payload.get("entries", {}).get(number or "")
    if entry is None:
        report.set("not_withdrawn", True, f"not listed (list of {payload.get('updated_at')})")
    else:
        report.set("not_withdrawn", False,
                   f"{entry.get('status')} since {entry.get('since')}"
                   + (f": {entry['reason']}" if entry.get("reason") else ""))
