"""A small PKI for a certification body: a root CA, evaluator (lab) certificates, a CRL.

Private keys are PKCS#8, encrypted with a passphrase (never written in clear). The PKI
directory holds::

    ca.key.pem      root key (ECDSA P-384), encrypted
    ca.cert.pem     root certificate (CA:TRUE, keyCertSign + cRLSign)
    index.json      issued and revoked evaluator certificates (serial, subject, status)
    crl.pem         the latest CRL (``tokencert pki crl``)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conformance._core.clock import SystemClock
from conformance._core.errors import CertificateError, InputError, Problem
from conformance.bundle.oids import DEMO_POLICY, DOCUMENT_SIGNING, is_demo
from conformance.bundle.x509keys import issuer_key

CA_KEY, CA_CERT, INDEX, CRL = "ca.key.pem", "ca.cert.pem", "index.json", "crl.pem"
MIN_PASSPHRASE = 8


def _check_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(f"the passphrase is shorter than {MIN_PASSPHRASE} characters",
                         [Problem("passphrase too short", hint="use a longer passphrase")])


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
                      passphrase: bytes) -> None:
    """PKCS#8 PEM, encrypted, created 0600 (never in clear, never world-readable)."""
    _check_passphrase(passphrase)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(passphrase))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def load_private_key(path: Path, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    key = load_any_private_key(path, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{path} is not an ECDSA key", [Problem("unsupported key type",
                                                                 file=str(path))])
    return key


def load_any_private_key(path: Path, passphrase: bytes
                         ) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read key {path}: {exc.strerror}",
                         [Problem("file not readable", file=str(path))]) from None
    if b"ENCRYPTED" not in data:
        raise InputError(f"{path} is not an encrypted PKCS#8 key", [Problem(
            "keys must be encrypted at rest", file=str(path),
            hint="create keys with `tokencert pki init-ca` / `pki issue-evaluator`")])
    try:
        key = serialization.load_pem_private_key(data, passphrase)
    except (ValueError, TypeError):
        raise InputError(f"cannot decrypt {path}", [Problem(
            "wrong passphrase or damaged key", file=str(path),
            hint="check the passphrase environment variable")]) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise InputError(f"{path} is not an ECDSA or RSA key", [Problem(
            "unsupported key type", file=str(path))])
    return key


def load_cert(path: Path) -> x509.Certificate:
    certs = load_certs(path)
    return certs[0]


def load_certs(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
        certs = x509.load_pem_x509_certificates(data)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}",
                         [Problem("file not readable", file=str(path))]) from None
    except ValueError:
        raise InputError(f"{path} holds no PEM certificate",
                         [Problem("not a PEM certificate", file=str(path))]) from None
    return certs


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


@dataclass(frozen=True)
class Pki:
    """A PKI directory."""

    root: Path

    @property
    def ca_cert_path(self) -> Path:
        return self.root / CA_CERT

    def ca_cert(self) -> x509.Certificate:
        return load_cert(self.root / CA_CERT)

    def ca_key(self, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
        return load_private_key(self.root / CA_KEY, passphrase)

    def index(self) -> dict[str, Any]:
        p = self.root / INDEX
        if not p.is_file():
            return {"issued": []}
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        return data

    def _save_index(self, data: dict[str, Any]) -> None:
        tmp = self.root / (INDEX + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.root / INDEX)


def demo_policy() -> x509.CertificatePolicies:
    """The DEMO marking every certificate of a demo PKI carries."""
    return x509.CertificatePolicies([x509.PolicyInformation(DEMO_POLICY, [
        "tokencert DEMO PKI: not a certification body, not an accredited evaluator"])])


def init_ca(root: Path, passphrase: bytes, name: str = "tokencert Certification Body Root",
            org: str = "tokencert", years: int = 20, now: datetime | None = None,
            demo: bool = False) -> Pki:
    """Create the root CA (ECDSA P-384) in ``root``; refuse to overwrite one. ``demo``
    marks it (and everything it issues) with the DEMO policy."""
    if (root / CA_KEY).exists() or (root / CA_CERT).exists():
        raise CertificateError(f"{root} already holds a CA", [Problem(
            "refusing to overwrite an existing CA", file=str(root),
            hint="choose another --dir")])
    _check_passphrase(passphrase)
    now = now or SystemClock().utc_now()
    key = ec.generate_private_key(ec.SECP384R1())
    subject = _name(name, org)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
    )
    if demo:
        builder = builder.add_extension(demo_policy(), critical=False)
    cert = builder.sign(key, hashes.SHA384())
    root.mkdir(parents=True, exist_ok=True)
    write_private_key(root / CA_KEY, key, passphrase)
    (root / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki = Pki(root)
    pki._save_index({"issued": []})
    return pki


@dataclass(frozen=True)
class Issued:
    key_path: Path
    cert_path: Path
    serial: int


def leaf_builder(ca_cert: x509.Certificate, subject: x509.Name,
                 public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, serial: int,
                 start: datetime, days: int, eku: x509.ObjectIdentifier,
                 eku_critical: bool) -> x509.CertificateBuilder:
    """An end-entity certificate under the root: CA:FALSE, digitalSignature +
    nonRepudiation, one extended key usage, key identifiers."""
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
        .public_key(public_key).serial_number(serial)
        .not_valid_before(start).not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=eku_critical)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key(ca_cert)), critical=False)
    )


def sign_leaf(builder: x509.CertificateBuilder, ca_key: ec.EllipticCurvePrivateKey,
              ca_cert: x509.Certificate) -> x509.Certificate:
    """Sign with the root; a DEMO root marks every certificate it issues as DEMO."""
    if is_demo(ca_cert):
        builder = builder.add_extension(demo_policy(), critical=False)
    return builder.sign(ca_key, hashes.SHA384())


def issue_evaluator(pki: Pki, ca_passphrase: bytes, out_dir: Path, key_passphrase: bytes,
                    name: str, org: str = "tokencert evaluation lab", days: int = 730,
                    crl_url: str = "http://crl.tokencert.invalid/ca.crl",
                    not_before: datetime | None = None) -> Issued:
    """An evaluator certificate (ECDSA P-256): digitalSignature + nonRepudiation,
    documentSigning EKU, CRL distribution point."""
    ca_key, ca_cert = pki.ca_key(ca_passphrase), pki.ca_cert()
    _check_passphrase(key_passphrase)
    start = not_before or SystemClock().utc_now() - timedelta(minutes=5)
    key = ec.generate_private_key(ec.SECP256R1())
    serial = x509.random_serial_number()
    builder = leaf_builder(ca_cert, _name(name, org), key.public_key(), serial, start, days,
                           DOCUMENT_SIGNING, eku_critical=False).add_extension(
        x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None,
            reasons=None, crl_issuer=None)]), critical=False)
    cert = sign_leaf(builder, ca_key, ca_cert)
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = out_dir / "evaluator.key.pem", out_dir / "evaluator.cert.pem"
    write_private_key(key_path, key, key_passphrase)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    index = pki.index()
    index["issued"].append({"serial": f"{serial:x}", "subject": cert.subject.rfc4514_string(),
                            "not_after": cert.not_valid_after_utc.isoformat(),
                            "revoked_at": None, "reason": None})
    pki._save_index(index)
    return Issued(key_path, cert_path, serial)


def _serial_of(target: str) -> str:
    p = Path(target)
    if p.is_file():
        return f"{load_cert(p).serial_number:x}"
    return target.lower().removeprefix("0x")


def revoke(pki: Pki, target: str, reason: str = "key_compromise",
           now: datetime | None = None) -> str:
    """Mark an evaluator certificate (path or hex serial) revoked; returns the serial."""
    serial = _serial_of(target)
    index = pki.index()
    for entry in index["issued"]:
        if entry["serial"] == serial:
            if entry["revoked_at"] is None:
                entry["revoked_at"] = (now or SystemClock().utc_now()).isoformat()
                entry["reason"] = reason
                pki._save_index(index)
            return serial
    raise InputError(f"no certificate with serial {serial} was issued by this CA", [Problem(
        "unknown serial", file=str(pki.root / INDEX), hint="see index.json for serials")])


_REASONS = {r.name: r for r in x509.ReasonFlags}


def make_crl(pki: Pki, ca_passphrase: bytes, days: int = 30,
             now: datetime | None = None) -> Path:
    """Sign a CRL listing every revoked evaluator certificate; write ``crl.pem``."""
    ca_key, ca_cert = pki.ca_key(ca_passphrase), pki.ca_cert()
    now = now or SystemClock().utc_now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - timedelta(minutes=1)).next_update(now + timedelta(days=days)))
    for entry in pki.index()["issued"]:
        if entry["revoked_at"]:
            rc = (x509.RevokedCertificateBuilder().serial_number(int(entry["serial"], 16))
                  .revocation_date(datetime.fromisoformat(entry["revoked_at"])))
            reason = _REASONS.get(entry.get("reason") or "", x509.ReasonFlags.unspecified)
            rc = rc.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(rc.build())
    index = pki.index()
    number = int(index.get("crl_number", 0)) + 1
    index["crl_number"] = number
    pki._save_index(index)
    builder = builder.add_extension(x509.CRLNumber(number), critical=False)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(
        issuer_key(ca_cert))
    crl = builder.add_extension(aki, critical=False).sign(ca_key, hashes.SHA384())
    path = pki.root / CRL
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return path
