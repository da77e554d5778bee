"""The certification body's PKI: constraints, usages, encrypted keys, revocation."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from tokencert_testkit import PASS

from conformance._core.errors import CertificateError, InputError
from conformance.certificate import init_ca, issue_evaluator, load_cert, make_crl, revoke
from conformance.certificate.pki import DOCUMENT_SIGNING, load_private_key


def test_root_ca_constraints(tmp_path: Path) -> None:
    pki = init_ca(tmp_path / "pki", PASS)
    ca = pki.ca_cert()
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days > 365 * 19
    with pytest.raises(CertificateError, match="already holds a CA"):
        init_ca(tmp_path / "pki", PASS)


def test_evaluator_certificate(tmp_path: Path) -> None:
    pki = init_ca(tmp_path / "pki", PASS)
    issued = issue_evaluator(pki, PASS, tmp_path / "ev", PASS, name="Jane 简")
    cert = load_cert(issued.cert_path)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    cert.verify_directly_issued_by(pki.ca_cert())
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    assert DOCUMENT_SIGNING in cert.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name[0].value.startswith("http://")
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_keys_are_encrypted_at_rest(tmp_path: Path) -> None:
    pki = init_ca(tmp_path / "pki", PASS)
    issued = issue_evaluator(pki, PASS, tmp_path / "ev", PASS, name="J")
    for path in (tmp_path / "pki" / "ca.key.pem", issued.key_path):
        text = path.read_bytes()
        assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert PASS not in text
        assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(InputError, match="cannot decrypt"):
        load_private_key(issued.key_path, b"wrong passphrase!")
    with pytest.raises(InputError, match="shorter"):
        init_ca(tmp_path / "other", b"short")


def test_clear_keys_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1())
    p = tmp_path / "clear.pem"
    p.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    with pytest.raises(InputError, match="not an encrypted"):
        load_private_key(p, PASS)


def test_revoke_and_crl(tmp_path: Path) -> None:
    pki = init_ca(tmp_path / "pki", PASS)
    a = issue_evaluator(pki, PASS, tmp_path / "a", PASS, name="A")
    b = issue_evaluator(pki, PASS, tmp_path / "b", PASS, name="B")
    crl = x509.load_pem_x509_crl(make_crl(pki, PASS).read_bytes())
    assert len(crl) == 0 and crl.is_signature_valid(pki.ca_cert().public_key())  # type: ignore[arg-type]
    assert revoke(pki, str(a.cert_path)) == f"{a.serial:x}"
    crl = x509.load_pem_x509_crl(make_crl(pki, PASS).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(a.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(b.serial) is None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    with pytest.raises(InputError, match="no certificate with serial"):
        revoke(pki, "abc123")
