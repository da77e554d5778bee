"""Load phases on a Ray cluster: each Ray worker (an actor) runs the same async load engine.

Used only when a run is given ``--ray-address`` (``LoadRunner.stream``): Ray itself is
imported inside the functions that need it, so the default install and path never import
it. Worker ``k`` of ``n`` runs :func:`drive` with
``worker=k, processes=n`` — the one split of a phase's arrival schedule that worker
processes use too (its own arrival seed, its share of the rate or of the concurrency, its
own sequence numbers) — and the driver keeps the single evidence store.

Clocks. Per-request durations are differences of one node's ``perf_counter_ns`` readings and
stay node-local. Before a phase the driver measures each worker's clocks against its own
in several round trips and keeps the sample with the smallest round-trip time (RTT): the
node's wall-clock offset to the driver (its start instant is the driver's, shifted by that
offset) and its monotonic offset, with ± RTT/2 uncertainty, recorded in the evidence. Every
timestamp of a record is shifted by its node's monotonic offset on arrival, so durations are
unchanged and time windows across nodes (throughput, STAB-005 windows, burst timing) are on
the driver's one time base.

Records stream back in batches (``poll``, a long-poll actor method); with each batch comes
the worker's new event-loop lag samples and the requests it has in flight. A worker lost
mid-phase (its actor died) turns those in-flight requests into ``worker_lost`` records —
instrument errors, never counted against the service — and the phase finishes on the
remaining workers; the run is then marked incomplete.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import tempfile
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance._core.clock import utc_now_iso
from conformance._core.errors import InputError, RunError
from conformance.run.client import Client, ClientConfig
from conformance.run.load.drive import connections_needed, drive, share, useful_workers
from conformance.run.load.health import (
    ClientHealth,
    HealthParts,
    HealthWindow,
    LagMonitor,
    merge_health,
    merge_nodes,
    quiet_gc,
)
from conformance.run.load.result import ErrorRate, PhaseHost, PhaseResult
from conformance.run.load.spec import Distributed, PhaseSpec, RequestFactory
from conformance.run.load.workers import pack, unpack
from conformance.run.records import RequestRecord

READY_TIMEOUT_S = 120.0
CLOCK_ROUNDS = 9
POLL_WAIT_S = 0.1
MIN_BATCH_S = 0.05
START_MARGIN_NS = 300_000_000  # the start instant is this far ahead of the start calls
LOOPBACK = "127.0.0.1"
MIN_OBJECT_STORE_MB = 80  # Ray refuses less than ~75 MB


# -- the worker (a Ray actor) ------------------------------------------------------------
class LoadWorker:
    """One Ray load worker: its share of a phase in its own event loop."""

    def __init__(self, k: int, workers: int) -> None:
        self.k = k
        self.workers = workers
        self.buf: list[bytes] = []  # completed records, packed and pickled as they end
        self.last_poll = 0.0
        self.inflight: dict[int, int] = {}  # seq -> scheduled_ns (node clock)
        self.done = False
        self.stopping = False
        self.reason: str | None = None
        self.crash: str | None = None
        self.lag_i = 0
        self.win_i = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None
        self._monitor: LagMonitor | None = None
        self._spec: PhaseSpec | None = None
        self._factory: RequestFactory | None = None
        self._skip: frozenset[int] = frozenset()

    async def clock(self) -> tuple[int, int, str, int]:
        """(monotonic ns, wall-clock ns, node id, pid), read together."""
        import ray

        p, w = time.perf_counter_ns(), time.time_ns()
        return p, w, str(ray.get_runtime_context().get_node_id()), os.getpid()

    async def prepare(self, config: ClientConfig, spec: PhaseSpec, factory: RequestFactory,
                      skip: frozenset[int]) -> int:
        self._spec, self._factory, self._skip = spec, factory, skip
        self._wake = asyncio.Event()
        self._client = Client(config)
        return await self._client.prewarm(
            connections_needed(share(spec.arrival, self.k, self.workers)))

    async def start(self, start_wall_ns: int) -> int:
        """Start at ``start_wall_ns`` on this node's wall clock; returns the start instant
        on this node's monotonic clock."""
        assert self._spec is not None
        t0 = time.perf_counter_ns() + (start_wall_ns - time.time_ns())
        self._monitor = LagMonitor(self._spec.lag_tick_s, self._spec.health_window_s)
        self._task = asyncio.get_running_loop().create_task(self._run(t0))
        return t0

    async def _run(self, t0: int) -> None:
        spec, factory, client, monitor = self._spec, self._factory, self._client, self._monitor
        assert spec is not None and factory is not None and client is not None
        assert monitor is not None
        guard = quiet_gc()
        guard.__enter__()
        monitor.start()
        try:
            self.reason = await drive(
                client, spec, factory, emit=self._emit, should_stop=lambda: self.stopping,
                t0_ns=t0, worker=self.k, processes=self.workers, skip=self._skip,
                on_send=self._sent,
            )
        except BaseException:
            self.crash = traceback.format_exc()
        finally:
            await monitor.stop()
            await client.aclose()
            guard.__exit__(None, None, None)
            self.done = True
            self._signal()

    def _signal(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _sent(self, seq: int, sched: int) -> None:
        self.inflight[seq] = sched

    def _emit(self, rec: RequestRecord) -> None:
        self.inflight.pop(rec.seq, None)
        # pickled here, one record at a time between reads, as flat event lists: a batch
        # pickled at once when a poll returns would stall this loop for all of them
        self.buf.append(pickle.dumps(pack(rec), protocol=pickle.HIGHEST_PROTOCOL))
        self._signal()

    async def poll(self, wait_s: float) -> dict[str, Any]:
        """The records completed since the last poll (waits up to ``wait_s`` for one), the
        new lag samples and health windows, and what is in flight. Polls are at least
        ``MIN_BATCH_S`` apart, so the driver's calls cost this loop little."""
        gap = self.last_poll + MIN_BATCH_S - time.monotonic()
        if gap > 0 and not self.done:
            await asyncio.sleep(gap)
        if not self.buf and not self.done and self._wake is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)
        if self._wake is not None:
            self._wake.clear()
        recs, self.buf = self.buf, []
        self.last_poll = time.monotonic()
        m = self._monitor
        lags: list[float] = []
        windows: list[HealthWindow] = []
        if m is not None:
            lags = m.lags_ms[self.lag_i:]
            windows = m.windows[self.win_i:]
            self.lag_i += len(lags)
            self.win_i += len(windows)
        out: dict[str, Any] = {"records": recs, "inflight": sorted(self.inflight.items()),
                               "lags": lags, "windows": windows, "done": self.done}
        if self.done:
            out["reason"] = self.reason or "exhausted"
            out["crash"] = self.crash
            out["cpu_mean"] = m.cpu_percent_mean() if m is not None else 0.0
            out["duration_s"] = (m.t1_ns - m.t0_ns) / 1e9 if m is not None else 0.0
        return out

    async def stop(self) -> None:
        self.stopping = True

    async def pid(self) -> int:
        return os.getpid()


# -- the driver ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClockSync:
    """A node's clocks against the driver's, from the round trip with the smallest RTT."""

    worker: int
    node: str
    pid: int
    rtt_ns: int
    mono_offset_ns: int  # node perf_counter_ns − driver perf_counter_ns, same instant
    wall_offset_ns: int  # node time_ns − driver time_ns, same instant
    rounds: int

    @property
    def uncertainty_ns(self) -> int:
        return self.rtt_ns // 2

    def to_json(self) -> dict[str, Any]:
        return {"worker": self.worker, "node": self.node, "rtt_ns": self.rtt_ns,
                "mono_offset_ns": self.mono_offset_ns, "wall_offset_ns": self.wall_offset_ns,
                "uncertainty_ns": self.uncertainty_ns, "rounds": self.rounds}


async def clock_sync(actor: Any, k: int, rounds: int = CLOCK_ROUNDS) -> ClockSync:
    await actor.clock.remote()  # the first call waits for the actor to be placed
    best: ClockSync | None = None
    for _ in range(rounds):
        p0, w0 = time.perf_counter_ns(), time.time_ns()
        np_, nw, node, pid = await actor.clock.remote()
        p1, w1 = time.perf_counter_ns(), time.time_ns()
        s = ClockSync(k, node[:16], pid, p1 - p0, np_ - (p0 + p1) // 2, nw - (w0 + w1) // 2,
                      rounds)
        if best is None or s.rtt_ns < best.rtt_ns:
            best = s
    assert best is not None
    return best


def resolve_address(address: str) -> str:
    """``auto`` → the address of the cluster ``ray start`` runs on this machine
    (``RAY_ADDRESS``, else Ray's ``/tmp/ray/ray_current_cluster``); others unchanged."""
    if address != "auto":
        return address
    env = os.environ.get("RAY_ADDRESS")
    if env:
        return env
    f = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    try:
        return f.read_text(encoding="utf-8").strip() or address
    except OSError:
        return address


def is_loopback(address: str) -> bool:
    if address == "local":
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _auth_token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(path).is_file() if path else (Path.home() / ".ray" / "auth_token").is_file()


def connect(target: Distributed) -> None:
    """Join the Ray cluster (once per process). A loopback cluster is joined, and a
    ``local`` one started, bound to 127.0.0.1 only."""
    address = resolve_address(target.address)
    loopback = is_loopback(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if loopback:
        # read by Ray at import: otherwise it swaps 127.0.0.1 for a routable address
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if target.address != "local" and _auth_token_available():
        # `ray start --head` (Ray >= 2.5x) requires its token; a cluster without auth
        # accepts a client that sends one
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray

    if ray.is_initialized():
        return
    kw: dict[str, Any] = {"namespace": "tokencert", "log_to_driver": False,
                          "include_dashboard": False}
    if loopback:
        kw["_node_ip_address"] = LOOPBACK
    if target.address == "local":
        kw["num_cpus"] = max(2, target.workers or 2)
        kw["object_store_memory"] = max(MIN_OBJECT_STORE_MB, target.object_store_mb) * 2**20
    else:
        kw["address"] = address
        kw.pop("include_dashboard")
    try:
        ray.init(**kw)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot join the Ray cluster at {target.address!r}: {exc}") from None


def worker_count(spec: PhaseSpec, target: Distributed) -> int:
    """Ray load workers for ``spec``: as asked (default one per node), never fewer than the
    planned worker processes, never more than the arrival can give a share to."""
    import ray

    asked = target.workers
    if asked is None:
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]  # Ray: untyped
        asked = max(1, len([x for x in nodes if x.get("Alive")]))
    return useful_workers(spec.arrival, max(asked, spec.processes, 1))


def _shift(rec: RequestRecord, d: int) -> None:
    """Move a node's timestamps onto the driver's monotonic clock (durations unchanged)."""
    rec.scheduled_ns -= d
    for f in ("sent_ns", "headers_ns", "first_byte_ns", "first_token_ns", "first_reasoning_ns",
              "last_byte_ns"):
        v = getattr(rec, f)
        if v is not None:
            setattr(rec, f, v - d)
    for e in rec.events:
        e.t_ns -= d
    rec.content_chunks = [(t - d, s, n) for t, s, n in rec.content_chunks]


def lost_record(spec: PhaseSpec, k: int, seq: int, sched_ns: int, why: str) -> RequestRecord:
    return RequestRecord(
        request_id=f"{spec.name}-{seq}", phase=spec.name, seq=seq, worker=k,
        scheduled_ns=sched_ns, started_utc=utc_now_iso(), error="worker_lost",
        error_detail=f"load worker {k} was lost mid-request ({why[:200]}); the instrument "
        "failed, the service's answer is unknown",
    )


async def stream_ray(runner: PhaseHost, spec: PhaseSpec, factory: RequestFactory,
                     skip: frozenset[int], target: Distributed) -> AsyncIterator[RequestRecord]:
    target.validate()
    connect(target)
    import ray

    n = worker_count(spec, target)
    remote: Any = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(LoadWorker)
    tag = uuid.uuid4().hex[:8]
    actors: list[Any] = [
        remote.options(name=f"tokencert-load-{spec.name}-{tag}-{k}",
                       scheduling_strategy="SPREAD").remote(k, n) for k in range(n)]
    errors = ErrorRate(spec)
    started = utc_now_iso()
    inbox: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
    pollers: list[asyncio.Task[None]] = []
    sched: dict[int, list[float]] = {k: [] for k in range(n)}
    parts = {k: HealthParts() for k in range(n)}
    inflight: dict[int, list[tuple[int, int]]] = {k: [] for k in range(n)}
    reasons: list[str] = []
    crashes: list[str] = []
    lost: list[int] = []
    last_byte = last_sent = 0

    async def poller(k: int, actor: Any) -> None:
        while True:
            try:
                batch = await actor.poll.remote(POLL_WAIT_S)
            except ray.exceptions.RayActorError as exc:
                await inbox.put(("lost", k, f"{type(exc).__name__}"))
                return
            except ray.exceptions.RayError as exc:
                await inbox.put(("crash", k, str(exc)))
                return
            await inbox.put(("batch", k, batch))
            if batch["done"]:
                return

    try:
        try:
            syncs = await asyncio.wait_for(
                asyncio.gather(*(clock_sync(a, k) for k, a in enumerate(actors))),
                READY_TIMEOUT_S)
            await asyncio.wait_for(
                asyncio.gather(*(a.prepare.remote(runner.config, spec, factory, skip)
                                 for a in actors)), READY_TIMEOUT_S)
        except TimeoutError:
            raise RunError(f"the Ray cluster did not start {n} load workers (1 CPU each) "
                           f"within {READY_TIMEOUT_S:.0f} s") from None
        except ray.exceptions.RayError as exc:
            raise RunError(f"a Ray load worker failed to start: {exc}") from None
        start_wall = time.time_ns() + START_MARGIN_NS
        t0 = time.perf_counter_ns() + (start_wall - time.time_ns())
        await asyncio.gather(*(a.start.remote(start_wall + s.wall_offset_ns)
                               for a, s in zip(actors, syncs, strict=True)))
        pollers = [asyncio.create_task(poller(k, a)) for k, a in enumerate(actors)]
        done = 0
        while done < n:
            kind, k, payload = await inbox.get()
            if kind == "batch":
                inflight[k] = list(payload["inflight"])
                parts[k].lags_ms.extend(payload["lags"])
                parts[k].windows.extend(payload["windows"])
                d = syncs[k].mono_offset_ns
                for blob in payload["records"]:
                    rec = unpack(pickle.loads(blob))
                    _shift(rec, d)
                    errors.add(rec)
                    if rec.sent_ns is not None:
                        sched[k].append(max(0, rec.sent_ns - rec.scheduled_ns) / 1e6)
                        last_sent = max(last_sent, rec.sent_ns)
                    last_byte = max(last_byte, rec.last_byte_ns or 0)
                    yield runner.decode(rec)
                    await asyncio.sleep(0)
                if errors.tripped:
                    for a in actors:
                        a.stop.remote()
                if payload["done"]:
                    done += 1
                    reasons.append(payload["reason"])
                    parts[k].cpu_percent_mean = float(payload["cpu_mean"])
                    parts[k].duration_s = float(payload["duration_s"])
                    if payload["crash"]:
                        crashes.append(payload["crash"])
            elif kind == "lost":
                done += 1
                lost.append(k)
                d = syncs[k].mono_offset_ns
                for seq, s_ns in inflight[k]:
                    yield runner.decode(lost_record(spec, k, seq, s_ns - d, payload))
                inflight[k] = []
                w = parts[k].windows
                parts[k].duration_s = (w[-1].t_s + spec.health_window_s) if w else 0.0
                parts[k].cpu_percent_mean = max((x.cpu_percent for x in w), default=0.0)
            elif kind == "crash":
                done += 1
                crashes.append(payload)
    finally:
        for t in pollers:
            t.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
        for a in actors:
            with contextlib.suppress(Exception):
                ray.kill(a, no_restart=True)
    if crashes:
        raise RunError("a Ray load worker crashed:\n" + crashes[0])
    node_health: list[tuple[str, ClientHealth]] = [
        (f"ray worker {k}", merge_health([parts[k]], sched[k])) for k in range(n)]
    reason = (
        "error_rate" if errors.tripped
        else "worker_lost" if lost
        else next((r for r in reasons if r not in ("exhausted", "no_share")), "exhausted")
    )
    runner.result = PhaseResult(
        spec.name, errors.n, errors.errors, reason, started, t0, max(last_byte, t0),
        merge_nodes(node_health), last_sent, spec.stop.duration_s,
        nodes=tuple({**s.to_json(), "lost": s.worker in lost,
                     "health": {"loop_lag_ms": _summary(h), "cpu_percent_max": h.cpu_percent_max,
                                "reasons": list(h.reasons)}}
                    for s, (_, h) in zip(syncs, node_health, strict=True)),
        lost_workers=tuple(sorted(lost)),
    )


def _summary(h: ClientHealth) -> dict[str, float]:
    s = h.loop_lag_ms
    return {"n": s.n, "p50": s.p50, "p99": s.p99, "p995": s.p995, "max": s.max}
