"""DSSE envelopes (https://github.com/secure-systems-lab/dsse) and in-toto Statements v1.

Signatures are ECDSA over SHA-256 of the DSSE pre-authentication encoding (PAE), DER-encoded
and base64'd, with deterministic nonces (RFC 6979) so the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance._core.canonical import canonical_bytes

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://tokencert.dev/attestation/hqts/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def keyid(cert: x509.Certificate) -> str:
    """sha256 (hex) of the DER SubjectPublicKeyInfo of ``cert``."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def _algorithm() -> ec.ECDSA:
    return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def sign_envelope(
    payload: bytes, payload_type: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` signed with ``key`` (the private half of ``cert``)."""
    sig = key.sign(pae(payload_type, payload), _algorithm())
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid(cert), "sig": base64.b64encode(sig).decode("ascii")}],
    }


@dataclass(frozen=True)
class Opened:
    """A DSSE envelope whose signature verified."""

    payload_type: str
    payload: bytes
    keyid: str

    def json(self) -> Any:
        return json.loads(self.payload)


class EnvelopeError(ValueError):
    """The envelope is malformed or its signature does not verify; the message says which."""


def open_envelope(envelope: Any, cert: x509.Certificate) -> Opened:
    """Verify ``envelope`` against ``cert``'s public key; raise :class:`EnvelopeError`."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("the envelope is not a JSON object")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type = str(envelope["payloadType"])
        sigs = envelope["signatures"]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise EnvelopeError(f"the envelope is malformed ({exc})") from None
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise EnvelopeError("the signer certificate does not hold an EC key")
    kid = keyid(cert)
    message = pae(payload_type, payload)
    for entry in sigs if isinstance(sigs, list) else []:
        try:
            sig = base64.b64decode(entry["sig"], validate=True)
            public.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        except (KeyError, TypeError, binascii.Error, InvalidSignature):
            continue
        return Opened(payload_type, payload, kid)
    raise EnvelopeError("no signature in the envelope verifies with the signer certificate")


def statement(subjects: dict[str, str], predicate: dict[str, Any]) -> dict[str, Any]:
    """An in-toto Statement v1; ``subjects`` maps file name to sha256 hex."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": subjects[n]}} for n in sorted(subjects)],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def sign_statement(
    stmt: dict[str, Any], key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> bytes:
    """One line of ``attestation.intoto.jsonl``: the signed envelope, newline-terminated."""
    env = sign_envelope(canonical_bytes(stmt), INTOTO_PAYLOAD_TYPE, key, cert)
    return canonical_bytes(env) + b"\n"
