"""Arrival strategies × stop conditions against a real loopback streaming server."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from gt_server import GT

from conformance._core.errors import InputError
from conformance.run.client import ChatParams, ClientConfig
from conformance.run.load import (
    Burst,
    Concurrency,
    ConstantRate,
    LoadRunner,
    PhaseResult,
    PhaseSpec,
    Poisson,
    Sequential,
    StopConditions,
)
from conformance.run.load.drive import offsets_ns
from conformance.run.records import RequestRecord


@dataclass(frozen=True)
class Factory:
    """Module-level and picklable, as worker processes need."""

    tokens: int = 5

    def __call__(self, seq: int, rng: random.Random) -> ChatParams:
        return ChatParams([{"role": "user", "content": f"{seq} {rng.random()}"}],
                          max_tokens=self.tokens, extra={"user": f"seq-{seq}"})


def run(base_url: str, spec: PhaseSpec, **kw: Any) -> tuple[list[RequestRecord], PhaseResult]:
    runner = LoadRunner(ClientConfig(base_url=base_url, model="gt", read_timeout_s=10,
                                     total_timeout_s=30))
    got: list[RequestRecord] = []

    async def go() -> PhaseResult:
        return await runner.run(spec, Factory(), got.append, **kw)

    res = asyncio.run(go())
    return got, res


def max_in_flight(recs: list[RequestRecord]) -> int:
    edges = sorted([(r.sent_ns or 0, 1) for r in recs] + [(r.last_byte_ns or 0, -1) for r in recs])
    return max(itertools.accumulate(d for _, d in edges))


def test_fixed_concurrency_and_max_requests(gt: GT) -> None:
    recs, res = run(gt.base_url, PhaseSpec("c", Concurrency(4), StopConditions(max_requests=24)))
    assert sorted(r.seq for r in recs) == list(range(24))
    assert all(r.ok and r.text == " tok" * 5 and r.done_seen for r in recs)
    assert max_in_flight(recs) == 4
    assert res.requests == 24 and res.errors == 0 and res.stop_reason == "exhausted"
    assert {r.request_id for r in recs} == {f"c-{i}" for i in range(24)}
    assert res.health.loop_lag_ms.n > 0 and res.health.processes == 1


def test_sequential_never_overlaps(gt: GT) -> None:
    recs, _ = run(gt.base_url, PhaseSpec("s", Sequential(), StopConditions(max_requests=5)))
    assert max_in_flight(recs) == 1


def test_constant_rate_schedule(gt: GT) -> None:
    recs, res = run(gt.base_url, PhaseSpec("r", ConstantRate(50), StopConditions(max_requests=20)))
    sched = sorted(r.scheduled_ns for r in recs)
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(sched)]
    assert all(abs(g - 20.0) < 0.01 for g in gaps)
    assert res.health.schedule_delay_ms.n == 20


def test_duration_stop(gt: GT) -> None:
    recs, res = run(gt.base_url, PhaseSpec("d", Concurrency(2), StopConditions(duration_s=0.6)))
    assert res.stop_reason == "duration"
    assert all((r.sent_ns or 0) < res.t0_ns + 600_000_000 for r in recs)
    assert 0.6 <= res.duration_s < 1.5 and len(recs) > 4


def test_burst_sends_at_one_instant(gt: GT) -> None:
    recs, _ = run(gt.base_url, PhaseSpec("b", Burst(8, bursts=2, interval_s=0.2)))
    assert len(recs) == 16
    starts = sorted({r.scheduled_ns for r in recs})
    assert len(starts) == 2 and starts[1] - starts[0] == 200_000_000


def test_resume_skips_recorded_sequence_numbers(gt: GT) -> None:
    recs, _ = run(gt.base_url, PhaseSpec("c", Concurrency(3), StopConditions(max_requests=10)),
                  skip_seqs={0, 1, 2, 7})
    assert sorted(r.seq for r in recs) == [3, 4, 5, 6, 8, 9]


def test_error_rate_stop() -> None:
    with socket.socket() as s:  # bound, never listening: every request is refused
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        spec = PhaseSpec("e", Concurrency(2), StopConditions(max_requests=500, max_error_rate=0.5,
                                                              error_rate_min_requests=10))
        recs, res = run(url, spec)
    assert res.stop_reason == "error_rate" and 10 <= len(recs) < 30
    assert all(r.error == "connect" for r in recs)


def test_poisson_workers_draw_different_arrivals() -> None:
    spec = PhaseSpec("p", Poisson(10), StopConditions(duration_s=10), seed=3, processes=2)
    a = list(itertools.islice(offsets_ns(Poisson(5), spec, 0, 2), 50))
    b = list(itertools.islice(offsets_ns(Poisson(5), spec, 1, 2), 50))
    assert a != b
    again = list(itertools.islice(offsets_ns(Poisson(5), spec, 0, 2), 50))
    assert a == again  # reproducible from the phase seed
    mean_gap = a[-1] / 50 / 1e9
    assert 0.12 < mean_gap < 0.3  # 5/s per worker


@pytest.mark.slow
def test_worker_processes(gt: GT) -> None:
    gt.take_log()
    spec = PhaseSpec("w", Poisson(40), StopConditions(duration_s=2.0), seed=5, processes=2)
    recs, res = run(gt.base_url, spec)
    assert {r.worker for r in recs} == {0, 1}
    assert all(r.ok and r.text == " tok" * 5 for r in recs)  # decoded in the parent
    assert len({r.seq for r in recs}) == len(recs)
    assert res.health.processes == 2 and res.stop_reason == "duration"
    assert 40 < len(recs) < 130  # Poisson(80 in 2 s), generous
    # every record the server saw came back
    assert set(gt.take_log()) == {f"seq-{r.seq}" for r in recs}


def test_invalid_phase_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"needs stop\.max_requests or stop\.duration_s"):
        run("http://127.0.0.1:1/v1", PhaseSpec("x", Concurrency(2)))
    with pytest.raises(InputError, match="rate must be > 0"):
        run("http://127.0.0.1:1/v1", PhaseSpec("x", Poisson(0), StopConditions(max_requests=1)))
