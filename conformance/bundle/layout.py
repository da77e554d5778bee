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

# Files the manifest does not list: itself, the signature over it, and the signer's chain.
UNLISTED = frozenset({MANIFEST, ATTESTATION, EVALUATOR_CERT, CHAIN})

# Names of the run's declaration copy, in order of preference.
DECLARATION_CANDIDATES = (
    "declaration.json",
    "declaration.yaml",
    "candidate.yaml",
    "declaration/candidate.yaml",
)
