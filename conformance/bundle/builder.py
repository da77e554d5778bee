"""Build the reproducible evidence bundle of a run.

The same run directory, certificate data, key and chain give a byte-identical zip: entries
are sorted, timestamps and permissions fixed, JSON canonical (RFC 8785) and the DSSE
signature deterministic (RFC 6979).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance import __version__
from conformance._core import resources
from conformance._core.canonical import canonical_bytes
from conformance._core.errors import EvidenceError, Problem
from conformance._core.redact import Redactor
from conformance._core.yamldoc import parse_yaml
from conformance.bundle import layout
from conformance.bundle.dsse import sign_statement, statement
from conformance.bundle.zipio import write_zip


@dataclass(frozen=True)
class CertificateData:
    """What the signed statement says about the certificate (or self-assessment)."""

    number: str
    kind: str  # "certificate" | "self-assessment"
    issued_at: str
    valid_from: str
    valid_until: str
    demo: bool
    body: dict[str, Any] | None = None  # certification body: name, accreditation, register

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "kind": self.kind,
            "issued_at": self.issued_at,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "demo": self.demo,
        }
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class Bundle:
    data: bytes
    digest: str  # sha256:<hex> of the zip
    manifest: dict[str, Any]
    results: bytes
    attestation: bytes


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def declaration_copy(run_dir: Path, secret_envs: Sequence[str],
                 given: Path | None = None) -> bytes | None:
    for p in [given] if given is not None else [run_dir / n for n in
                                                 layout.DECLARATION_CANDIDATES]:
        if p.is_file():
            text = p.read_text(encoding="utf-8")
            data = json.loads(text) if p.suffix == ".json" else parse_yaml(text, str(p)).data
            endpoint = data.get("endpoint", {}) if isinstance(data, dict) else {}
            named = [endpoint.get(k) for k in ("api_key_env", "second_api_key_env")]
            envs = [*secret_envs, *(n for n in named if isinstance(n, str))]
            return canonical_bytes(Redactor.from_env(envs).data(data))
    return None


def _evidence(run_dir: Path) -> dict[str, bytes]:
    root = run_dir / "evidence"
    out: dict[str, bytes] = {}
    if not root.is_dir():
        return out
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            raise EvidenceError(f"evidence holds a symlink: {p}", [Problem(
                "symlinks are not bundled", file=str(p), hint="replace it by the file itself")])
        if p.is_file():
            out[layout.EVIDENCE_PREFIX + p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _spec_snapshot(profile_id: str, edition: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    cat = resources.catalog_dir(edition)
    for p in sorted(cat.glob("*.yaml")):
        out[f"{layout.SPEC_PREFIX}catalog/{p.name}"] = p.read_bytes()
    prof = resources.profile_path(profile_id)
    if prof.is_file():
        out[f"{layout.SPEC_PREFIX}profiles/{prof.name}"] = prof.read_bytes()
    schema = resources.schema_path("results")
    out[f"{layout.SPEC_PREFIX}schemas/{schema.name}"] = schema.read_bytes()
    return out


def collect_files(run_dir: Path, results: dict[str, Any], results_bytes: bytes,
                  secret_envs: Sequence[str] = (),
                  declaration: Path | None = None) -> dict[str, bytes]:
    """Every listed bundle file (name → bytes), before manifest and attestation."""
    files = {layout.RESULTS: results_bytes}
    decl = declaration_copy(run_dir, secret_envs, declaration)
    if decl is not None:
        files[layout.DECLARATION] = decl
    env_file = run_dir / "environment.json"
    files[layout.ENVIRONMENT] = (
        canonical_bytes(json.loads(env_file.read_text(encoding="utf-8")))
        if env_file.is_file() else canonical_bytes(results.get("environment", {})))
    files.update(_evidence(run_dir))
    files.update(_spec_snapshot(str(results["profile"]["id"]), resources.edition_of(results)))
    return files


def manifest_for(files: dict[str, bytes], results: dict[str, Any],
                 cert: CertificateData) -> dict[str, Any]:
    return {
        "format": layout.FORMAT,
        "tool": {"name": "tokencert", "version": __version__},
        "spec": results["spec"],
        "profile": results["profile"],
        "candidate": results["candidate"],
        "certificate": cert.to_json(),
        "files": {n: {"sha256": _sha(b), "size": len(b)} for n, b in sorted(files.items())},
    }


def predicate_for(results: dict[str, Any], cert: CertificateData,
                  signer: x509.Certificate) -> dict[str, Any]:
    summary = results["summary"]
    return {
        "certificate": cert.to_json(),
        "demo": cert.demo,
        "spec": results["spec"],
        "profile": results["profile"],
        "candidate": results["candidate"],
        "level": summary.get("level"),
        "certified": summary.get("certified"),
        "per_category": summary.get("per_category", {}),
        "evaluator": signer.subject.rfc4514_string(),
        "tool": {"name": "tokencert", "version": __version__},
    }


def build_bundle(run_dir: Path, results: dict[str, Any], results_bytes: bytes,
                 cert_data: CertificateData, key: ec.EllipticCurvePrivateKey,
                 signer: x509.Certificate, chain: Sequence[x509.Certificate] = (),
                 secret_envs: Sequence[str] = (), declaration: Path | None = None) -> Bundle:
    files = collect_files(run_dir, results, results_bytes, secret_envs, declaration)
    pem = serialization.Encoding.PEM
    files[layout.EVALUATOR_CERT] = signer.public_bytes(pem)
    files[layout.CHAIN] = b"".join(c.public_bytes(pem) for c in chain)
    manifest = manifest_for(files, results, cert_data)
    files[layout.MANIFEST] = canonical_bytes(manifest)
    subjects = {n: _sha(b) for n, b in files.items()}
    attestation = sign_statement(statement(subjects, predicate_for(results, cert_data, signer)),
                                 key, signer)
    files[layout.ATTESTATION] = attestation
    data = write_zip(files)
    return Bundle(data, "sha256:" + _sha(data), manifest, results_bytes, attestation)
