"""Check a certificate number against the signed certificate status list.

A list counts only when the body's status signer signed it (issued by the trust root,
holding the status-signing EKU, not a CA) and it is fresh at the verification time
(``this_update`` ≤ time ≤ ``next_update``). Given several lists, the highest sequence
number decides; an older one is never used in its place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from conformance.bundle.dsse import EnvelopeError, open_envelope
from conformance.bundle.oids import STATUS_SIGNING, has_eku, is_ca
from conformance.verify.report import VerifyReport

STATUS_PAYLOAD_TYPE = "application/vnd.tokencert.status+json"
STATUS_TYPE = "tokencert-status-list/2"


class StatusError(ValueError):
    """The list cannot be used; the message says why."""


@dataclass(frozen=True)
class StatusList:
    path: Path
    sequence: int
    this_update: datetime
    next_update: datetime
    entries: dict[str, Any]


def chains_to(cert: x509.Certificate, root: x509.Certificate, at: datetime) -> bool:
    """``cert`` was issued directly by ``root`` and both are valid at ``at``."""
    if cert.issuer != root.subject:
        return False
    try:
        cert.verify_directly_issued_by(root)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return all(c.not_valid_before_utc <= at <= c.not_valid_after_utc for c in (cert, root))


def _time(payload: dict[str, Any], key: str) -> datetime:
    try:
        return datetime.fromisoformat(str(payload[key]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise StatusError(f"no valid {key}") from None


def open_signed(path: Path, payload_type: str, root: x509.Certificate,
                at: datetime) -> dict[str, Any]:
    """The payload of a document the body's status signer signed; raise StatusError."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        signer = x509.load_pem_x509_certificate(str(doc["signer_chain"][0]).encode())
        opened = open_envelope(doc["envelope"], signer)
        payload = opened.json()
    except (OSError, ValueError, KeyError, TypeError, IndexError, EnvelopeError) as exc:
        raise StatusError(f"{path.name} unusable ({exc})") from None
    if opened.payload_type != payload_type or not isinstance(payload, dict):
        raise StatusError(f"{path.name} is not a {payload_type} document")
    if not chains_to(signer, root, at):
        raise StatusError(f"{path.name} is not signed by a certificate of the trusted "
                          "certification body valid now")
    if not has_eku(signer, STATUS_SIGNING) or is_ca(signer):
        raise StatusError(f"{path.name} is signed by {signer.subject.rfc4514_string()}, "
                          "which is not the body's status signer (status-signing EKU)")
    return payload


def load_status(path: Path, root: x509.Certificate, at: datetime) -> StatusList:
    payload = open_signed(path, STATUS_PAYLOAD_TYPE, root, at)
    if payload.get("type") != STATUS_TYPE:
        raise StatusError(f"{path.name}: not a {STATUS_TYPE} list (no sequence / next update)")
    try:
        seq = int(payload["sequence"])
    except (KeyError, TypeError, ValueError):
        raise StatusError(f"{path.name}: no sequence number") from None
    entries = payload.get("entries")
    if not isinstance(entries, dict):
        raise StatusError(f"{path.name}: no entries")
    return StatusList(path, seq, _time(payload, "this_update"), _time(payload, "next_update"),
                      entries)


def check_status(paths: list[Path], number: str | None, root: x509.Certificate,
                 at: datetime, report: VerifyReport) -> None:
    lists: list[StatusList] = []
    for path in paths:
        try:
            lists.append(load_status(path, root, at))
        except StatusError as exc:
            report.set("not_withdrawn", False, f"status list {exc}")
            return
    newest = max(lists, key=lambda s: s.sequence)
    same = [s for s in lists if s.sequence == newest.sequence and s.entries != newest.entries]
    if same:
        report.set("not_withdrawn", False, f"two different status lists carry sequence "
                   f"{newest.sequence} (forged or replayed)")
        return
    report.info["status_list"] = {"sequence": newest.sequence,
                                  "this_update": newest.this_update.isoformat(),
                                  "next_update": newest.next_update.isoformat(),
                                  "superseded": [str(s.path) for s in lists
                                                 if s.sequence < newest.sequence]}
    if at > newest.next_update:
        report.set("not_withdrawn", False, f"stale status list: sequence {newest.sequence} was "
                   f"due for renewal {newest.next_update.isoformat()} (checked at "
                   f"{at.isoformat()}); fetch the current one")
        return
    if at < newest.this_update:
        report.set("not_withdrawn", False, f"status list dated {newest.this_update.isoformat()},"
                   f" after the verification time {at.isoformat()}")
        return
    entry = newest.entries.get(number or "")
    if entry is None:
        report.set("not_withdrawn", True, f"not listed (list {newest.sequence} of "
                   f"{newest.this_update.date()}, fresh until {newest.next_update.date()})")
    elif not isinstance(entry, dict):
        report.set("not_withdrawn", False, f"listed in status list {newest.sequence} "
                   "(malformed entry)")
    else:
        report.set("not_withdrawn", False,
                   f"{entry.get('status')} since {entry.get('since')}"
                   + (f": {entry['reason']}" if entry.get("reason") else ""))
