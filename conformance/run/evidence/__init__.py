"""Evidence: append-only JSONL records and content-addressed blobs, redacted, resumable."""

from conformance.run.evidence.phase import PhaseOutcome, run_phase
from conformance.run.evidence.reader import Evidence, PhaseEvidence, read_evidence
from conformance.run.evidence.records import (
    EVIDENCE_RECORD_VERSION,
    FLAG_NAMES,
    Flag,
    Measurement,
    Obs,
    observations,
)
from conformance.run.evidence.store import BLOB_MIN_BYTES, EvidenceStore, iter_lines

__all__ = [
    "BLOB_MIN_BYTES",
    "EVIDENCE_RECORD_VERSION",
    "FLAG_NAMES",
    "Evidence",
    "EvidenceStore",
    "Flag",
    "Measurement",
    "Obs",
    "PhaseEvidence",
    "PhaseOutcome",
    "iter_lines",
    "observations",
    "read_evidence",
    "run_phase",
]
