"""The certification body's other keys under its root, and its public identity.

``DIR/body.json`` names the body (written by ``pki init-ca``): its name, accreditation
reference, certificate-number prefix and public-register URL, and whether it is a DEMO PKI.
Beside the evaluator certificates, the root issues two single-purpose certificates:

    tsa.key.pem / tsa.cert.pem        RFC 3161 time-stamping authority (EKU timeStamping,
                                      critical, the only EKU)
    status.key.pem / status.cert.pem  signs the certificate status list and the public
                                      register (tokencert status-signing EKU only)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conformance._core.clock import SystemClock
from conformance._core.errors import CertificateError, InputError, Problem
from conformance.bundle.oids import STATUS_SIGNING, TIME_STAMPING
from conformance.certificate.pki import (
    Pki,
    leaf_builder,
    load_any_private_key,
    load_cert,
    load_private_key,
    sign_leaf,
    write_private_key,
)

BODY = "body.json"
TSA_KEY, TSA_CERT = "tsa.key.pem", "tsa.cert.pem"
STATUS_KEY, STATUS_CERT = "status.key.pem", "status.cert.pem"
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")


@dataclass(frozen=True)
class Body:
    """The certification body as its certificates name it."""

    name: str
    accreditation: str
    prefix: str
    register_url: str
    demo: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise InputError(f"certificate-number prefix {prefix!r} is not 2–12 capitals/digits",
                         [Problem("bad --prefix", hint="e.g. TCB or ACME1")])
    return prefix


def write_body(root: Path, body: Body) -> Path:
    check_prefix(body.prefix)
    path = root / BODY
    path.write_text(json.dumps(body.to_json(), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def load_body(root: Path) -> Body:
    path = root / BODY
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        return Body(str(d["name"]), str(d["accreditation"]), check_prefix(str(d["prefix"])),
                    str(d["register_url"]), bool(d.get("demo", False)))
    except FileNotFoundError:
        raise InputError(f"no {BODY} in {root}", [Problem(
            "the PKI directory does not name its certification body", file=str(path),
            hint="create the PKI with `tokencert pki init-ca` (it writes body.json)")]) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is malformed ({exc})", [Problem(
            "needs name, accreditation, prefix, register_url", file=str(path))]) from None


def _issue(pki: Pki, ca_passphrase: bytes, key_passphrase: bytes, name: str,
           eku: x509.ObjectIdentifier, key_name: str, cert_name: str, days: int,
           now: datetime | None) -> Path:
    if (pki.root / key_name).exists():
        raise CertificateError(f"{pki.root / key_name} exists", [Problem(
            "refusing to overwrite a key", file=str(pki.root / key_name),
            hint="remove it first if it is to be replaced (and revoke the old certificate)")])
    ca_key, ca_cert = pki.ca_key(ca_passphrase), pki.ca_cert()
    start = (now or SystemClock().utc_now()) - timedelta(minutes=5)
    # RSA for the TSA: pyHanko's in-process time stamper signs with RSA only.
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(65537, 3072) if eku == TIME_STAMPING
        else ec.generate_private_key(ec.SECP256R1()))
    org = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(o.value))
                           for o in org[:1])])
    cert = sign_leaf(leaf_builder(ca_cert, subject, key.public_key(), x509.random_serial_number(),
                                  start, days, eku, eku_critical=True), ca_key, ca_cert)
    write_private_key(pki.root / key_name, key, key_passphrase)
    path = pki.root / cert_name
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    index = pki.index()
    index["issued"].append({"serial": f"{cert.serial_number:x}",
                            "subject": cert.subject.rfc4514_string(),
                            "not_after": cert.not_valid_after_utc.isoformat(),
                            "revoked_at": None, "reason": None,
                            "role": "tsa" if eku == TIME_STAMPING else "status"})
    pki._save_index(index)
    return path


def init_tsa(pki: Pki, ca_passphrase: bytes, key_passphrase: bytes,
             name: str = "tokencert Time-Stamping Authority", days: int = 3650,
             now: datetime | None = None) -> Path:
    """The body's RFC 3161 time-stamping key and certificate; returns the cert path."""
    return _issue(pki, ca_passphrase, key_passphrase, name, TIME_STAMPING, TSA_KEY, TSA_CERT,
                  days, now)


def init_status_signer(pki: Pki, ca_passphrase: bytes, key_passphrase: bytes,
                       name: str = "tokencert Status Signer", days: int = 3650,
                       now: datetime | None = None) -> Path:
    """The key that signs the status list and the public register; returns the cert path."""
    return _issue(pki, ca_passphrase, key_passphrase, name, STATUS_SIGNING, STATUS_KEY,
                  STATUS_CERT, days, now)


def _missing(pki: Pki, cert_name: str, what: str, cmd: str) -> None:
    raise InputError(f"no {what} in {pki.root}", [Problem(
        f"{cert_name} not found", file=str(pki.root / cert_name),
        hint=f"create it with `tokencert pki {cmd} --dir {pki.root}`")])


def tsa(pki: Pki, passphrase: bytes) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    if not (pki.root / TSA_CERT).is_file():
        _missing(pki, TSA_CERT, "time-stamping authority", "init-tsa")
    key = load_any_private_key(pki.root / TSA_KEY, passphrase)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InputError(f"{pki.root / TSA_KEY} is not an RSA key")
    return key, load_cert(pki.root / TSA_CERT)


def status_signer(pki: Pki, passphrase: bytes
                  ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    if not (pki.root / STATUS_CERT).is_file():
        _missing(pki, STATUS_CERT, "status signer", "init-status-signer")
    return load_private_key(pki.root / STATUS_KEY, passphrase), load_cert(
        pki.root / STATUS_CERT)
