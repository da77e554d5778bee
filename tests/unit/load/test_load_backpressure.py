"""A consumer slower than the service holds back new sends: memory stays bounded (in the
parent's event loop, and in worker processes through credits the parent gives back)."""

from __future__ import annotations

import asyncio
import time

import pytest
from gt_server import GT
from test_load_runner import Factory

from conformance.run.client import ClientConfig
from conformance.run.load import Concurrency, LoadRunner, PhaseSpec, StopConditions
from conformance.run.load import result as result_mod
from conformance.run.records import RequestRecord


@pytest.mark.parametrize("processes", [0, 1])
def test_slow_consumer_holds_back_sends(
    gt: GT, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    monkeypatch.setattr(result_mod, "MAX_QUEUED", 4)
    n, total = 4, 60
    runner = LoadRunner(ClientConfig(base_url=gt.base_url, model="gt", read_timeout_s=10,
                                     total_timeout_s=30))
    got: list[tuple[int, RequestRecord]] = []

    async def slow(rec: RequestRecord) -> None:
        got.append((time.perf_counter_ns(), rec))
        await asyncio.sleep(0.02)  # the consumer (decode + evidence) is the bottleneck

    spec = PhaseSpec("bp", Concurrency(n), StopConditions(max_requests=total),
                     processes=processes)
    asyncio.run(runner.run(spec, Factory(), slow))
    assert len(got) == total and all(r.ok for _, r in got)
    sent = sorted(r.sent_ns or 0 for _, r in got)
    # sent but not yet consumed, at each consumption: the queue bound plus the streams in
    # flight (a service ~3x faster than this consumer would otherwise run ~35 ahead)
    backlog = max(sum(1 for s in sent if s <= t) - (k + 1) for k, (t, _) in enumerate(got))
    # (workers: MAX_QUEUED + n credits, so up to n more records waiting)
    assert backlog <= 4 + n + 1 + (n if processes else 0), backlog
