"""Run a load phase into the evidence store, resuming from what is already on disk.

A phase is written as one or more *segments* (``phase_start`` lines): a fresh run has one;
a run killed mid-phase and resumed adds another that skips every sequence number already
recorded and, for a duration-bounded phase, runs only the time still missing. The
``phase_end`` line carries the measured duration (sum of the segments' measured spans)
and the client's health, and marks the phase complete: a later resume does not rerun it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from conformance._core.clock import utc_now_iso
from conformance.run.evidence.reader import PhaseEvidence
from conformance.run.evidence.store import EvidenceStore
from conformance.run.load import LoadRunner, PhaseSpec, RequestFactory, StopConditions
from conformance.run.records import RequestRecord

OnProgress = Callable[[RequestRecord], None]
# records decoded but not yet written: beyond this the consumer waits for the writer (and
# the runner, in turn, holds back new sends), so memory stays flat however long the phase
MAX_PENDING_WRITES = 256


@dataclass(frozen=True)
class PhaseOutcome:
    name: str
    duration_s: float  # measured load time over all segments
    health: dict[str, Any]  # ClientHealth.to_json() of the last segment (worst merged)
    stop_reason: str
    resumed: bool
    lost_workers: tuple[int, ...] = ()  # distributed: load workers lost mid-phase


def _segment_span_s(seg: dict[str, Any], ph: PhaseEvidence) -> float:
    """Measured span of a segment: its recorded end, or its last recorded byte."""
    t0 = int(seg.get("t0_ns", 0))
    k = int(seg.get("segment", 0))
    ends = [
        int(line["record"].get("last_byte_ns") or line["record"].get("sent_ns") or 0)
        for line in ph.requests.values()
        if int(line.get("segment", -1)) == k
    ]
    return max(0.0, (max(ends, default=t0) - t0) / 1e9)


def _worse(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The health of two segments combined conservatively (the worse figures)."""
    if not a:
        return b
    out = dict(b)
    out["reasons"] = list(dict.fromkeys([*a.get("reasons", []), *b.get("reasons", [])]))
    for k in ("schedule_delay_ms", "loop_lag_ms"):
        x, y = a.get(k, {}), b.get(k, {})
        out[k] = {f: max(x.get(f, 0), y.get(f, 0)) for f in set(x) | set(y)}
    out["cpu_percent_max"] = max(a.get("cpu_percent_max", 0), b.get("cpu_percent_max", 0))
    # windows of several segments have several origins: no sample can be placed in one
    # (the verdict falls back to the phase-wide lag rule)
    out["t0_ns"] = 0
    return out


def _unanswered_tail(ph: PhaseEvidence) -> list[str]:
    """Ids of the records that end the last (interrupted) segment without a connection to
    the service (error class ``connect``), in file order."""
    if not ph.segments:
        return []
    last = int(ph.segments[-1].get("segment", 0))
    tail: list[str] = []
    for rid, line in ph.requests.items():
        if int(line.get("segment", -1)) != last:
            continue
        if line.get("record", {}).get("error") == "connect":
            tail.append(rid)
        else:
            tail = []
    return tail


async def run_phase(
    runner: LoadRunner,
    spec: PhaseSpec,
    factory: RequestFactory,
    store: EvidenceStore,
    existing: PhaseEvidence,
    on_record: OnProgress | None = None,
) -> PhaseOutcome:
    """Run ``spec`` (or what remains of it) and persist every record as it completes."""
    if existing.end is not None:
        e = existing.end
        return PhaseOutcome(
            spec.name,
            float(e["duration_s"]),
            dict(e.get("health", {})),
            str(e.get("stop_reason", "")),
            True,
            tuple(int(k) for k in e.get("load", {}).get("lost_workers", [])),
        )
    lost = _unanswered_tail(existing)
    if lost:
        # the interrupted segment ended in requests that never reached the service (no
        # connection: it had gone away, or the network had): marked superseded and sent
        # again. Requests it accepted and then failed stay: they are its failures
        store.append(f"phases/{spec.name}", "superseded",
                     f"phase:{spec.name}:superseded:{len(existing.segments)}",
                     {"phase": spec.name, "ids": lost, "reason": "no answer at the end of an "
                      "interrupted segment; sent again on resume"})
        for rid in lost:
            existing.requests.pop(rid, None)
    done = existing.seqs()
    prior_s = sum(_segment_span_s(s, existing) for s in existing.segments)
    stop = spec.stop
    if stop.duration_s is not None and existing.segments:
        stop = dataclasses.replace(stop, duration_s=max(0.0, stop.duration_s - prior_s))
    if stop.max_requests is not None:
        remaining = stop.max_requests - len([s for s in done if s < stop.max_requests])
        if remaining <= 0 and stop.duration_s is None:
            stop = StopConditions(max_requests=stop.max_requests, duration_s=0.0)
    seg = len(existing.segments)
    t0 = time.perf_counter_ns()
    store.append(
        f"phases/{spec.name}",
        "phase_start",
        f"phase:{spec.name}:start:{seg}",
        {
            "phase": spec.name,
            "segment": seg,
            "t0_ns": t0,
            "started_utc": utc_now_iso(),
            "skip": len(done),
            "prior_duration_s": prior_s,
            "planned": {"max_requests": stop.max_requests, "duration_s": stop.duration_s},
        },
    )
    store.checkpoint()
    seg_spec = dataclasses.replace(spec, stop=stop)
    last = t0
    if stop.duration_s is not None and stop.duration_s <= 0:
        reason = "duration"
        health: dict[str, Any] = {}
        load: dict[str, Any] = {}
    else:
        # evidence is written by one thread beside the event loop: serialising, hashing and
        # fsync never delay the reads of the streams still in flight
        with ThreadPoolExecutor(1, thread_name_prefix="evidence") as writer:
            pending: deque[Future[None]] = deque()
            async for rec in runner.stream(seg_spec, factory, skip_seqs=done):
                # the segment tag lets a resume measure how long this segment lasted
                pending.append(writer.submit(store.request, rec, segment=seg))
                while pending and pending[0].done():
                    pending.popleft().result()
                while len(pending) > MAX_PENDING_WRITES:  # the disk is slower: wait for it
                    await asyncio.wrap_future(pending.popleft())
                last = max(last, rec.last_byte_ns or rec.sent_ns or last)
                if on_record is not None:
                    on_record(rec)
            for fut in pending:
                fut.result()  # a write error ends the phase: the evidence would be wrong
        assert runner.result is not None
        reason = runner.result.stop_reason
        health = runner.result.health.to_json()
        last = max(last, runner.result.t1_ns)
        load = {}
        if runner.result.nodes:  # distributed: each node's clock offset, health, losses
            load = {"backend": "ray", "nodes": list(runner.result.nodes),
                    "lost_workers": list(runner.result.lost_workers)}
    span = (last - t0) / 1e9
    for s in existing.segments:
        health = _worse(dict(s.get("health", {})), health)
    total = prior_s + span
    store.append(
        f"phases/{spec.name}",
        "phase_end",
        f"phase:{spec.name}:end",
        {
            "phase": spec.name,
            "segments": seg + 1,
            "duration_s": total,
            "stop_reason": reason,
            "health": health,
            "finished_utc": utc_now_iso(),
            **({"load": load} if load else {}),
        },
    )
    store.checkpoint()
    return PhaseOutcome(spec.name, total, health, reason, bool(existing.segments),
                        tuple(load.get("lost_workers", ())))
