"""What a load phase is: an arrival strategy × stop conditions, with a seed.

Policy is data: these frozen objects are built by the plan and passed to the runner.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance._core.errors import InputError
from conformance.run.client.dialect import ChatParams


@dataclass(frozen=True)
class Sequential:
    """One request at a time, the next sent when the previous one ends."""


@dataclass(frozen=True)
class Concurrency:
    """``n`` requests always in flight (closed loop)."""

    n: int


@dataclass(frozen=True)
class ConstantRate:
    """Open loop: one request every ``1/rate`` s. ``max_in_flight`` caps concurrency (a
    request that must wait for a slot shows up as schedule delay)."""

    rate: float
    max_in_flight: int | None = None


@dataclass(frozen=True)
class Poisson:
    """Open loop: exponential gaps with mean ``1/rate`` s; each worker process draws from
    its own generator, seeded from the phase seed and the worker index."""

    rate: float
    max_in_flight: int | None = None


@dataclass(frozen=True)
class Burst:
    """``size`` requests scheduled at the same instant, ``bursts`` times, ``interval_s`` apart."""

    size: int
    bursts: int = 1
    interval_s: float = 0.0


Arrival = Sequential | Concurrency | ConstantRate | Poisson | Burst


@dataclass(frozen=True)
class StopConditions:
    """The phase ends at the first condition met. ``max_error_rate`` is judged once
    ``error_rate_min_requests`` requests have completed (an error = not a 2xx answer)."""

    max_requests: int | None = None
    duration_s: float | None = None
    max_error_rate: float | None = None
    error_rate_min_requests: int = 20


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    arrival: Arrival
    stop: StopConditions = field(default_factory=StopConditions)
    seed: int = 0
    processes: int = 0  # 0: in this process's event loop; n: n worker processes (spawn)
    lag_tick_s: float = 0.002  # event-loop lag probe period
    health_window_s: float = 1.0

    def validate(self) -> None:
        a, s = self.arrival, self.stop
        problems = []
        if s.max_requests is None and s.duration_s is None and not isinstance(a, Burst):
            problems.append("needs stop.max_requests or stop.duration_s")
        if isinstance(a, Concurrency) and a.n < 1:
            problems.append("concurrency n must be >= 1")
        if isinstance(a, ConstantRate | Poisson) and not a.rate > 0:
            problems.append("rate must be > 0")
        if isinstance(a, Burst) and (a.size < 1 or a.bursts < 1 or a.interval_s < 0):
            problems.append("burst needs size >= 1, bursts >= 1, interval_s >= 0")
        if self.processes < 0:
            problems.append("processes must be >= 0")
        if problems:
            raise InputError(f"load phase {self.name!r}: " + "; ".join(problems))


@dataclass(frozen=True)
class Distributed:
    """Run load phases on a Ray cluster (``pip install 'tokencert[distributed]'``).

    ``address``: a Ray cluster address (``host:port``), ``auto`` (the cluster started on this
    machine with ``ray start``) or ``local`` (a private single-node cluster on 127.0.0.1).
    ``workers``: Ray load workers (actors) per phase; None: one per node, and never fewer
    than the phase's planned worker processes (one event loop holds at most 64 streams).
    """

    address: str
    workers: int | None = None
    object_store_mb: int = 64  # per node for ``local``; records are small and stream back

    def validate(self) -> None:
        if not self.address.strip():
            raise InputError("--ray-address must not be empty (an address, auto or local)")
        if self.workers is not None and self.workers < 1:
            raise InputError("--ray-workers must be >= 1")


RequestFactory = Callable[[int, random.Random], ChatParams]
"""``factory(seq, rng) -> ChatParams``: a fresh request for sequence number ``seq``. ``rng``
is seeded from (phase seed, seq), so a resumed phase regenerates the same requests. Must be
picklable (a module-level function or a dataclass instance) when ``processes > 0``."""


def request_rng(seed: int, seq: int) -> random.Random:
    return random.Random(f"tokencert:{seed}:{seq}")


def worker_seed(seed: int, worker: int) -> int:
    """A distinct arrival seed per worker process (never all seeded alike)."""
    return random.Random(f"tokencert-arrival:{seed}:{worker}").getrandbits(63)
