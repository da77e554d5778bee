"""DSSE pre-authentication encoding, envelopes and in-toto statements."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance.bundle.dsse import (
    INTOTO_PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    EnvelopeError,
    open_envelope,
    pae,
    sign_envelope,
    sign_statement,
    statement,
)


def _self_signed() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t", "中".encode()) == b"DSSEv1 1 t 3 " + "中".encode()


def test_envelope_round_trip_and_determinism() -> None:
    key, cert = _self_signed()
    env = sign_envelope(b'{"a":1}', "application/x", key, cert)
    assert env == sign_envelope(b'{"a":1}', "application/x", key, cert)  # RFC 6979
    opened = open_envelope(env, cert)
    assert opened.payload == b'{"a":1}' and opened.payload_type == "application/x"


@pytest.mark.parametrize("field", ["payload", "payloadType", "sig"])
def test_any_change_breaks_the_envelope(field: str) -> None:
    key, cert = _self_signed()
    env = sign_envelope(b'{"a":1}', "application/x", key, cert)
    if field == "payload":
        env["payload"] = base64.b64encode(b'{"a":2}').decode()
    elif field == "payloadType":
        env["payloadType"] = "application/y"
    else:
        sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
        sig[-1] ^= 1
        env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    with pytest.raises(EnvelopeError, match="no signature"):
        open_envelope(env, cert)


def test_another_key_does_not_verify() -> None:
    key, _ = _self_signed()
    _, other = _self_signed()
    with pytest.raises(EnvelopeError):
        open_envelope(sign_envelope(b"x", "t", key, other), other)


def test_statement_line_is_an_intoto_v1_statement() -> None:
    key, cert = _self_signed()
    line = sign_statement(statement({"b.json": "00" * 32, "a.json": "11" * 32}, {"k": 1}),
                          key, cert)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    opened = open_envelope(json.loads(line), cert)
    assert opened.payload_type == INTOTO_PAYLOAD_TYPE
    stmt = opened.json()
    assert stmt["_type"] == STATEMENT_TYPE and stmt["predicateType"] == PREDICATE_TYPE
    assert [s["name"] for s in stmt["subject"]] == ["a.json", "b.json"]
