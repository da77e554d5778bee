"""TLS material: public CA on disk, server key only in a private temp dir, cleaned up."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from conformance.reference.tls import generate_tls


def test_generated_material(tmp_path: Path) -> None:
    m = generate_tls(tmp_path)
    try:
        pem = m.ca_bundle.read_text()
        assert "PRIVATE KEY" not in pem and pem.count("BEGIN CERTIFICATE") == 1
        assert m.ca_bundle.parent == tmp_path
        assert stat.S_IMODE(m.keyfile.stat().st_mode) == 0o600
        assert stat.S_IMODE(m.private_dir.stat().st_mode) == 0o700
        assert m.keyfile.parent == m.private_dir != tmp_path
        ca = x509.load_pem_x509_certificate(pem.encode())
        leaf = x509.load_pem_x509_certificates(m.certfile.read_bytes())[0]
        leaf.verify_directly_issued_by(ca)
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in san.get_values_for_type(x509.DNSName)
        assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    finally:
        m.cleanup()
    assert not m.private_dir.exists() and m.ca_bundle.exists()


def test_wrong_ca_declares_a_ca_that_did_not_sign(tmp_path: Path) -> None:
    m = generate_tls(tmp_path, wrong_ca=True)
    try:
        ca = x509.load_pem_x509_certificate(m.ca_bundle.read_bytes())
        leaf = x509.load_pem_x509_certificates(m.certfile.read_bytes())[0]
        assert leaf.issuer == ca.subject  # same name, different key: chain must fail
        with pytest.raises(InvalidSignature):
            leaf.verify_directly_issued_by(ca)
    finally:
        m.cleanup()
