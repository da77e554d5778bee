"""Load generation: arrival strategies × stop conditions, workers, self-lag measurement."""

from conformance.run.load.health import (
    ClientHealth,
    HealthWindow,
    LagMonitor,
    SaturationCheck,
    Summary,
    saturation,
)
from conformance.run.load.result import PhaseResult
from conformance.run.load.runner import LoadRunner, OnRecord
from conformance.run.load.spec import (
    Arrival,
    Burst,
    Concurrency,
    ConstantRate,
    Distributed,
    PhaseSpec,
    Poisson,
    RequestFactory,
    Sequential,
    StopConditions,
    request_rng,
    worker_seed,
)

__all__ = [
    "Arrival",
    "Burst",
    "ClientHealth",
    "Concurrency",
    "ConstantRate",
    "Distributed",
    "HealthWindow",
    "LagMonitor",
    "LoadRunner",
    "OnRecord",
    "PhaseResult",
    "PhaseSpec",
    "Poisson",
    "RequestFactory",
    "SaturationCheck",
    "Sequential",
    "StopConditions",
    "Summary",
    "request_rng",
    "saturation",
    "worker_seed",
]
