"""Pieces of the Ray backend that need no cluster: shares, clock shift, health merge, lost
workers as instrument errors (the cluster runs are in tests/integration/test_run_ray.py)."""

from __future__ import annotations

import pytest

from conformance._core.errors import InputError
from conformance.cli.run_cmd import check_ray
from conformance.pytest_plugin.session import PhaseData
from conformance.run.evidence import PhaseOutcome
from conformance.run.load import (
    Burst,
    ClientHealth,
    Concurrency,
    ConstantRate,
    Distributed,
    PhaseSpec,
    Sequential,
    StopConditions,
    Summary,
    saturation,
)
from conformance.run.load.drive import share, useful_workers
from conformance.run.load.health import merge_nodes
from conformance.run.load.ray_backend import _shift, is_loopback, lost_record
from conformance.run.load.result import ErrorRate
from conformance.run.records import ChunkEvent, RequestRecord


def test_useful_workers_never_exceed_the_shares() -> None:
    assert useful_workers(Sequential(), 4) == 1
    assert useful_workers(Concurrency(3), 8) == 3
    assert useful_workers(Burst(2, 5), 4) == 2
    assert useful_workers(ConstantRate(10.0, 2), 4) == 2
    assert useful_workers(ConstantRate(10.0), 4) == 4
    for arrival in (Concurrency(3), Burst(2, 5), ConstantRate(10.0, 2)):
        n = useful_workers(arrival, 8)
        assert all(share(arrival, k, n) is not None for k in range(n))


def _health(p99: float, mx: float, reasons: tuple[str, ...] = ()) -> ClientHealth:
    lag = Summary(n=1000, p50=0.1, p90=p99 / 2, p99=p99, p999=mx, max=mx, p75=0.2,
                  p95=p99 / 2, p995=mx)
    return ClientHealth(1, 10.0, Summary(n=10, max=1.0), lag, 20.0, 10.0, (), reasons)


def test_node_health_merges_to_the_worst_node() -> None:
    idle, busy = _health(0.5, 1.0), _health(40.0, 80.0, ("client at 95% of a core",))
    merged = merge_nodes([("ray worker 0", idle), ("ray worker 1", busy)])
    assert merged.loop_lag_ms.p99 == 40.0 and merged.loop_lag_ms.max == 80.0
    assert merged.processes == 2
    assert merged.reasons == ("ray worker 1: client at 95% of a core",)
    # the saturated node decides, as it would on its own
    assert saturation(merged, threshold_ms=1000.0).saturated
    assert not saturation(merge_nodes([("a", idle), ("b", idle)]),
                          threshold_ms=1000.0).saturated


def test_shift_moves_timestamps_onto_the_driver_clock_and_keeps_durations() -> None:
    rec = RequestRecord("p-1", "p", 1, scheduled_ns=1_000, sent_ns=1_100, headers_ns=1_500,
                        first_byte_ns=1_600, last_byte_ns=9_100,
                        events=[ChunkEvent(2_000, b"x"), ChunkEvent(3_000, b"y")])
    e2e = rec.e2e_ms()
    _shift(rec, 1_000)
    assert (rec.scheduled_ns, rec.sent_ns, rec.last_byte_ns) == (0, 100, 8_100)
    assert [e.t_ns for e in rec.events] == [1_000, 2_000]
    assert rec.e2e_ms() == e2e and rec.first_token_ns is None


def test_a_lost_worker_is_the_instrument_failing_not_the_service() -> None:
    spec = PhaseSpec("sustained", Concurrency(4), StopConditions(max_requests=40,
                                                                max_error_rate=0.1,
                                                                error_rate_min_requests=2))
    lost = lost_record(spec, 1, 7, 123, "ActorDiedError")
    assert lost.error == "worker_lost" and lost.instrument_failed and not lost.ok
    assert lost.request_id == "sustained-7" and lost.worker == 1
    rate = ErrorRate(spec)
    for _ in range(10):
        rate.add(lost)
    assert rate.n == 0 and not rate.tripped  # never trips the service's error-rate stop
    served = RequestRecord("sustained-1", "sustained", 1, status=200)
    refused = RequestRecord("sustained-2", "sustained", 2, status=500)
    outcome = PhaseOutcome("sustained", 1.0, {}, "worker_lost", False, (1,))
    data = PhaseData("sustained", [served, refused, lost], outcome, warmup=0)
    assert data.measured == [served, refused]  # a real 500 still counts


def test_ray_options_are_checked() -> None:
    with pytest.raises(InputError):
        check_ray(None, 2)
    with pytest.raises(InputError):
        check_ray("auto", 0)
    with pytest.raises(InputError):
        Distributed(" ").validate()
    check_ray(None, None)
    assert is_loopback("127.0.0.1:6379") and is_loopback("local")
    assert not is_loopback("10.0.0.5:6379")
