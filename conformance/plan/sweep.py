"""The scaling sweep: the sustained workload at several concurrency levels between one
stream (the scaling phase) and the declared concurrency (the sustained phase), so that
throughput and TTFT versus concurrency have at least four points.

A profile asks for it with a ``sweep`` phase (standard, certification); its concurrency is
the top level and its ``requests`` the requests sent at each level. The levels are the
powers of two strictly between 1 and the top; each runs as its own segment,
``sweep-<level>``, with its own seed, so a resumed run continues where it stopped.
"""

from __future__ import annotations

import dataclasses

from conformance.plan.build import phase_seed, workers_for
from conformance.plan.model import PhasePlan

SWEEP = "sweep"


def levels(top: int) -> list[int]:
    """``16`` → ``[2, 4, 8]``; ``3`` → ``[2]``; ``2`` → ``[]``."""
    out, c = [], 2
    while c < top:
        out.append(c)
        c *= 2
    return out


def segment_name(level: int) -> str:
    return f"{SWEEP}-{level}"


def level_of(phase: str) -> int | None:
    """``sweep-4`` → 4; any other phase name → None."""
    head, _, tail = phase.partition("-")
    return int(tail) if head == SWEEP and tail.isdigit() else None


def segments(pp: PhasePlan, profile_seed: int) -> list[PhasePlan]:
    """The sweep phase ``pp`` as one closed-loop segment per level."""
    return [dataclasses.replace(pp, name=segment_name(c), strategy="concurrent",
                                seed=phase_seed(profile_seed, segment_name(c)), concurrency=c,
                                duration_s=None, processes=workers_for(c))
            for c in levels(pp.concurrency)]
