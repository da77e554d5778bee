"""What the load runner and its backends share: the phase result, the error-rate stop,
the back-pressure bound, and the face of the runner a backend sees.

It sits below ``runner`` (which picks a backend) and the backends (``workers``,
``ray_backend``), so that none of them imports another upward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from conformance.run.client import ClientConfig
from conformance.run.load.health import ClientHealth
from conformance.run.load.spec import PhaseSpec
from conformance.run.records import RequestRecord


@dataclass(frozen=True)
class PhaseResult:
    name: str
    requests: int  # completed (recorded) in this run of the phase
    errors: int  # not a 2xx answer
    stop_reason: str  # max_requests/exhausted, duration, error_rate, stopped
    started_utc: str
    t0_ns: int  # scheduled start (perf_counter_ns; the same clock in every worker on Linux)
    t1_ns: int  # last byte of the last request, or the end of the phase
    health: ClientHealth
    last_sent_ns: int = 0
    planned_duration_s: float | None = None
    # distributed runs: each node's clock offset to the driver and its health, and the
    # load workers lost mid-phase (their in-flight requests are ``worker_lost`` records)
    nodes: tuple[dict[str, Any], ...] = ()
    lost_workers: tuple[int, ...] = ()

    @property
    def duration_s(self) -> float:
        return (self.t1_ns - self.t0_ns) / 1e9

    def achieved_rate(self) -> float:
        """Requests sent per second: over the planned duration when the phase had one,
        else from the start to the last send."""
        span = self.planned_duration_s
        if span is None or self.stop_reason not in ("duration", "exhausted"):
            span = (self.last_sent_ns - self.t0_ns) / 1e9
        return self.requests / span if span and span > 0 else 0.0


class ErrorRate:
    """Trips when the share of non-2xx answers passes the phase's ``max_error_rate``."""

    def __init__(self, spec: PhaseSpec) -> None:
        self.stop = spec.stop
        self.n = 0
        self.errors = 0
        self.tripped = False

    def add(self, rec: RequestRecord) -> None:
        if rec.instrument_failed:
            return  # the instrument failed, not the service: not an error of the candidate
        self.n += 1
        if not rec.ok:
            self.errors += 1
        limit = self.stop.max_error_rate
        if (
            limit is not None
            and self.n >= self.stop.error_rate_min_requests
            and self.errors / self.n > limit
        ):
            self.tripped = True


MAX_QUEUED = 1024  # completed records awaiting the consumer before sends are held back




class PhaseHost(Protocol):
    """What a backend needs from the runner: the client configuration, the decoder (run
    in the parent, off the workers' hot path), and where the phase's result goes."""

    config: ClientConfig
    result: PhaseResult | None

    def decode(self, rec: RequestRecord) -> RequestRecord: ...
