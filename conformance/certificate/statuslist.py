"""The signed certificate status list: withdraw, suspend or reinstate a *conformance
certificate* (distinct from revoking a lab key, which the CRL does).

File format (JSON)::

    {"envelope": <DSSE envelope, payloadType application/vnd.tokencert.status+json>,
     "signer_chain": ["<PEM of the signer>", "<PEM of intermediates>..."]}

The payload lists every non-valid certificate:
``{"type": "tokencert-status-list/1", "issuer": ..., "updated_at": ...,
"entries": {"HQTS-2026.1-2026-000001": {"status": "withdrawn", "since": ..., "reason": ...}}}``
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance._core.canonical import canonical_bytes
from conformance._core.clock import utc_now_iso
from conformance._core.errors import CertificateError, InputError, Problem
from conformance.bundle.dsse import sign_envelope

STATUS_PAYLOAD_TYPE = "application/vnd.tokencert.status+json"
STATUS_TYPE = "tokencert-status-list/1"
ACTIONS = ("withdraw", "suspend", "reinstate")


def read_payload(path: Path) -> dict[str, Any]:
    """The current (unverified) payload; an empty list when the file does not exist."""
    if not path.is_file():
        return {"type": STATUS_TYPE, "entries": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        payload: dict[str, Any] = json.loads(base64.b64decode(doc["envelope"]["payload"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"status list {path} is unreadable ({exc})",
                         [Problem("not a tokencert status list", file=str(path))]) from None
    return payload


def update(path: Path, action: str, number: str, key: ec.EllipticCurvePrivateKey,
           signer: x509.Certificate, chain: list[x509.Certificate],
           reason: str | None = None, now: str | None = None) -> dict[str, Any]:
    """Apply ``action`` to ``number`` and re-sign the whole list. Withdrawal is final."""
    if action not in ACTIONS:
        raise InputError(f"unknown status action {action!r}", [Problem(
            "bad action", hint=f"use one of: {', '.join(ACTIONS)}")])
    payload = read_payload(path)
    entries: dict[str, Any] = dict(payload.get("entries", {}))
    current = entries.get(number, {}).get("status")
    when = now or utc_now_iso()
    if current == "withdrawn":
        raise CertificateError(f"{number} is withdrawn; withdrawal is final",
                               [Problem("cannot change a withdrawn certificate",
                                        hint="issue a new certificate after a new evaluation")])
    if action == "reinstate":
        if current != "suspended":
            raise CertificateError(f"{number} is not suspended; nothing to reinstate")
        del entries[number]
    else:
        status = "withdrawn" if action == "withdraw" else "suspended"
        entries[number] = {"status": status, "since": when, "reason": reason}
    new = {"type": STATUS_TYPE, "issuer": signer.subject.rfc4514_string(), "updated_at": when,
           "entries": entries}
    pem = serialization.Encoding.PEM
    doc = {"envelope": sign_envelope(canonical_bytes(new), STATUS_PAYLOAD_TYPE, key, signer),
           "signer_chain": [c.public_bytes(pem).decode("ascii") for c in [signer, *chain]]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return new
