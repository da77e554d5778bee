"""How much client load each planned phase puts on the instrument, and how many load
workers (processes or Ray workers) a run needs to measure it without saturating itself.

Pure arithmetic on the plan and the declaration: streams in flight, content chunks per
second (one chunk per output token, as OpenAI-compatible streams send them), bytes per
second; compared with what one client process can take, measured by
``benchmarks/scaling/bench_scaling.py`` (docs/scaling.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from conformance.declaration.models import Declaration
from conformance.plan.build import STREAMS_PER_LOOP
from conformance.plan.model import PhasePlan, Plan

# Measured with benchmarks/scaling/bench_scaling.py on the 2-core development machine
# (client and reference service sharing the cores, TLS): one event loop received about
# 12 000 content chunks/s at 64 streams before the service and the loop ran out of CPU.
CHUNKS_PER_S_PER_PROCESS = 12_000.0
# A loop run near its ceiling delays reads by tens of ms (docs/metrics.md: such lag makes
# latency verdicts inconclusive); plan each worker for at most this share of its ceiling.
UTILISATION = 0.5
CHUNK_BYTES = 250  # one SSE chunk of the openai-chat dialect, framing included (measured)


@dataclass(frozen=True)
class PhaseLoad:
    phase: str
    strategy: str
    streams: int  # requests in flight at once (estimated for open loops)
    chunks_per_s: float
    bytes_per_s: float
    workers: int  # load workers (event loops) this phase needs
    limited_by: str  # streams | chunks | none

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoadEstimate:
    phases: tuple[PhaseLoad, ...]
    chunks_per_s_per_process: float
    utilisation: float
    streams_per_loop: int

    @property
    def workers(self) -> int:
        return max((p.workers for p in self.phases), default=1)

    def to_json(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "capacity": {"chunks_per_s_per_process": self.chunks_per_s_per_process,
                         "utilisation": self.utilisation,
                         "streams_per_loop": self.streams_per_loop},
            "phases": [p.to_json() for p in self.phases],
        }


def phase_load(pp: PhasePlan, decl: Declaration,
               capacity: float = CHUNKS_PER_S_PER_PROCESS,
               utilisation: float = UTILISATION) -> PhaseLoad:
    perf = decl.performance
    out_tokens = max(1, pp.output_tokens or 100)
    # the declared capacity shared by the declared streams: one stream's token rate
    per_stream_tps = perf.output_tokens_per_s / max(1, perf.declared_concurrency)
    conc = max(1, pp.concurrency)
    open_loop = pp.strategy in ("constant", "poisson") or (
        pp.strategy == "concurrent" and pp.rate_rps is not None)
    if pp.strategy == "sequential":
        streams = 1
    elif open_loop and pp.rate_rps is not None:
        e2e_s = out_tokens / max(per_stream_tps, 1e-9)
        streams = max(1, min(conc if conc > 1 else 10**9, math.ceil(pp.rate_rps * e2e_s)))
    else:
        streams = conc
    chunks = streams * per_stream_tps
    if open_loop and pp.rate_rps is not None:
        chunks = min(chunks, pp.rate_rps * out_tokens)
    by_streams = math.ceil(streams / STREAMS_PER_LOOP)
    by_chunks = math.ceil(chunks / (capacity * utilisation))
    workers = max(1, by_streams, by_chunks)
    limited = ("none" if workers == 1 else "chunks" if by_chunks >= by_streams else "streams")
    return PhaseLoad(pp.name, pp.strategy, streams, round(chunks, 1),
                     round(chunks * CHUNK_BYTES, 1), workers, limited)


def estimate(plan: Plan, decl: Declaration, capacity: float = CHUNKS_PER_S_PER_PROCESS,
             utilisation: float = UTILISATION) -> LoadEstimate:
    return LoadEstimate(
        tuple(phase_load(pp, decl, capacity, utilisation) for pp in plan.phases.values()),
        capacity, utilisation, STREAMS_PER_LOOP)
