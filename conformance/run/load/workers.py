"""Worker processes: each runs its share of a phase in its own event loop.

Workers are spawned (never forked: a forked event loop or thread pool is unsafe), wait until
every worker is ready, then start at one shared instant — ``perf_counter_ns`` reads
``CLOCK_MONOTONIC`` on Linux, the same clock in every process, so all timestamps are
comparable. Workers keep raw records (timestamps and bytes) and put them on a queue; the
parent decodes them. Each worker seeds its own arrival generator from the phase seed and
its index.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue as queue_mod
import threading
import time
import traceback
from collections.abc import AsyncIterator
from typing import Any

from conformance._core.clock import utc_now_iso
from conformance._core.errors import RunError
from conformance.run.client import Client, ClientConfig
from conformance.run.load import result as shared
from conformance.run.load.drive import connections_needed, drive, share
from conformance.run.load.health import HealthParts, LagMonitor, merge_health, quiet_gc
from conformance.run.load.result import ErrorRate, PhaseHost, PhaseResult
from conformance.run.load.spec import PhaseSpec, RequestFactory
from conformance.run.records import ChunkEvent, RequestRecord

READY_TIMEOUT_S = 120.0

Packed = tuple[RequestRecord, list[int], list[bytes]]


class _CreditClient(Client):
    """A worker's client: each request takes a credit first (given back by the parent once
    it has consumed the record), polled so the event loop never blocks on it."""

    def __init__(self, credit: Any, stop_ev: Any, config: ClientConfig) -> None:
        super().__init__(config)
        self._credit, self._stop = credit, stop_ev

    async def chat(self, *args: Any, **kwargs: Any) -> RequestRecord:
        # (a cross-process semaphore: no asyncio primitive can wait on it)
        while not self._credit.acquire(False):
            if self._stop.is_set():  # the parent stopped consuming: never wait for it
                break
            await asyncio.sleep(0.001)
        return await super().chat(*args, **kwargs)


def pack(rec: RequestRecord) -> Packed:
    """A record ready for the queue: its events as two flat lists (pickling hundreds of
    ``ChunkEvent`` objects one by one cost ~7x more, per chunk, than the lists)."""
    events, rec.events = rec.events, []
    return rec, [e.t_ns for e in events], [e.data for e in events]


def unpack(packed: Packed) -> RequestRecord:
    rec, ts, data = packed
    rec.events = [ChunkEvent(t, d) for t, d in zip(ts, data, strict=True)]
    return rec


async def _worker_async(
    k: int,
    config: ClientConfig,
    spec: PhaseSpec,
    factory: RequestFactory,
    skip: frozenset[int],
    out_q: Any,
    stop_ev: Any,
    go: Any,
    start: Any,
    credit: Any,
) -> tuple[str, HealthParts] | None:
    monitor = LagMonitor(spec.lag_tick_s, spec.health_window_s)
    # everything built before the common start
    async with _CreditClient(credit, stop_ev, config) as client:
        await client.prewarm(connections_needed(share(spec.arrival, k, spec.processes)))
        out_q.put(("ready", k, None))
        if not await asyncio.to_thread(go.wait, READY_TIMEOUT_S) or stop_ev.is_set():
            return None
        monitor.start()
        with quiet_gc():
            reason = await drive(
                client,
                spec,
                factory,
                emit=lambda rec: out_q.put(("rec", k, pack(rec))),
                should_stop=stop_ev.is_set,
                t0_ns=int(start.value),
                worker=k,
                processes=spec.processes,
                skip=skip,
            )
    await monitor.stop()
    return reason, HealthParts(
        monitor.lags_ms,
        monitor.windows,
        monitor.cpu_percent_mean(),
        (monitor.t1_ns - monitor.t0_ns) / 1e9,
        monitor.t0_ns,
    )


def _worker_main(
    k: int,
    config: ClientConfig,
    spec: PhaseSpec,
    factory: RequestFactory,
    skip: frozenset[int],
    out_q: Any,
    stop_ev: Any,
    go: Any,
    start: Any,
    credit: Any,
) -> None:
    try:
        out = asyncio.run(
            _worker_async(k, config, spec, factory, skip, out_q, stop_ev, go, start, credit)
        )
        if out is not None:
            out_q.put(("health", k, out))
    except BaseException:
        out_q.put(("crash", k, traceback.format_exc()))
    finally:
        out_q.put(("done", k, None))


async def stream_processes(
    runner: PhaseHost, spec: PhaseSpec, factory: RequestFactory, skip: frozenset[int]
) -> AsyncIterator[RequestRecord]:
    ctx = mp.get_context("spawn")
    out_q = ctx.Queue()
    stop_ev, go = ctx.Event(), ctx.Event()
    start = ctx.Value("q", 0)
    # one credit per request sent and not yet consumed here (decoded, handed on): a parent
    # slower than the service holds the workers back instead of queueing without bound
    credit = ctx.Semaphore(shared.MAX_QUEUED + connections_needed(spec.arrival))
    n = spec.processes
    procs = [
        ctx.Process(
            target=_worker_main,
            name=f"tokencert-load-{k}",
            daemon=True,
            args=(k, runner.config, spec, factory, skip, out_q, stop_ev, go, start, credit),
        )
        for k in range(n)
    ]
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
    alive = threading.Event()
    alive.set()

    def pump() -> None:
        while alive.is_set():
            try:
                msg = out_q.get(timeout=0.2)
            except queue_mod.Empty:
                continue
            loop.call_soon_threadsafe(inbox.put_nowait, msg)

    errors = ErrorRate(spec)
    started = utc_now_iso()
    sched: list[float] = []
    parts: list[HealthParts] = []
    reasons: list[str] = []
    crashes: list[str] = []
    last_byte = last_sent = 0
    for p in procs:
        p.start()
    thread = threading.Thread(target=pump, name="tokencert-load-pump", daemon=True)
    thread.start()
    try:
        ready, deadline = 0, time.monotonic() + READY_TIMEOUT_S
        while ready < n:
            try:
                kind, k, payload = await asyncio.wait_for(inbox.get(), 1.0)
            except TimeoutError:
                if time.monotonic() > deadline or any(not p.is_alive() for p in procs):
                    raise RunError("load worker processes did not start") from None
                continue
            if kind == "ready":
                ready += 1
            elif kind == "crash":
                raise RunError(f"load worker {k} failed to start:\n{payload}")
        t0 = time.perf_counter_ns() + 20_000_000
        start.value = t0
        go.set()
        done = 0
        while done < n:
            kind, k, payload = await inbox.get()
            if kind == "rec":
                rec = unpack(payload)
                errors.add(rec)
                if errors.tripped:
                    stop_ev.set()
                if rec.sent_ns is not None:
                    sched.append(max(0, rec.sent_ns - rec.scheduled_ns) / 1e6)
                    last_sent = max(last_sent, rec.sent_ns)
                last_byte = max(last_byte, rec.last_byte_ns or 0)
                yield runner.decode(rec)
                credit.release()
            elif kind == "health":
                reasons.append(payload[0])
                parts.append(payload[1])
            elif kind == "crash":
                crashes.append(payload)
            elif kind == "done":
                done += 1
    finally:
        stop_ev.set()
        go.set()
        alive.clear()
        for p in procs:
            await asyncio.to_thread(p.join, 10)
            if p.is_alive():
                p.terminate()
        thread.join(2)
        out_q.close()
    if crashes:
        raise RunError("a load worker process crashed:\n" + crashes[0])
    reason = (
        "error_rate"
        if errors.tripped
        else next((r for r in reasons if r not in ("exhausted", "no_share")), "exhausted")
    )
    runner.result = PhaseResult(
        spec.name,
        errors.n,
        errors.errors,
        reason,
        started,
        t0,
        max(last_byte, t0),
        merge_health(parts, sched),
        last_sent,
        spec.stop.duration_s,
    )
