"""Time series: per-window percentiles and throughput with bounds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.stats.quantiles import quantile
from conformance.stats.rates import MeanEstimate, mean_bounds


@dataclass(frozen=True)
class Window:
    start_s: float  # seconds after t0
    n: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


def windowed(samples: Iterable[tuple[int, float]], t0_ns: int, window_s: float) -> list[Window]:
    """Group ``(t_ns, value)`` samples into consecutive windows of ``window_s`` from ``t0_ns``
    and summarise each (empty windows inside the span are kept, with n = 0)."""
    if window_s <= 0:
        raise ValueError("window_s must be > 0")
    w_ns = int(window_s * 1e9)
    groups: dict[int, list[float]] = {}
    for t, v in samples:
        groups.setdefault(max(0, (t - t0_ns) // w_ns), []).append(v)
    if not groups:
        return []
    out = []
    for i in range(max(groups) + 1):
        vals = groups.get(i, [])
        out.append(
            Window(
                i * window_s,
                len(vals),
                quantile(vals, 0.5) if vals else None,
                quantile(vals, 0.9) if vals else None,
                quantile(vals, 0.99) if vals else None,
                max(vals) if vals else None,
            )
        )
    return out


@dataclass(frozen=True)
class Throughput:
    per_s: float  # total units / span
    span_s: float
    windows: tuple[tuple[float, float], ...]  # (window start s, units/s), full windows only
    window_mean: MeanEstimate  # mean of full windows' rates with a two-sided t interval


def throughput(
    events: Sequence[tuple[int, float]],
    t0_ns: int,
    t1_ns: int,
    window_s: float = 1.0,
    confidence: float = 0.95,
) -> Throughput:
    """Units (tokens, requests) per second from ``(t_ns, units)`` events in [t0, t1).
    The bound is on the mean per-window rate (a partial last window is left out)."""
    if t1_ns <= t0_ns:
        raise ValueError("t1_ns must be after t0_ns")
    span = (t1_ns - t0_ns) / 1e9
    w_ns = int(window_s * 1e9)
    full = int((t1_ns - t0_ns) // w_ns)
    sums = [0.0] * full
    total = 0.0
    for t, units in events:
        if t0_ns <= t < t1_ns:
            total += units
            i = (t - t0_ns) // w_ns
            if i < full:
                sums[i] += units
    rates = [s / window_s for s in sums]
    return Throughput(
        total / span,
        span,
        tuple((i * window_s, r) for i, r in enumerate(rates)),
        mean_bounds(rates, confidence, "two"),
    )
