"""The signed certificate status list: withdraw, suspend or reinstate a *conformance
certificate* (distinct from revoking a lab key, which the CRL does).

File format (JSON)::

    {"envelope": <DSSE envelope, payloadType application/vnd.tokencert.status+json>,
     "signer_chain": ["<PEM of the status signer>", "<PEM of intermediates>..."]}

The payload lists every non-valid certificate, with the list's freshness::

    {"type": "tokencert-status-list/2", "issuer": ..., "sequence": 7,
     "this_update": "2026-12-01T10:00:00Z", "next_update": "2026-12-08T10:00:00Z",
     "entries": {"TCB-HQTS-2026.1-2026-000001": {"status": "withdrawn", "since": ...,
                                                  "reason": ...}}}

Only the body's status signer (``pki init-status-signer``: the status-signing EKU, issued
by the root) signs it. Every change, and every ``pki status publish``, re-signs the whole
list with the next sequence number; a verifier refuses a list past its ``next_update``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance._core.canonical import canonical_bytes
from conformance._core.clock import SystemClock
from conformance._core.errors import CertificateError, InputError, Problem
from conformance.bundle.dsse import sign_envelope
from conformance.bundle.oids import STATUS_SIGNING, has_eku

STATUS_PAYLOAD_TYPE = "application/vnd.tokencert.status+json"
STATUS_TYPE = "tokencert-status-list/2"
ACTIONS = ("withdraw", "suspend", "reinstate", "publish")
DEFAULT_DAYS = 7


def iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_payload(path: Path) -> dict[str, Any]:
    """The current (unverified) payload; an empty list when the file does not exist."""
    if not path.is_file():
        return {"type": STATUS_TYPE, "entries": {}, "sequence": 0}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        payload: dict[str, Any] = json.loads(base64.b64decode(doc["envelope"]["payload"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"status list {path} is unreadable ({exc})",
                         [Problem("not a tokencert status list", file=str(path))]) from None
    return payload


def sign_document(payload: dict[str, Any], payload_type: str, key: ec.EllipticCurvePrivateKey,
                  signer: x509.Certificate, chain: list[x509.Certificate]) -> dict[str, Any]:
    """A DSSE envelope plus the signer's chain (status list, public register)."""
    if not has_eku(signer, STATUS_SIGNING):
        raise CertificateError("the signing certificate is not the body's status signer", [
            Problem("it lacks the status-signing EKU", hint="create one with `tokencert pki "
                    "init-status-signer` and sign with it")])
    pem = serialization.Encoding.PEM
    return {"envelope": sign_envelope(canonical_bytes(payload), payload_type, key, signer),
            "signer_chain": [c.public_bytes(pem).decode("ascii") for c in [signer, *chain]]}


def update(path: Path, action: str, number: str, key: ec.EllipticCurvePrivateKey,
           signer: x509.Certificate, chain: list[x509.Certificate],
           reason: str | None = None, now: datetime | None = None,
           days: int = DEFAULT_DAYS) -> dict[str, Any]:
    """Apply ``action`` to ``number`` (``publish``: no change, a fresh signature) and re-sign
    the whole list with the next sequence number. Withdrawal is final."""
    if action not in ACTIONS:
        raise InputError(f"unknown status action {action!r}", [Problem(
            "bad action", hint=f"use one of: {', '.join(ACTIONS)}")])
    payload = read_payload(path)
    entries: dict[str, Any] = dict(payload.get("entries", {}))
    current = entries.get(number, {}).get("status")
    at = (now or SystemClock().utc_now()).replace(microsecond=0)
    if action != "publish" and current == "withdrawn":
        raise CertificateError(f"{number} is withdrawn; withdrawal is final",
                               [Problem("cannot change a withdrawn certificate",
                                        hint="issue a new certificate after a new evaluation")])
    if action == "reinstate":
        if current != "suspended":
            raise CertificateError(f"{number} is not suspended; nothing to reinstate")
        del entries[number]
    elif action != "publish":
        status = "withdrawn" if action == "withdraw" else "suspended"
        entries[number] = {"status": status, "since": iso(at), "reason": reason}
    new = {"type": STATUS_TYPE, "issuer": signer.subject.rfc4514_string(),
           "sequence": int(payload.get("sequence", 0)) + 1, "this_update": iso(at),
           "next_update": iso(at + timedelta(days=days)), "entries": entries}
    doc = sign_document(new, STATUS_PAYLOAD_TYPE, key, signer, chain)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return new
