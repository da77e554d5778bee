"""How long a run may take: the expected and the longest duration of each phase, and the
run deadline derived from them. Pure arithmetic on the plan and the declaration (no I/O).

*Expected* assumes the service delivers what it declares: each stream produces
``output_tokens_per_s / declared_concurrency`` tokens per second. *Maximum* assumes the
worst a live service can do within the per-request deadline (``PhasePlan.timeout_s``):
every request of a request-bounded phase runs to the deadline; a duration-bounded phase
runs its duration, its observation window and one last deadline. The run deadline adds an
allowance for the probes the requirement tests send outside the load phases. A run past
its deadline stops as incomplete (exit 3), its evidence kept and resumable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from conformance.declaration.models import Declaration
from conformance.plan.model import PhasePlan, Plan

# the requests a phase without a count or a duration sends (metering corpus, caching
# repeats): the metering corpus holds about 40 prompts; a repeat sends each again
UNCOUNTED_REQUESTS = 48
# probes a requirement test may send outside the load phases, each to its deadline
PROBES_PER_REQUIREMENT = 4
# fixed overhead of a run: starting pytest, loading the tokenizer, building prompts
SETUP_S = 60.0
DEFAULT_OUTPUT_TOKENS = 100


@dataclass(frozen=True)
class PhaseBound:
    phase: str
    requests: int  # requests the phase is expected to send
    expected_s: float
    maximum_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunBound:
    phases: tuple[PhaseBound, ...]
    probes_maximum_s: float  # the allowance for requirement probes outside the phases
    expected_s: float
    deadline_s: float  # the run stops (incomplete, exit 3) when it runs past this

    def to_json(self) -> dict[str, Any]:
        return {"expected_s": self.expected_s, "deadline_s": self.deadline_s,
                "probes_maximum_s": self.probes_maximum_s,
                "phases": [p.to_json() for p in self.phases]}


def _request_s(pp: PhasePlan, decl: Declaration) -> float:
    """One request's expected duration at the declared per-stream rate."""
    perf = decl.performance
    per_stream = perf.output_tokens_per_s / max(1, perf.declared_concurrency)
    return (pp.output_tokens or DEFAULT_OUTPUT_TOKENS) / max(per_stream, 1e-9)


def phase_bound(pp: PhasePlan, decl: Declaration) -> PhaseBound:
    """Expected and longest duration of one planned phase."""
    conc = max(1, pp.concurrency)
    observe = pp.observe_s or 0.0
    one = _request_s(pp, decl)
    if pp.duration_s is not None:
        rps = pp.rate_rps if pp.rate_rps is not None else conc / max(one, 1e-9)
        n = math.ceil(pp.duration_s * rps)
        expected = pp.duration_s + observe + min(one, pp.timeout_s)
        maximum = pp.duration_s + observe + pp.timeout_s
        return PhaseBound(pp.name, n, round(expected, 1), round(maximum, 1))
    n = (pp.requests if pp.requests is not None else UNCOUNTED_REQUESTS) * max(1, pp.repeats)
    waves = math.ceil(n / conc)
    if pp.name == "sweep":  # the requests at each power of two up to the concurrency
        levels = sorted({*(2**i for i in range(conc.bit_length()) if 2**i < conc), conc})
        waves = sum(math.ceil(n / lv) for lv in levels)
        n *= len(levels)
    expected = waves * min(one, pp.timeout_s)
    if pp.rate_rps is not None:
        expected = max(expected, n / pp.rate_rps)
    if pp.strategy == "burst":
        expected = max(expected, float(waves))  # one burst per second
    maximum = waves * pp.timeout_s + (n / pp.rate_rps if pp.rate_rps else 0.0) + observe
    return PhaseBound(pp.name, n, round(expected + observe, 1), round(maximum, 1))


def run_bound(plan: Plan, decl: Declaration, timeout_s: float) -> RunBound:
    """Every phase's duration and the run deadline. ``timeout_s``: the per-request deadline
    (``plan.build.request_timeout``) for the probes sent outside the load phases."""
    phases = tuple(phase_bound(pp, decl) for pp in plan.phases.values())
    tests = sum(1 for r in plan.requirements if r.applicable)
    probes = tests * PROBES_PER_REQUIREMENT * timeout_s
    expected = SETUP_S + sum(p.expected_s for p in phases)
    deadline = SETUP_S + sum(p.maximum_s for p in phases) + probes
    return RunBound(phases, round(probes, 1), round(expected, 1), round(deadline, 1))
