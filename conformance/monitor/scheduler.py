"""When rounds are due, and the long-running prober (APScheduler 3 cron/interval triggers).

A *slot* is a schedule's fire time; a round is (campaign, prober, target, workload,
scenario, slot). The scheduler only wakes the prober; which rounds run is decided against
the store: a slot whose round row exists is never run again (no duplicates, also with two
prober processes of the same name), the latest slot missed while the prober was down is
run on restart, older missed slots are recorded as ``missed`` (nothing silently lost), and a
round left ``running`` by a crashed prober is re-run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance.monitor.campaign import Campaign, Schedule, Workload, cron_trigger
from conformance.monitor.prober import Prober, RoundOutcome
from conformance.monitor.store import utc_naive

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_MISSED = 1000  # older missed slots than this many are not listed one by one
Say = Callable[[str], None]


def trigger(schedule: Schedule) -> Any:
    from apscheduler.triggers.interval import IntervalTrigger

    if schedule.cron:
        return cron_trigger(schedule.cron)
    assert schedule.every_s is not None
    return IntervalTrigger(seconds=schedule.every_s, start_date=EPOCH, timezone="UTC")


def latest_slot(schedule: Schedule, now: datetime) -> datetime:
    """The newest fire time at or before ``now`` (UTC, aware)."""
    now = now.astimezone(UTC)
    if schedule.every_s is not None:
        n = int((now - EPOCH).total_seconds() // schedule.every_s)
        return EPOCH + timedelta(seconds=n * schedule.every_s)
    trig = trigger(schedule)
    for back in (timedelta(hours=2), timedelta(days=2), timedelta(days=9),
                 timedelta(days=40), timedelta(days=400)):
        fire = trig.get_next_fire_time(None, now - back)
        last = None
        while fire is not None and fire <= now:
            last = fire
            fire = trig.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if last is not None:
            fired: datetime = last.astimezone(UTC)  # APScheduler's triggers are unannotated
            return fired
    raise ValueError(f"schedule {schedule.describe()} never fired in the last 400 days")


def slots_between(schedule: Schedule, after: datetime, upto: datetime) -> list[datetime]:
    """Fire times in (after, upto), oldest first, at most MAX_MISSED (the newest ones)."""
    after, upto = after.astimezone(UTC), upto.astimezone(UTC)
    if schedule.every_s is not None:
        step = timedelta(seconds=schedule.every_s)
        out: list[datetime] = []
        s = upto - step
        while s > after and len(out) < MAX_MISSED:
            out.append(s)
            s -= step
        return out[::-1]
    trig = trigger(schedule)
    found: list[datetime] = []
    fire = trig.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire < upto:
        found.append(fire.astimezone(UTC))
        fire = trig.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return found[-MAX_MISSED:]


def _aware(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d


class Runner:
    """Decides and runs due rounds of one prober."""

    def __init__(self, prober: Prober, say: Say = lambda _m: None) -> None:
        self.prober = prober
        self.say = say

    @property
    def campaign(self) -> Campaign:
        return self.prober.campaign

    def recover(self, now: datetime | None = None) -> list[RoundOutcome]:
        """Re-run rounds this prober left ``running`` (it crashed mid-round)."""
        c, store = self.campaign, self.prober.store
        now = now or datetime.now(UTC)
        grace = timedelta(seconds=2 * c.request_timeout_s + 60)
        out = []
        for rid in store.stale_rounds(c.name, c.prober, utc_naive(now - grace)):
            if store.reclaim(rid, utc_naive(now)):
                key = store.round_key(rid)
                self.say(f"re-running round {rid} ({key.target}/{key.workload}/"
                         f"{key.scenario} {key.slot.isoformat()}Z) left by a crash")
                out.append(asyncio.run(self.prober.run_round(key, rid)))
        return out

    def run_due(self, now: datetime | None = None,
                workloads: Iterable[Workload] | None = None) -> list[RoundOutcome]:
        """Every round due at ``now``: the latest slot of each workload's schedule."""
        c = self.campaign
        now = now or datetime.now(UTC)
        wls = list(workloads) if workloads is not None else list(c.workloads)
        return asyncio.run(self._due(now, wls))

    async def _due(self, now: datetime, wls: list[Workload]) -> list[RoundOutcome]:
        c, store = self.campaign, self.prober.store

        async def target_rounds(target: str) -> list[RoundOutcome]:
            res = []  # one target's rounds one after another: its load stays as declared
            for w in wls:
                slot = latest_slot(w.schedule, now)
                for s in c.scenarios:
                    last = store.last_slot(c.name, c.prober, target, w.name, s.name)
                    if last is not None:
                        for missed in slots_between(w.schedule, _aware(last), slot):
                            store.record_missed(self.prober.key(target, w.name, s.name,
                                                                missed), c.region,
                                                utc_naive(now), "prober not running")
                    r = await self.prober.run_round(self.prober.key(target, w.name, s.name,
                                                                    slot))
                    if r.status != "skipped":
                        self.say(f"{slot.isoformat()} {target}/{w.name}/{s.name}: "
                                 f"{r.status}, {r.ok}/{r.n} ok")
                    res.append(r)
            return res

        groups = await asyncio.gather(*(target_rounds(t.name) for t in c.targets))
        return [r for g in groups for r in g]


def run_forever(runner: Runner, stop: threading.Event, *, max_seconds: float | None = None,
                until: Callable[[], bool] | None = None) -> None:
    """Run rounds on schedule until ``stop`` is set, ``max_seconds`` passed, or ``until()``
    (polled) says enough."""
    import logging
    import time

    from apscheduler.schedulers.background import BackgroundScheduler

    c = runner.campaign
    runner.recover()
    runner.run_due()  # catch up the latest slot missed while not running
    sched = BackgroundScheduler(timezone="UTC")
    by_schedule: dict[Schedule, list[Workload]] = {}
    for w in c.workloads:
        by_schedule.setdefault(w.schedule, []).append(w)
    for i, (schedule, wls) in enumerate(by_schedule.items()):
        sched.add_job(runner.run_due, trigger(schedule), kwargs={"workloads": wls},
                      id=f"{c.name}-{c.prober}-{i}", coalesce=True, max_instances=1,
                      misfire_grace_time=None)
        runner.say(f"scheduled {', '.join(w.name for w in wls)}: {schedule.describe()}")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # coalesced wake-ups: normal
    sched.start()
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if until is not None and until():
                break
            stop.wait(timeout=0.25 if until is not None else left)
    finally:
        sched.shutdown(wait=True)
