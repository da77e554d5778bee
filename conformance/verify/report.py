"""Verification report: separate facts, combined explicitly into a bottom line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "unknown"]

# Facts in display order, with what each one means.
FACTS: dict[str, str] = {
    "signature_intact": "the PDF signature verifies (document bytes unchanged)",
    "covers_whole_file": "certification signature, no change after it (no incremental update)",
    "chain_trusted": "the signer certificate chains to the trust root",
    "signer_valid_at_signing": "the evaluator certificate was within its validity when signing",
    "signer_usages": "the signer holds digitalSignature, nonRepudiation and documentSigning",
    "signer_not_revoked": "the evaluator certificate is not on the CRL",
    "attestation_verified": "the DSSE attestation verifies with the same evaluator certificate",
    "results_match_attestation": "the embedded results.json is the one the attestation names",
    "bundle_safe": "the bundle is a well-formed zip (no traversal, links, duplicates, bombs)",
    "bundle_matches_manifest": "every bundle file matches the manifest, none missing or extra",
    "bundle_matches_certificate": "the bundle's digest, results and attestation match the PDF",
    "is_certificate": "the document is a conformance certificate (not a self-assessment)",
    "within_validity": "the certificate is within its validity period",
    "not_withdrawn": "the certificate is not withdrawn or suspended in the signed status list",
    "document_kind": "a signed document of another kind verify accepts (not a certificate)",
}

# Signed documents other than certificates that verify accepts (kind in certificate.json →
# what it is). The same PKI, signature, attestation and bundle checks apply to them.
OTHER_KINDS: dict[str, str] = {
    "monitoring-report": "signed monitoring report (a ranking, not a certificate)",
}


@dataclass
class Fact:
    name: str
    status: Status
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "meaning": FACTS.get(self.name, "")}


@dataclass
class VerifyReport:
    facts: dict[str, Fact] = field(default_factory=dict)
    number: str | None = None
    demo: bool = False
    kind: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def set(self, name: str, ok: bool | None, detail: str = "") -> None:
        status: Status = "unknown" if ok is None else ("pass" if ok else "fail")
        self.facts[name] = Fact(name, status, detail)

    def failed(self) -> list[Fact]:
        return [f for f in self.ordered() if f.status == "fail"]

    def ordered(self) -> list[Fact]:
        known = [self.facts[n] for n in FACTS if n in self.facts]
        return known + [f for n, f in self.facts.items() if n not in FACTS]

    @property
    def valid(self) -> bool:
        return not self.failed() and (self.kind == "certificate" or self.kind in OTHER_KINDS)

    @property
    def bottom_line(self) -> str:
        if self.kind == "self-assessment":
            return "NOT A CERTIFICATE: this is a vendor self-assessment"
        if not self.valid:
            reasons = "; ".join(f"{f.name}: {f.detail}" for f in self.failed())
            return f"INVALID — {reasons}"
        caveats = [f.name for f in self.ordered() if f.status == "unknown"]
        line = "VALID" + (f" {OTHER_KINDS[self.kind]}" if self.kind in OTHER_KINDS else "")
        if self.demo:
            line += " DEMO" + ("" if self.kind in OTHER_KINDS else
                               " certificate — not a certification")
        if caveats:
            line += f" (not checked: {', '.join(caveats)})"
        return line

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "bottom_line": self.bottom_line, "number": self.number,
                "kind": self.kind, "demo": self.demo,
                "facts": [f.to_json() for f in self.ordered()], "info": self.info}
