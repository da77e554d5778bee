"""The scheduling loop of one event loop (the parent's, or one worker process's).

Only the timing-critical work happens here: wait for the scheduled instant, send, hand the
raw record to ``emit``. The request for the next arrival is built while waiting for it, so
prompt generation never delays a send in open-loop phases.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Iterator

from conformance.run.client import ChatParams, Client
from conformance.run.load.spec import (
    Arrival,
    Burst,
    Concurrency,
    ConstantRate,
    PhaseSpec,
    Poisson,
    RequestFactory,
    Sequential,
    request_rng,
    worker_seed,
)
from conformance.run.records import RequestRecord

Emit = Callable[[RequestRecord], None]
OnSend = Callable[[int, int], None]  # (seq, scheduled_ns), just before a request is sent
ShouldStop = Callable[[], bool]


def share(arrival: Arrival, worker: int, processes: int) -> Arrival | None:
    """This worker's part of the phase's load (None: nothing for it to do)."""
    p = max(1, processes)

    def part(n: int) -> int:
        return n // p + (1 if worker < n % p else 0)

    if isinstance(arrival, Sequential):
        return arrival if worker == 0 else None
    if isinstance(arrival, Concurrency):
        n = part(arrival.n)
        return Concurrency(n) if n else None
    if isinstance(arrival, ConstantRate | Poisson):
        cap = arrival.max_in_flight
        cap = None if cap is None else max(1, part(cap))
        return type(arrival)(arrival.rate / p, cap)
    size = part(arrival.size)
    return Burst(size, arrival.bursts, arrival.interval_s) if size else None


def useful_workers(arrival: Arrival, workers: int) -> int:
    """How many of ``workers`` event loops (processes or Ray workers) get a share of
    ``arrival``: a sequential phase has one; a closed loop or burst, at most one per stream."""
    w = max(1, workers)
    if isinstance(arrival, Sequential):
        return 1
    if isinstance(arrival, Concurrency):
        return min(w, arrival.n)
    if isinstance(arrival, Burst):
        return min(w, arrival.size)
    if arrival.max_in_flight:
        return min(w, arrival.max_in_flight)
    return w


def connections_needed(arrival: Arrival | None) -> int:
    """How many connections this share will hold open at once, where that is known."""
    if isinstance(arrival, Sequential):
        return 1
    if isinstance(arrival, Concurrency):
        return arrival.n
    if isinstance(arrival, Burst):
        return arrival.size
    if isinstance(arrival, ConstantRate | Poisson) and arrival.max_in_flight:
        return arrival.max_in_flight
    return 0


def sequence_numbers(
    spec: PhaseSpec, worker: int, processes: int, skip: frozenset[int]
) -> Iterator[int]:
    """Worker ``k`` of ``P`` owns seqs k, k+P, k+2P, ... below ``max_requests``."""
    p = max(1, processes)
    limit = spec.stop.max_requests
    if isinstance(spec.arrival, Burst):
        total = spec.arrival.size * spec.arrival.bursts
        limit = total if limit is None else min(limit, total)
    rng: Iterator[int] = (
        iter(range(worker, limit, p)) if limit is not None else itertools.count(worker, p)
    )
    return (s for s in rng if s not in skip)


def offsets_ns(arrival: Arrival, spec: PhaseSpec, worker: int, processes: int) -> Iterator[int]:
    """Scheduled send instants of open-loop arrivals, in ns after the phase start."""
    p = max(1, processes)
    if isinstance(arrival, ConstantRate):
        total = arrival.rate * p
        return (int((i * p + worker) / total * 1e9) for i in itertools.count())
    if isinstance(arrival, Poisson):
        rng = random.Random(worker_seed(spec.seed, worker))
        rate = arrival.rate

        def poisson() -> Iterator[int]:
            t = 0.0
            while True:
                t += rng.expovariate(rate)
                yield int(t * 1e9)

        return poisson()
    if isinstance(arrival, Burst):
        a = arrival
        return (int(b * a.interval_s * 1e9) for b in range(a.bursts) for _ in range(a.size))
    raise TypeError(f"not an open-loop arrival: {arrival!r}")


async def drive(
    client: Client,
    spec: PhaseSpec,
    factory: RequestFactory,
    *,
    emit: Emit,
    should_stop: ShouldStop,
    t0_ns: int,
    worker: int = 0,
    processes: int = 0,
    skip: frozenset[int] = frozenset(),
    on_send: OnSend | None = None,
) -> str:
    """Run this loop's share of ``spec``; returns why it stopped."""
    arrival = share(spec.arrival, worker, processes)
    if arrival is None:
        return "no_share"
    seqs = sequence_numbers(spec, worker, processes, skip)
    deadline = None if spec.stop.duration_s is None else t0_ns + int(spec.stop.duration_s * 1e9)
    clock = time.perf_counter_ns
    reason = ["exhausted"]

    def build(seq: int) -> ChatParams:
        return factory(seq, request_rng(spec.seed, seq))

    async def send(seq: int, params: ChatParams, sched: int) -> None:
        if on_send is not None:
            on_send(seq, sched)
        rec = await client.chat(
            params,
            request_id=f"{spec.name}-{seq}",
            phase=spec.name,
            seq=seq,
            worker=worker,
            scheduled_ns=sched,
            decode=False,
        )
        emit(rec)

    await _sleep_until(t0_ns)
    if isinstance(arrival, Sequential | Concurrency):
        n = 1 if isinstance(arrival, Sequential) else arrival.n

        async def slot() -> None:
            while True:
                if should_stop():
                    reason[0] = "stopped"
                    return
                seq = next(seqs, None)
                if seq is None:
                    return
                params = build(seq)
                now = clock()
                if deadline is not None and now >= deadline:
                    reason[0] = "duration"
                    return
                await send(seq, params, now)

        await asyncio.gather(*(slot() for _ in range(n)))
        return reason[0]

    cap = getattr(arrival, "max_in_flight", None)
    sem = asyncio.Semaphore(cap) if cap else None
    tasks: set[asyncio.Task[None]] = set()

    async def limited(seq: int, params: ChatParams, sched: int) -> None:
        assert sem is not None
        async with sem:
            await send(seq, params, sched)

    for off in offsets_ns(arrival, spec, worker, processes):
        t = t0_ns + off
        if deadline is not None and t >= deadline:
            reason[0] = "duration"
            break
        seq = next(seqs, None)
        if seq is None:
            break
        params = build(seq)
        await _sleep_until(t)
        if should_stop():
            reason[0] = "stopped"
            break
        coro = limited(seq, params, t) if sem else send(seq, params, t)
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return reason[0]


async def _sleep_until(t_ns: int) -> None:
    delay = (t_ns - time.perf_counter_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)
