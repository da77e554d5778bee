"""Names inside an evidence bundle (see docs/bundle-format.md)."""

from __future__ import annotations

FORMAT = "tokencert-bundle/1"
MANIFEST = "manifest.json"
RESULTS = "results.json"
DECLARATION = "declaration.json"
ENVIRONMENT = "environment.json"
ATTESTATION = "attestation.intoto.jsonl"
EVALUATOR_CERT = "certs/evaluator.pem"
CHAIN = "certs/chain.pem"
EVIDENCE_PREFIX = "evidence/"
SPEC_PREFIX = "spec/"

# Files the manifest does not list: itself and the signature over it (the attestation names
# the manifest; the PDF embeds the attestation), so every byte of a bundle is covered.
UNLISTED = frozenset({MANIFEST, ATTESTATION})

# Names of the run's declaration copy, in order of preference.
DECLARATION_CANDIDATES = (
    "declaration.json",
    "declaration.yaml",
    "candidate.yaml",
    "declaration/candidate.yaml",
)
