"""The probes that must provoke what they judge, sized from the declared limits.

* STAB-003's burst: one instant holds at least ``burst_multiple`` × the declared
  ``max_concurrency`` requests (the catalog's parameter): a service may run
  ``max_concurrency`` and queue as many again, so a service that honours its limit must
  refuse the rest.
* SEC-005's rate probe: one key must be offered more requests (or prompt tokens) than any
  per-minute limiter at the declared rpm (tpm) admits within the probe's window
  (:func:`allowance`); the client rate that takes is shown by
  ``tokencert plan`` beside what one client process can send.

Pure arithmetic on the declaration and the catalog; nothing is sent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from conformance.declaration.models import Declaration
from conformance.plan.build import STREAMS_PER_LOOP, workers_for
from conformance.spec.models import Catalog, Requirement

# SEC-005's long prompt: the context window less room for the answer, at most this long
# (building a prompt of exact length costs tokenizer time; beyond this the request count
# the probe needs hardly falls for any declared tpm)
LONG_PROMPT_MAX = 12_000
LONG_PROMPT_HEADROOM = 256
SHORT_PROMPT = 16  # tokens of the one-word prompt, chat template included (estimate)
# Small non-streamed requests (one-word or long prompt, max_tokens 1) one client process
# sends and reads per second at 100% of a core: benchmarks/capacity/request_rate.py measured
# 2.9 ms of client CPU per request over TLS on the 2-core development machine (340/s); the
# plan uses the load estimate's utilisation share of it.
REQUESTS_PER_S_PER_PROCESS = 340.0


def allowance(limit: float, elapsed_s: float, tolerance: float = 1.0) -> float:
    """The most a per-minute ``limit`` may admit in ``elapsed_s`` seconds, times
    ``tolerance``: ``limit × (1 + ⌈t / 60⌉)``. That covers every common limiter: a token
    bucket holding one minute (``limit + limit × t / 60``), a sliding one-minute window
    (``limit × ⌈t / 60⌉``) and a fixed one-minute window, whose boundary a span of t seconds
    can straddle (``⌈t / 60⌉ + 1`` windows)."""
    return tolerance * limit * (1 + math.ceil(max(elapsed_s, 0.0) / 60.0))


@dataclass(frozen=True)
class RateProbe:
    """SEC-005: what the rate probe must offer with one key to exceed the allowance."""

    limit: str  # rpm | tpm: the declared limit the probe exceeds first
    prompt_tokens: int  # tokens of each request's prompt (auditor's count)
    streams: int  # requests in flight at most
    window_s: float  # the probe's longest run (catalog probe_s)
    requests: int  # answered requests that exceed the allowance within window_s
    rate_rps: float  # the client rate that takes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def long_prompt_tokens(context_window: int) -> int:
    return max(16, min(LONG_PROMPT_MAX, context_window - LONG_PROMPT_HEADROOM))


def rate_probe(decl: Declaration, sec005: Requirement,
               short_prompt_tokens: int = SHORT_PROMPT) -> RateProbe:
    """The cheaper way to exceed the declared limits: many one-word requests (rpm) or
    fewer long ones (tpm)."""
    lim = decl.limits
    window = sec005.param("probe_s")
    tol = sec005.param("tolerance")
    streams = max(1, min(lim.max_concurrency, int(sec005.param("max_streams"))))
    by_rpm = math.floor(allowance(lim.rpm, window, tol)) + 1
    long_tokens = long_prompt_tokens(decl.model.context_window)
    by_tpm = math.floor(allowance(lim.tpm, window, tol) / long_tokens) + 1
    if by_tpm < by_rpm:
        n, limit, tokens = by_tpm, "tpm", long_tokens
    else:
        n, limit, tokens = by_rpm, "rpm", short_prompt_tokens
    return RateProbe(limit, tokens, streams, window, n, round(n / window, 2))


@dataclass(frozen=True)
class ProbeLoad:
    requirement: str
    what: str
    streams: int  # requests in flight at once
    rate_rps: float | None  # the client rate it needs (None: one instant)
    processes: int  # client processes (event loops) it needs
    one_process: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def probe_loads(catalog: Catalog, decl: Declaration, burst_streams: int | None,
                utilisation: float, selected: tuple[str, ...],
                requests_per_s: float = REQUESTS_PER_S_PER_PROCESS) -> list[ProbeLoad]:
    """What each selected refusal probe asks of the client: STAB-003's burst (streams at
    one instant) and SEC-005's rate (requests per second with one key)."""
    out: list[ProbeLoad] = []
    if "STAB-003" in selected and burst_streams is not None:
        w = max(1, workers_for(burst_streams))
        out.append(ProbeLoad(
            "STAB-003", f"{burst_streams} requests at one instant (>= "
            f"{catalog.get('STAB-003').param('burst_multiple'):g} x max_concurrency "
            f"{decl.limits.max_concurrency})", burst_streams, None, w,
            burst_streams <= STREAMS_PER_LOOP))
    if "SEC-005" in selected:
        rp = rate_probe(decl, catalog.get("SEC-005"))
        per_process = requests_per_s * utilisation
        w = max(1, math.ceil(rp.rate_rps / per_process), math.ceil(rp.streams / STREAMS_PER_LOOP))
        out.append(ProbeLoad(
            "SEC-005", f"{rp.requests} answered requests of {rp.prompt_tokens} prompt tokens "
            f"within {rp.window_s:g} s (exceeds the declared {rp.limit}), {rp.streams} streams",
            rp.streams, rp.rate_rps, w, w == 1))
    return out
