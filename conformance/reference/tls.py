"""A throwaway local CA and a server certificate for 127.0.0.1 / localhost.

The CA's private key lives only in memory and is gone when the process ends. The CA
certificate (public) is written where the declaration can point to it. The server's key
and certificate, which uvicorn needs as files, go to a private temporary directory (0700,
key file 0600) that :meth:`TlsMaterial.cleanup` deletes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class TlsMaterial:
    ca_bundle: Path
    certfile: Path
    keyfile: Path
    private_dir: Path

    def cleanup(self) -> None:
        shutil.rmtree(self.private_dir, ignore_errors=True)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tokencert reference"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name("tokencert reference local CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def generate_tls(ca_dir: Path, wrong_ca: bool = False) -> TlsMaterial:
    """Make a CA and a server certificate; write ``ca_dir/ca.pem`` (public only)."""
    ca_key, ca_cert = _ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    declared_ca = _ca()[1] if wrong_ca else ca_cert
    ca_dir.mkdir(parents=True, exist_ok=True)
    ca_path = ca_dir / "ca.pem"
    ca_path.write_bytes(declared_ca.public_bytes(serialization.Encoding.PEM))
    private = Path(tempfile.mkdtemp(prefix="tokencert-tls-"))
    private.chmod(0o700)
    keyfile = private / "server.key"
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    certfile = private / "server.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                         + ca_cert.public_bytes(serialization.Encoding.PEM))
    return TlsMaterial(ca_path, certfile, keyfile, private)
