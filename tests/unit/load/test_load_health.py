"""Self-lag: the client notices when it, not the service, is slow."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from gt_server import GT

from conformance.run.client import ChatParams, ClientConfig
from conformance.run.load import (
    ClientHealth,
    Concurrency,
    LoadRunner,
    PhaseResult,
    PhaseSpec,
    StopConditions,
    Summary,
    saturation,
)


def health(lags: list[float], reasons: tuple[str, ...] = ()) -> ClientHealth:
    return ClientHealth(processes=1, duration_s=1.0, schedule_delay_ms=Summary.of([0.1]),
                        loop_lag_ms=Summary.of(lags), cpu_percent_max=10.0,
                        cpu_percent_mean=5.0, reasons=reasons)


def test_rule_compares_tail_lag_with_two_percent_of_threshold() -> None:
    lags = [0.01] * 9940 + [5.0] * 60  # p99.5 = 5 ms
    h = health(lags)
    ok = saturation(h, threshold_ms=1000.0, quantile=0.99)  # allowed 20 ms
    assert not ok.saturated and ok.client_error_ms == 5.0 and ok.allowed_ms == 20.0
    bad = saturation(h, threshold_ms=40.0, quantile=0.99)  # allowed 0.8 ms
    assert bad.saturated and "exceeds 2% of 40.0 ms" in bad.reasons[0]
    # a median metric looks at a lower lag quantile (p75)
    assert not saturation(h, threshold_ms=40.0, quantile=0.5).saturated
    # stalls in under 0.5% of the time cannot move a p99
    rare = health([0.01] * 9960 + [50.0] * 40)
    assert not saturation(rare, threshold_ms=1000.0, quantile=0.99).saturated


def test_rule_uses_the_max_when_ticks_are_few_and_cpu_always_counts() -> None:
    h = health([0.01] * 50 + [3.0])  # 51 ticks cannot estimate p99.5: the max is used
    assert saturation(h, threshold_ms=100.0).client_error_ms == 3.0
    assert saturation(health([]), threshold_ms=1e9).saturated  # no probe: cannot vouch
    cpu = health([0.01] * 1000, reasons=("client process at 99% of a core",))
    assert saturation(cpu, threshold_ms=1e6).saturated


@dataclass(frozen=True)
class HoggingFactory:
    """Burns the event loop for ``hog_ms`` each time it builds a request."""

    hog_ms: float

    def __call__(self, seq: int, rng: random.Random) -> ChatParams:
        end = time.perf_counter() + self.hog_ms / 1000
        while time.perf_counter() < end:
            pass
        return ChatParams([{"role": "user", "content": str(seq)}], max_tokens=5)


def run(gt: GT, hog_ms: float) -> PhaseResult:
    runner = LoadRunner(ClientConfig(base_url=gt.base_url, model="gt"))
    spec = PhaseSpec("h", Concurrency(8), StopConditions(duration_s=1.0))

    async def go() -> PhaseResult:
        return await runner.run(spec, HoggingFactory(hog_ms))

    return asyncio.run(go())


def test_overloaded_client_is_flagged_saturated(gt: GT) -> None:
    res = run(gt, hog_ms=25.0)
    assert res.requests > 0
    assert res.health.loop_lag_ms.max >= 20.0
    # TTFT p99 at the L3 limit (1000 ms): 2% = 20 ms, less than the client's own lag
    check = saturation(res.health, threshold_ms=1000.0, quantile=0.99)
    assert check.saturated and check.client_error_ms >= 20.0

