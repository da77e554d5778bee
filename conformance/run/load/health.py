"""The instrument watches itself: schedule delay, event-loop lag and CPU, per phase.

A response byte that is ready while the event loop is busy running something else — or while
the whole process is not on a CPU — is read late, and the delay ends up in the measured
latency. The loop-lag probe measures that delay two ways every ``tick`` and keeps the larger:
it yields to the loop (``sleep(0)``) and records how long it waited to run again (the queue
of callbacks and I/O a ready read waits behind), and it records how much its timer overslept
beyond the 1 ms that epoll's millisecond rounding allows even on an idle loop (the process
was descheduled, or one callback ran long). See docs/metrics.md for the rule that turns these
figures into ``inconclusive: client_saturated``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

EPOLL_SLACK_NS = 1_000_000  # epoll timeouts are rounded up to whole milliseconds
CPU_SATURATED = 90.0  # % of one core: a single event loop cannot go faster than one core


@dataclass(frozen=True)
class Summary:
    """Order-statistic summary of a sample in milliseconds."""

    n: int = 0
    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    max: float = 0.0
    p75: float = 0.0
    p95: float = 0.0
    p995: float = 0.0

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Summary:
        if not values_ms:
            return cls()
        v = sorted(values_ms)

        def q(p: float) -> float:
            return v[min(len(v) - 1, max(0, math.ceil(p * len(v)) - 1))]

        return cls(
            len(v), q(0.5), q(0.9), q(0.99), q(0.999), v[-1], q(0.75), q(0.95), q(0.995)
        )

    def at(self, quantile: float) -> float:
        """The summarised value at the smallest kept quantile ≥ ``quantile``."""
        kept = (
            (0.5, self.p50), (0.75, self.p75), (0.9, self.p90), (0.95, self.p95),
            (0.99, self.p99), (0.995, self.p995), (0.999, self.p999),
        )
        for p, val in kept:
            if quantile <= p + 1e-12:
                return val
        return self.max


@dataclass(frozen=True)
class HealthWindow:
    t_s: float  # window start, seconds from phase start
    loop_lag_p99_ms: float
    loop_lag_max_ms: float
    cpu_percent: float  # of one core, by the client process
    system_cpu_percent: float  # whole machine, all cores (100 = every core busy)
    span_s: float = 1.0  # the window's length (a window closes on the first tick past it)

    def saturated(self, threshold_ms: float, tolerance: float = 0.02) -> bool:
        """Could client lag in this window have moved a latency by more than ``tolerance ×
        threshold_ms``? (its largest loop lag; or the process was CPU-bound, so the probe
        itself may have been starved)."""
        return self.cpu_percent >= CPU_SATURATED or self.loop_lag_max_ms > (
            tolerance * threshold_ms)

    def holds(self, t_s: float) -> bool:
        return self.t_s <= t_s < self.t_s + self.span_s


@dataclass(frozen=True)
class ClientHealth:
    """How well the client kept up during one phase (all worker processes merged)."""

    processes: int
    duration_s: float
    schedule_delay_ms: Summary  # sent − scheduled, per request
    loop_lag_ms: Summary  # probe oversleep, per tick
    cpu_percent_max: float  # busiest window of the busiest process, % of one core
    cpu_percent_mean: float
    windows: tuple[HealthWindow, ...] = ()
    reasons: tuple[str, ...] = ()  # why the client may have been saturated
    t0_ns: int = 0  # origin of the windows' t_s (perf_counter_ns); 0: not one origin

    @property
    def saturated(self) -> bool:
        return bool(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SaturationCheck:
    saturated: bool
    client_error_ms: float  # how far client lag could move the percentile
    allowed_ms: float  # tolerance × threshold
    reasons: tuple[str, ...]


def saturation(
    health: ClientHealth, *, threshold_ms: float, quantile: float = 0.99, tolerance: float = 0.02
) -> SaturationCheck:
    """Could client lag have moved the ``quantile`` of a latency metric by more than
    ``tolerance × threshold_ms``? If so the verdict must be ``inconclusive: client_saturated``.

    Timestamps only err late (measured = true + d, d ≥ 0), so for any ε the measured
    q-quantile is at most the true (q + ε)-quantile plus the (1 − ε)-quantile of d. We take
    ε = (1 − q)/2: the loop lag (time-weighted) at ``1 − (1 − q)/2`` — p99 → p99.5, the
    median → p75 — and the maximum when the probe has too few ticks to estimate it. A
    CPU-bound client is saturated whatever the figures.
    """
    lag = health.loop_lag_ms
    upper = 1.0 - (1.0 - quantile) / 2.0
    if lag.n == 0:
        err = math.inf
    elif lag.n * (1.0 - upper) < 1.0:
        err = lag.max
    else:
        err = lag.at(upper)
    allowed = tolerance * threshold_ms
    reasons = list(health.reasons)
    if err > allowed:
        reasons.append(
            f"loop lag {err:.2f} ms at q={upper:.4g} exceeds {tolerance:.0%} of {threshold_ms} ms"
        )
    return SaturationCheck(bool(reasons), err, allowed, tuple(reasons))


def saturated_share(health: ClientHealth, *, threshold_ms: float, quantile: float = 0.99,
                    tolerance: float = 0.02) -> float:
    """The share of the phase's 1-s windows saturated for a latency limit of
    ``threshold_ms`` (``HealthWindow.saturated``); without windows, the phase-wide rule
    (:func:`saturation`) decides all or nothing. For figures that cannot set aside single
    requests (a ratio of two phases' percentiles), compare it with the catalog's
    ``client_saturation.max_set_aside_share``."""
    if not health.windows:
        chk = saturation(health, threshold_ms=threshold_ms, quantile=quantile,
                         tolerance=tolerance)
        return 1.0 if chk.saturated else 0.0
    hit = sum(w.saturated(threshold_ms, tolerance) for w in health.windows)
    return hit / len(health.windows)


def busy_share(health: ClientHealth) -> float:
    """The share of the phase's 1-s windows in which a client process was CPU-bound (≥ 90%
    of a core); without windows, 1 if the phase was flagged at all."""
    if not health.windows:
        return 1.0 if health.reasons else 0.0
    return sum(w.cpu_percent >= CPU_SATURATED for w in health.windows) / len(health.windows)


class LagMonitor:
    """Runs beside the requests in one event loop; collects lag per tick and CPU per window."""

    def __init__(
        self, tick_s: float = 0.002, window_s: float = 1.0, freeze_gc_s: float | None = 0.1
    ) -> None:
        self.tick_s = tick_s
        self.freeze_gc_ns = None if freeze_gc_s is None else int(freeze_gc_s * 1e9)
        self.window_s = window_s
        self.lags_ms: list[float] = []
        self.windows: list[HealthWindow] = []
        self._task: asyncio.Task[None] | None = None
        self._proc = psutil.Process()
        self.t0_ns = 0
        self.t1_ns = 0
        self._cpu0 = 0.0

    def start(self) -> None:
        self.t0_ns = time.perf_counter_ns()
        self._cpu0 = _cpu_s(self._proc)
        psutil.cpu_percent(None)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.t1_ns = time.perf_counter_ns()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def cpu_percent_mean(self) -> float:
        wall = max(1e-9, ((self.t1_ns or time.perf_counter_ns()) - self.t0_ns) / 1e9)
        return 100.0 * (_cpu_s(self._proc) - self._cpu0) / wall

    async def _run(self) -> None:
        win_ns = int(self.window_s * 1e9)
        clock = time.perf_counter_ns
        w_start = clock()
        w_cpu = _cpu_s(self._proc)
        w_lags: list[float] = []
        tick_ns = int(self.tick_s * 1e9)
        tick_ms = self.tick_s * 1e3
        frozen = clock()
        while True:
            if self.freeze_gc_ns is not None and clock() - frozen >= self.freeze_gc_ns:
                gc.freeze()  # O(1): what the phase keeps (records) is never traversed again
                frozen = clock()
            due = clock() + tick_ns
            await asyncio.sleep(self.tick_s)
            t = clock()
            await asyncio.sleep(0)
            now = clock()
            lag = max(now - t, t - due - EPOLL_SLACK_NS) / 1e6
            # Time-weighted: during a stall of L ms, a read arriving k ticks into it waits
            # L - k·tick; one sample per tick of the stall, not one per stall.
            samples = [lag - k * tick_ms for k in range(max(1, int(lag / tick_ms)))]
            self.lags_ms.extend(samples)
            w_lags.extend(samples)
            if now - w_start >= win_ns:
                cpu = _cpu_s(self._proc)
                s = Summary.of(w_lags)
                self.windows.append(
                    HealthWindow(
                        (w_start - self.t0_ns) / 1e9,
                        s.p99,
                        s.max,
                        100.0 * (cpu - w_cpu) / ((now - w_start) / 1e9),
                        psutil.cpu_percent(None),
                        (now - w_start) / 1e9,
                    )
                )
                w_start, w_cpu, w_lags = now, cpu, []


def _cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


@dataclass
class HealthParts:
    """One process's raw health figures (sent from worker processes to the parent)."""

    lags_ms: list[float] = field(default_factory=list)
    windows: list[HealthWindow] = field(default_factory=list)
    cpu_percent_mean: float = 0.0
    duration_s: float = 0.0
    t0_ns: int = 0  # the monitor's start: origin of its windows


def merge_health(parts: Iterable[HealthParts], schedule_delays_ms: Sequence[float]) -> ClientHealth:
    parts = list(parts)
    lags = [x for p in parts for x in p.lags_ms]
    windows = tuple(sorted((w for p in parts for w in p.windows), key=lambda w: w.t_s))
    cpu_max = max((w.cpu_percent for w in windows), default=0.0)
    cpu_mean = max((p.cpu_percent_mean for p in parts), default=0.0)
    sched = Summary.of(schedule_delays_ms)
    reasons = []
    if cpu_max >= CPU_SATURATED:
        reasons.append(f"client process at {cpu_max:.0f}% of a core in its busiest second")
    # worker processes start their monitors at one common instant (within a few ms);
    # the earliest start is the origin of every window
    starts = [p.t0_ns for p in parts]
    return ClientHealth(
        processes=len(parts),
        duration_s=max((p.duration_s for p in parts), default=0.0),
        schedule_delay_ms=sched,
        loop_lag_ms=Summary.of(lags),
        cpu_percent_max=cpu_max,
        cpu_percent_mean=cpu_mean,
        windows=windows,
        reasons=tuple(reasons),
        t0_ns=min(starts) if starts and all(starts) else 0,
    )


@contextlib.contextmanager
def quiet_gc(threshold0: int = 50_000) -> Iterator[None]:
    """Keep the cyclic garbage collector from stalling the loop during a phase: objects that
    exist before the phase are frozen out of collection, and young collections run ~70×
    less often; the lag monitor re-freezes every 100 ms, so the records a phase accumulates
    are never traversed (``gc.freeze`` is O(1)). Cyclic garbage made during the phase is
    collected after it, when everything is unfrozen. (Measured: GC pauses had produced
    10–40 ms of loop lag at 16 streams and hundreds of ms at 512.)"""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold0, old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def merge_nodes(healths: Sequence[tuple[str, ClientHealth]]) -> ClientHealth:
    """The health of a phase run on several nodes, merged conservatively: every lag and
    delay figure is the worst node's (pooling the samples would dilute a saturated node's
    lag with an idle one's), and any node's saturation reason is the phase's."""
    if len(healths) == 1:
        return healths[0][1]
    hs = [h for _, h in healths]

    def worst(ss: Sequence[Summary]) -> Summary:
        if not ss:
            return Summary()
        return Summary(
            n=sum(s.n for s in ss),
            **{f: max(getattr(s, f) for s in ss)
               for f in ("p50", "p90", "p99", "p999", "max", "p75", "p95", "p995")},
        )

    return ClientHealth(
        processes=sum(h.processes for h in hs),
        duration_s=max((h.duration_s for h in hs), default=0.0),
        schedule_delay_ms=worst([h.schedule_delay_ms for h in hs if h.schedule_delay_ms.n]),
        loop_lag_ms=worst([h.loop_lag_ms for h in hs if h.loop_lag_ms.n]),
        cpu_percent_max=max((h.cpu_percent_max for h in hs), default=0.0),
        cpu_percent_mean=max((h.cpu_percent_mean for h in hs), default=0.0),
        windows=tuple(sorted((w for h in hs for w in h.windows), key=lambda w: w.t_s)),
        reasons=tuple(f"{name}: {r}" for name, h in healths for r in h.reasons),
    )
