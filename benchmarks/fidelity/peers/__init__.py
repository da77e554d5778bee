"""Peer benchmark clients (GuideLLM, AIPerf) run against the fidelity ground-truth server.

Not part of the ``conformance`` package and not a project dependency: the peers live in
their own virtual environments (see :mod:`benchmarks.fidelity.peers.venv`) and are driven
as subprocesses. Their per-request exports are parsed into one :class:`PeerResult` shape so
that their TTFT can be compared with the ground-truth server's own send times.

    from benchmarks.fidelity.peers import run_guidellm, run_aiperf, match_to_ground_truth
"""

from __future__ import annotations

from benchmarks.fidelity.peers.aiperf import run_aiperf
from benchmarks.fidelity.peers.guidellm import run_guidellm
from benchmarks.fidelity.peers.result import PeerRequest, PeerResult, PeerRunError
from benchmarks.fidelity.peers.truth import (
    Matching,
    TruthRecord,
    compare,
    load_truth,
    match_records,
    match_to_ground_truth,
)

__all__ = [
    "Matching",
    "PeerRequest",
    "PeerResult",
    "PeerRunError",
    "TruthRecord",
    "compare",
    "load_truth",
    "match_records",
    "match_to_ground_truth",
    "run_aiperf",
    "run_guidellm",
]
