"""Check an evidence bundle against its manifest, its attestation and the PDF."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography import x509

from conformance.bundle import layout
from conformance.bundle.dsse import (
    INTOTO_PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    EnvelopeError,
    open_envelope,
)
from conformance.bundle.zipio import UnsafeZipError, ZipLimits, read_zip
from conformance.verify.report import VerifyReport


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_statement(line: bytes, signer: x509.Certificate) -> dict[str, Any]:
    """The verified in-toto Statement of one attestation line; raises EnvelopeError."""
    try:
        env = json.loads(line)
    except ValueError:
        raise EnvelopeError("the attestation is not JSON") from None
    opened = open_envelope(env, signer)
    if opened.payload_type != INTOTO_PAYLOAD_TYPE:
        raise EnvelopeError(f"unexpected payload type {opened.payload_type!r}")
    stmt = opened.json()
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE or \
            stmt.get("predicateType") != PREDICATE_TYPE:
        raise EnvelopeError("not an in-toto Statement v1 with the tokencert predicate")
    return stmt


def subjects_of(stmt: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["digest"]["sha256"] for s in stmt.get("subject", [])
            if isinstance(s, dict) and "sha256" in s.get("digest", {})}


def _manifest_problems(files: dict[str, bytes]) -> list[str]:
    problems: list[str] = []
    try:
        manifest = json.loads(files[layout.MANIFEST])
        listed: dict[str, Any] = manifest["files"]
    except (KeyError, ValueError, TypeError):
        return ["manifest.json missing or malformed"]
    for name, meta in sorted(listed.items()):
        if name not in files:
            problems.append(f"{name}: listed but missing")
        elif len(files[name]) != meta.get("size") or _sha(files[name]) != meta.get("sha256"):
            problems.append(f"{name}: content differs from the manifest (sha256/size)")
    extra = sorted(set(files) - set(listed) - layout.UNLISTED)
    problems.extend(f"{n}: not listed in the manifest" for n in extra)
    return problems


def check_bundle(data: bytes, pdf_signer: x509.Certificate | None,
                 attachments: dict[str, bytes], card: dict[str, Any],
                 report: VerifyReport, limits: ZipLimits | None = None) -> None:
    try:
        files = read_zip(data, limits)
    except UnsafeZipError as exc:
        report.set("bundle_safe", False, str(exc))
        return
    report.set("bundle_safe", True, f"{len(files)} files")
    problems = _manifest_problems(files)
    report.set("bundle_matches_manifest", not problems,
               "all files match" if not problems else "; ".join(problems[:5]) +
               (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    mismatch: list[str] = []
    digest = "sha256:" + _sha(data)
    if card.get("bundle_digest") != digest:
        mismatch.append(f"bundle digest {digest} is not the one on the certificate")
    for name in (layout.RESULTS, layout.ATTESTATION):
        if files.get(name) != attachments.get(name):
            mismatch.append(f"{name} differs between bundle and PDF")
    # The bundle's own attestation must verify with the PDF's signer and cover its files.
    try:
        bcert = x509.load_pem_x509_certificate(files[layout.EVALUATOR_CERT])
        if pdf_signer is not None and bcert != pdf_signer:
            mismatch.append("the bundle names a different evaluator certificate")
        stmt = open_statement(files[layout.ATTESTATION].splitlines()[0], pdf_signer or bcert)
        subjects = subjects_of(stmt)
        listed = {n: _sha(b) for n, b in files.items() if n not in layout.UNLISTED}
        listed[layout.MANIFEST] = _sha(files.get(layout.MANIFEST, b""))
        if subjects != listed:
            bad = sorted(set(subjects.items()) ^ set(listed.items()))
            mismatch.append(f"attestation subjects differ from the bundle files ({bad[0][0]})")
    except (KeyError, ValueError, IndexError, EnvelopeError) as exc:
        mismatch.append(f"bundle attestation does not verify ({exc})")
    report.set("bundle_matches_certificate", not mismatch,
               "digest, results and attestation match" if not mismatch else "; ".join(mismatch))
