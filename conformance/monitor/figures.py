"""Figures per target and window, and the ranking with shared ranks.

Medians and p90 carry distribution-free two-sided confidence intervals from order
statistics, availability and metering honesty exact Clopper–Pearson intervals
(``conformance.stats``). A ranking orders targets by the median of the rank metric; a
target whose interval overlaps the one ranked just above it shares that rank (ties are
shown, not hidden); a target whose interval cannot be computed (too few probes) is listed
unranked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from conformance.monitor import tables as t
from conformance.monitor.store import Store
from conformance.stats import clopper_pearson, quantile, quantile_bounds

INSTRUMENT = frozenset({"client_error", "worker_lost"})
METRICS = {"output_tps": True, "ttft_ms": False, "e2e_ms": False}  # name → higher is better
_COLS = ("target", "workload", "scenario", "prober", "ok", "error_class", "ttft_ms", "e2e_ms",
         "output_tps", "prompt_tokens_reported", "prompt_tokens_audited",
         "completion_tokens_reported", "completion_tokens_audited", "cost")


@dataclass(frozen=True)
class Interval:
    point: float | None
    lower: float | None
    upper: float | None
    n: int

    def overlaps(self, other: Interval) -> bool:
        if None in (self.lower, self.upper, other.lower, other.upper):
            return False
        assert self.lower is not None and self.upper is not None
        assert other.lower is not None and other.upper is not None
        return self.lower <= other.upper and other.lower <= self.upper


@dataclass(frozen=True)
class TargetFigures:
    target: str
    workload: str
    scenario: str
    n: int
    median: dict[str, Interval]
    p90: dict[str, Interval]
    availability: Interval
    honesty: Interval  # share of probes whose reported prompt tokens equal the audit
    billed_tokens: int
    audited_tokens: int
    metering: str  # exact | over-bills | under-bills | unknown
    effective_price_per_m: float | None  # billed cost ÷ audited tokens × 1e6
    trend: float | None = None  # rank-metric median ÷ the previous window's
    rank: int | None = None
    tied: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ranking:
    workload: str
    scenario: str
    metric: str
    rows: tuple[TargetFigures, ...]


@dataclass
class Window:
    start: datetime
    end: datetime
    campaign: str | None = None
    prober: str | None = None
    workload: str | None = None
    scenario: str | None = None
    metric: str = "output_tps"
    confidence: float = 0.95
    rankings: list[Ranking] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat() + "Z", "end": self.end.isoformat() + "Z",
                "campaign": self.campaign, "prober": self.prober, "metric": self.metric,
                "confidence": self.confidence,
                "rankings": [{"workload": r.workload, "scenario": r.scenario,
                              "metric": r.metric, "rows": [x.to_json() for x in r.rows]}
                             for r in self.rankings]}


def _interval(values: Sequence[float], q: float, confidence: float) -> Interval:
    if not values:
        return Interval(None, None, None, 0)
    e = quantile_bounds(values, q, confidence, "two")
    return Interval(e.point, e.lower, e.upper, e.n)


def _rate(k: int, n: int, confidence: float) -> Interval:
    e = clopper_pearson(k, n, confidence, "two")
    return Interval(e.point, e.lower, e.upper, n)


def figures(rows: Sequence[tuple[Any, ...]], target: str, workload: str, scenario: str,
            confidence: float) -> TargetFigures:
    """Figures of one (target, workload, scenario) from rows shaped like ``_COLS``."""
    counted = [r for r in rows if r[5] not in INSTRUMENT]
    ok = [r for r in counted if r[4]]
    med: dict[str, Interval] = {}
    p90: dict[str, Interval] = {}
    for i, name in ((6, "ttft_ms"), (7, "e2e_ms"), (8, "output_tps")):
        vals = [float(r[i]) for r in ok if r[i] is not None]
        med[name] = _interval(vals, 0.5, confidence)
        p90[name] = _interval(vals, 0.9, confidence)
    audited = [r for r in ok if r[9] is not None and r[10] is not None]
    exact = sum(1 for r in audited if r[9] == r[10])
    billed = sum(int(r[9]) + int(r[11]) for r in audited if r[11] is not None
                 and r[12] is not None)
    truth = sum(int(r[10]) + int(r[12]) for r in audited if r[11] is not None
                and r[12] is not None)
    cost = sum(float(r[13]) for r in audited if r[13] is not None and r[12] is not None)
    metering = ("unknown" if not audited else "exact" if exact == len(audited) and
                billed == truth else "over-bills" if billed > truth else
                "under-bills" if billed < truth else "inexact")
    return TargetFigures(
        target, workload, scenario, len(counted), med, p90,
        _rate(len(ok), len(counted), confidence), _rate(exact, len(audited), confidence),
        billed, truth, metering, cost / truth * 1e6 if truth else None)


def _fetch(store: Store, w: Window, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    c = t.requests.c
    q = sa.select(*(c[n] for n in _COLS)).where(c.sent_at >= start, c.sent_at < end)
    for name in ("campaign", "prober", "workload", "scenario"):
        value = getattr(w, name)
        if value is not None:
            q = q.where(c[name] == value)
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q)]


def _group(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[str, str, str], list[tuple[Any, ...]]]:
    groups: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        groups[(r[1], r[2], r[0])].append(r)
    return groups


def rank(rows: Sequence[TargetFigures], metric: str) -> tuple[TargetFigures, ...]:
    """Order by the metric's median; an interval overlapping the previous one shares its
    rank. Targets without an interval come last, unranked."""
    from dataclasses import replace

    higher = METRICS[metric]
    ranked = [r for r in rows if r.median[metric].lower is not None
              and r.median[metric].upper is not None]
    rest = [r for r in rows if r not in ranked]
    ranked.sort(key=lambda r: (-(r.median[metric].point or 0.0) if higher
                               else (r.median[metric].point or 0.0), r.target))
    out: list[TargetFigures] = []
    for i, r in enumerate(ranked):
        if out and r.median[metric].overlaps(out[-1].median[metric]):
            assert out[-1].rank is not None
            out[-1] = replace(out[-1], tied=True)
            out.append(replace(r, rank=out[-1].rank, tied=True))
        else:
            out.append(replace(r, rank=i + 1))
    return tuple(out) + tuple(sorted(rest, key=lambda r: r.target))


def compute(store: Store, window: Window, *, trend: bool = True) -> Window:
    """Fill ``window.rankings`` from the store (one ranking per workload × scenario)."""
    from dataclasses import replace

    groups = _group(_fetch(store, window, window.start, window.end))
    previous: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    if trend:
        span = window.end - window.start
        previous = _group(_fetch(store, window, window.start - span, window.start))
    by_ws: dict[tuple[str, str], list[TargetFigures]] = defaultdict(list)
    for (wl, sc, tg), rows in sorted(groups.items()):
        f = figures(rows, tg, wl, sc, window.confidence)
        prev = previous.get((wl, sc, tg))
        if prev:  # the previous window's median only (no intervals needed)
            i = _COLS.index(window.metric)
            p = quantile([float(r[i]) for r in prev if r[4] and r[i] is not None
                          and r[5] not in INSTRUMENT] or [0.0], 0.5)
            now = f.median[window.metric].point
            if p and now is not None:
                f = replace(f, trend=now / p)
        by_ws[(wl, sc)].append(f)
    window.rankings = [Ranking(wl, sc, window.metric, rank(rows, window.metric))
                       for (wl, sc), rows in sorted(by_ws.items())]
    return window


def last_hours(hours: float, now: datetime | None = None, **kw: Any) -> Window:
    from conformance.monitor.store import utc_naive

    end = utc_naive(now)
    return Window(end - timedelta(hours=hours), end, **kw)


def month(period: str, **kw: Any) -> Window:
    """``2026-12`` → the window of that calendar month (UTC)."""
    from conformance._core.errors import InputError, Problem

    try:
        start = datetime.strptime(period, "%Y-%m")
    except ValueError:
        raise InputError(f"--period {period!r} is not a month", [Problem(
            "expected YYYY-MM", hint="e.g. --period 2026-12")]) from None
    end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return Window(start, end, **kw)
