"""Verification report: separate facts, combined explicitly into a bottom line.

A fact is ``pass``, ``fail`` or ``unknown`` (not checked: the verifier did not supply what
it needs). The bottom line is VALID only when no fact failed, the document is a conformance
certificate, it is not a DEMO (unless the verifier allows demos), and every unknown fact was
accepted by name (``--accept-unchecked``); otherwise it names what failed or was not checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "unknown"]

# Facts in display order, with what each one means.
FACTS: dict[str, str] = {
    "document_readable": "the PDF and its embedded files could be read",
    "signature_intact": "the PDF signature verifies (document bytes unchanged)",
    "covers_whole_file": "certification signature, no change after it (no incremental update)",
    "chain_trusted": "the signer certificate chains to the trust root",
    "trusted_time": "an RFC 3161 timestamp by the body's TSA dates the signature, and the "
                    "certificate's issue date matches it",
    "signer_valid_at_signing": "the evaluator certificate was valid at the trusted time",
    "signer_usages": "the signer holds digitalSignature, nonRepudiation and documentSigning",
    "signer_matches_kind": "an accredited (non-DEMO) key signed a certificate; a DEMO key only "
                           "a DEMO",
    "signer_not_revoked": "the evaluator certificate is not on a current CRL the verifier gave",
    "attestation_verified": "the DSSE attestation verifies with the same evaluator certificate",
    "results_match_attestation": "the embedded results.json is the one the attestation names",
    "bundle_safe": "the bundle is a well-formed zip (no traversal, links, duplicates, bombs)",
    "bundle_matches_manifest": "every bundle file matches the manifest, none missing or extra",
    "bundle_matches_certificate": "the bundle's digest, results and attestation match the PDF",
    "verdicts_reproduced": "re-judging the bundle's evidence with the published catalog, "
                           "profile and declaration gives the certified results",
    "is_certificate": "the document is a conformance certificate (not a self-assessment)",
    "within_validity": "the certificate is within its validity period",
    "not_withdrawn": "the certificate is not withdrawn or suspended in a fresh status list "
                     "signed by the body's status signer",
    "document_kind": "a signed document of another kind verify accepts (not a certificate)",
}

# Signed documents other than certificates that verify accepts (kind in certificate.json →
# what it is). The same PKI, signature, attestation, status and bundle checks apply to them.
OTHER_KINDS: dict[str, str] = {
    "monitoring-report": "signed monitoring report (a ranking, not a certificate)",
}

# Names a verifier may pass to --accept-unchecked, besides fact names.
GROUPS: dict[str, tuple[str, ...]] = {
    "revocation": ("signer_not_revoked",),
    "status": ("not_withdrawn",),
    "time": ("trusted_time", "signer_valid_at_signing"),
    "bundle": ("bundle_safe", "bundle_matches_manifest", "bundle_matches_certificate",
               "verdicts_reproduced"),
    "rejudge": ("verdicts_reproduced",),
}


def expand_accepted(names: Iterable[str]) -> frozenset[str]:
    """Group and fact names → fact names; raise ValueError on an unknown name."""
    out: set[str] = set()
    for raw in names:
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                continue
            if name in GROUPS:
                out.update(GROUPS[name])
            elif name in FACTS:
                out.add(name)
            else:
                raise ValueError(f"{name!r} is neither a group ({', '.join(GROUPS)}) nor a "
                                 "fact name")
    return frozenset(out)


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
    subject: dict[str, Any] = field(default_factory=dict)
    allow_demo: bool = False
    accepted: frozenset[str] = frozenset()

    def set(self, name: str, ok: bool | None, detail: str = "") -> None:
        status: Status = "unknown" if ok is None else ("pass" if ok else "fail")
        self.facts[name] = Fact(name, status, detail)

    def failed(self) -> list[Fact]:
        return [f for f in self.ordered() if f.status == "fail"]

    def unchecked(self) -> list[Fact]:
        """Unknown facts the verifier did not accept."""
        return [f for f in self.ordered() if f.status == "unknown" and f.name not in
                self.accepted]

    def ordered(self) -> list[Fact]:
        known = [self.facts[n] for n in FACTS if n in self.facts]
        return known + [f for n, f in self.facts.items() if n not in FACTS]

    @property
    def valid(self) -> bool:
        return (not self.failed() and not self.unchecked()
                and (self.kind == "certificate" or self.kind in OTHER_KINDS)
                and (self.allow_demo or not self.demo))

    @property
    def bottom_line(self) -> str:
        failed = [f for f in self.failed() if f.name != "is_certificate"]
        reasons = "; ".join(f"{f.name}: {f.detail}" for f in failed)
        if self.kind == "self-assessment":
            return "NOT A CERTIFICATE: this is a vendor self-assessment" + (
                f" (and INVALID — {reasons})" if failed else "")
        if failed:
            return "INVALID — " + reasons
        if self.kind != "certificate" and self.kind not in OTHER_KINDS:
            return "INVALID — is_certificate: no certificate data in the PDF"
        if self.demo and not self.allow_demo:
            return ("DEMO certificate — not a certification (a demo verifies only with "
                    "--allow-demo)")
        open_ = self.unchecked()
        if open_:
            return ("UNCHECKED — not checked: " + "; ".join(f"{f.name} ({f.detail})"
                                                          for f in open_)
                    + ". Supply what is missing, or accept it explicitly with "
                    "--accept-unchecked " + ",".join(dict.fromkeys(_group_of(f.name)
                                                                   for f in open_)))
        line = "VALID" + (f" {OTHER_KINDS[self.kind]}" if self.kind in OTHER_KINDS else "")
        if self.demo:
            line += " DEMO" + ("" if self.kind in OTHER_KINDS else
                               " certificate — not a certification")
        accepted = [f.name for f in self.ordered() if f.status == "unknown"]
        if accepted:
            line += f" (accepted unchecked: {', '.join(accepted)})"
        return line

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "bottom_line": self.bottom_line, "number": self.number,
                "kind": self.kind, "demo": self.demo, "subject": self.subject,
                "not_checked": [f.name for f in self.ordered() if f.status == "unknown"],
                "accepted_unchecked": sorted(self.accepted & {
                    f.name for f in self.ordered() if f.status == "unknown"}),
                "facts": [f.to_json() for f in self.ordered()], "info": self.info}


def _group_of(fact: str) -> str:
    """The narrowest group holding ``fact`` (the fact's own name when none does)."""
    holding = [g for g, names in GROUPS.items() if fact in names]
    return min(holding, key=lambda g: len(GROUPS[g])) if holding else fact
