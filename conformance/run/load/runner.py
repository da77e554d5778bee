"""Run a load phase and receive its records as they complete.

``async for rec in runner.stream(spec, factory)`` yields decoded records one by one (the
evidence recorder persists each as it arrives); ``await runner.run(spec, factory, on_record)``
does the same with a callback. After either, ``runner.result`` holds the :class:`PhaseResult`
with the phase's :class:`ClientHealth`.

With ``spec.processes == 0`` the requests run in the caller's event loop and records are
decoded there, between reads. With ``processes = n`` they run in ``n`` spawned worker
processes that only take timestamps and keep raw bytes; records come back over a queue
and are decoded here, in the parent, off every worker's hot path.
"""

from __future__ import annotations

import array
import asyncio
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpx

from conformance._core.clock import utc_now_iso
from conformance._core.redact import Redactor
from conformance.run.client import Client, ClientConfig, CountTokens, Dialect
from conformance.run.client.config import decode_record, make_dialect
from conformance.run.load import result as shared
from conformance.run.load.drive import connections_needed, drive, share
from conformance.run.load.health import (
    HealthParts,
    LagMonitor,
    merge_health,
    quiet_gc,
)
from conformance.run.load.ray_backend import stream_ray
from conformance.run.load.result import ErrorRate, PhaseResult
from conformance.run.load.spec import Distributed, PhaseSpec, RequestFactory
from conformance.run.load.workers import stream_processes
from conformance.run.records import RequestRecord

OnRecord = Callable[[RequestRecord], Awaitable[None] | None]


class _HeldClient(Client):
    """The runner's client: a new request waits while ``room`` is clear."""

    def __init__(self, room: asyncio.Event, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._room = room

    async def chat(self, *args: Any, **kwargs: Any) -> RequestRecord:
        if not self._room.is_set():
            await self._room.wait()
        return await super().chat(*args, **kwargs)


class LoadRunner:
    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        dialect: Dialect | None = None,
        redactor: Redactor | None = None,
        count_tokens: CountTokens | None = None,
        distributed: Distributed | None = None,
    ) -> None:
        self.config = config
        self.distributed = distributed
        self.transport = transport
        self.dialect = dialect or make_dialect(config.dialect)
        self.redactor = redactor or Redactor()
        if config.api_key:
            self.redactor.add(config.api_key)
        # a stream's chunks are mostly short texts seen many times (words, punctuation):
        # count each once (bounded, so memory stays flat however long the run)
        self.count_tokens = (
            functools.lru_cache(maxsize=1 << 16)(count_tokens) if count_tokens else None
        )
        self.result: PhaseResult | None = None

    def decode(self, rec: RequestRecord) -> RequestRecord:
        return decode_record(rec, self.dialect, self.count_tokens, self.redactor)

    async def run(
        self,
        spec: PhaseSpec,
        factory: RequestFactory,
        on_record: OnRecord | None = None,
        *,
        skip_seqs: Iterable[int] = (),
    ) -> PhaseResult:
        async for rec in self.stream(spec, factory, skip_seqs=skip_seqs):
            if on_record is not None:
                out = on_record(rec)
                if inspect.isawaitable(out):
                    await out
        assert self.result is not None
        return self.result

    async def stream(
        self, spec: PhaseSpec, factory: RequestFactory, *, skip_seqs: Iterable[int] = ()
    ) -> AsyncIterator[RequestRecord]:
        """Records of the phase, decoded, in completion order. ``skip_seqs`` are sequence
        numbers already on disk (``--resume``): they are not sent again."""
        spec.validate()
        skip = frozenset(skip_seqs)
        if self.distributed is not None:
            gen = stream_ray(self, spec, factory, skip, self.distributed)
        elif spec.processes > 0:
            gen = stream_processes(self, spec, factory, skip)
        else:
            gen = self._stream_inproc(spec, factory, skip)
        async for rec in gen:
            yield rec

    async def _stream_inproc(
        self, spec: PhaseSpec, factory: RequestFactory, skip: frozenset[int]
    ) -> AsyncIterator[RequestRecord]:
        queue: asyncio.Queue[RequestRecord | None] = asyncio.Queue()
        errors = ErrorRate(spec)
        started = utc_now_iso()
        monitor = LagMonitor(spec.lag_tick_s, spec.health_window_s)
        sched = array.array("d")  # 8 bytes a request, not a float object each
        last = [0, 0]
        # Back-pressure: completed records wait here for the consumer (decoding, evidence);
        # past shared.MAX_QUEUED no new request is sent until it has caught up, so a consumer
        # slower than the service bounds memory instead of growing it (a held-back send
        # of an open-loop phase shows as schedule delay, as it should).
        room = asyncio.Event()
        room.set()

        def emit(rec: RequestRecord) -> None:
            errors.add(rec)
            if rec.sent_ns is not None:
                sched.append(max(0, rec.sent_ns - rec.scheduled_ns) / 1e6)
                last[1] = max(last[1], rec.sent_ns)
            last[0] = max(last[0], rec.last_byte_ns or time.perf_counter_ns())
            queue.put_nowait(rec)
            if queue.qsize() >= shared.MAX_QUEUED:
                room.clear()

        client = _HeldClient(
            room,
            self.config,
            transport=self.transport,
            dialect=self.dialect,
            redactor=self.redactor,
        )
        await client.prewarm(connections_needed(share(spec.arrival, 0, 0)))
        gc_guard = quiet_gc()
        gc_guard.__enter__()
        t0 = time.perf_counter_ns() + 1_000_000
        monitor.start()
        task = asyncio.create_task(
            drive(
                client,
                spec,
                factory,
                emit=emit,
                should_stop=lambda: errors.tripped,
                t0_ns=t0,
                skip=skip,
            )
        )
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (rec := await queue.get()) is not None:
                if not room.is_set() and queue.qsize() <= shared.MAX_QUEUED // 2:
                    room.set()
                yield self.decode(rec)
                # Requests of a closed-loop phase end in waves; decoding (and the consumer's
                # writing) a whole wave back to back would hold the loop for the wave's
                # duration, so reads get a turn after every record.
                await asyncio.sleep(0)
            reason = task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await monitor.stop()
            await client.aclose()
            gc_guard.__exit__(None, None, None)
        parts = HealthParts(
            monitor.lags_ms,
            monitor.windows,
            monitor.cpu_percent_mean(),
            (monitor.t1_ns - monitor.t0_ns) / 1e9,
            monitor.t0_ns,
        )
        self.result = PhaseResult(
            spec.name,
            errors.n,
            errors.errors,
            "error_rate" if errors.tripped else reason,
            started,
            t0,
            max(last[0], t0),
            merge_health([parts], sched),
            last[1],
            spec.stop.duration_s,
        )
