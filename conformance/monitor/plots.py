"""Static plots of the report (matplotlib, Agg): PNG bytes, nothing else."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conformance.monitor.figures import TargetFigures


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def time_series(rows: Sequence[tuple[datetime, float | None, float | None]], title: str
                ) -> bytes:
    """TTFT and output speed of one target over time (one point per probe)."""
    plt = _plt()
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 4.6), sharex=True)
    ok = [r for r in rows if r[1] is not None]
    a.plot([r[0] for r in ok], [r[1] for r in ok], ".", ms=3, color="#1f6feb")
    a.set_ylabel("TTFT (ms)")
    a.set_title(title)
    sp = [r for r in rows if r[2] is not None]
    b.plot([r[0] for r in sp], [r[2] for r in sp], ".", ms=3, color="#2da44e")
    b.set_ylabel("output tokens/s")
    fig.autofmt_xdate()
    return _png(fig)


def latency_vs_price(rows: Sequence[TargetFigures], title: str) -> bytes:
    """Median E2E latency (with its interval) against the effective price."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for r in rows:
        m = r.median["e2e_ms"]
        if r.effective_price_per_m is None or m.point is None:
            continue
        lo = m.point - (m.lower if m.lower is not None else m.point)
        hi = (m.upper if m.upper is not None else m.point) - m.point
        ax.errorbar([r.effective_price_per_m], [m.point], yerr=[[lo], [hi]], fmt="o",
                    capsize=4)
        ax.annotate(r.target, (r.effective_price_per_m, m.point), xytext=(6, 4),
                    textcoords="offset points")
    ax.set_xlabel("effective price per 1M audited tokens")
    ax.set_ylabel("median E2E latency (ms)")
    ax.set_title(title)
    return _png(fig)


def availability(rows: Sequence[TargetFigures], title: str) -> bytes:
    """Availability per target with its Clopper–Pearson interval."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * max(1, len(rows))))
    names = [r.target for r in rows]
    pts = [100 * (r.availability.point or 0.0) for r in rows]
    lo = [p - 100 * (r.availability.lower or 0.0) for p, r in zip(pts, rows, strict=True)]
    hi = [100 * (r.availability.upper or 0.0) - p for p, r in zip(pts, rows, strict=True)]
    ax.barh(names, pts, xerr=[lo, hi], color="#8250df", capsize=3)
    ax.set_xlim(0, 100)
    ax.set_xlabel("availability (%), 95% interval")
    ax.set_title(title)
    return _png(fig)
