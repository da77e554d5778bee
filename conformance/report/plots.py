"""Plots for the run report, as self-contained SVG strings (matplotlib, Agg, no remote assets).

Each function takes plain numbers and returns ``<svg ...>`` text ready to inline in HTML.
Units are on every axis.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

_LEVEL_COLOURS = {"L1": "#c0392b", "L2": "#d68910", "L3": "#1e8449"}
# Applied per figure (no global state, no pyplot): fonts stay text in the SVG, and the
# SVG ids are salted so output is reproducible.
_RC: Any = {
    "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
    "svg.fonttype": "none", "figure.dpi": 100, "svg.hashsalt": "tokencert",
}


def _subplots(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize)
        return fig, fig.subplots()


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with mpl.rc_context(_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _empty(title: str, message: str) -> str:
    fig, ax = _subplots((6, 1.2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.4, message, ha="center", va="center", color="#666")
    return _svg(fig)


def cdf(samples: Sequence[float], title: str, xlabel: str,
        thresholds: Mapping[str, float] | None = None, quantile: float = 0.99) -> str:
    """Empirical CDF with the per-level limits of the p``quantile`` as vertical lines."""
    if not samples:
        return _empty(title, "no samples")
    xs = np.sort(np.asarray(samples, dtype=float))
    ys = np.arange(1, len(xs) + 1) / len(xs)
    fig, ax = _subplots((6, 3))
    ax.step(xs, ys, where="post", color="#1f4e79", label=f"measured (n={len(xs)})")
    ax.axhline(quantile, color="#888", lw=0.8, ls=":")
    for level, value in (thresholds or {}).items():
        ax.axvline(value, color=_LEVEL_COLOURS.get(level, "#555"), ls="--", lw=1,
                   label=f"{level} limit {value:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    return _svg(fig)


def over_time(t_s: Sequence[float], values: Sequence[float], title: str, ylabel: str,
              window_s: float = 60.0) -> str:
    """Each request as a dot at its send time, with the per-window median as a line."""
    if not values:
        return _empty(title, "no samples")
    t = np.asarray(t_s, dtype=float)
    v = np.asarray(values, dtype=float)
    fig, ax = _subplots((6, 3))
    ax.scatter(t, v, s=4, alpha=0.5, color="#1f4e79", label="request")
    if len(t):
        edges = np.arange(0, max(t.max(), window_s) + window_s, window_s)
        mids, meds = [], []
        for lo, hi in itertools.pairwise(edges):
            sel = v[(t >= lo) & (t < hi)]
            if len(sel):
                mids.append((lo + hi) / 2)
                meds.append(float(np.median(sel)))
        ax.plot(mids, meds, color="#c0392b", marker="o", lw=1.5,
                label=f"median per {window_s:g} s window")
    ax.set_xlabel("time since phase start (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    return _svg(fig)


def versus_concurrency(points: Mapping[int, tuple[float, float]], title: str) -> str:
    """Throughput (tokens/s) and TTFT p50 (ms) against concurrency."""
    if not points:
        return _empty(title, "no scaling data")
    cs = sorted(points)
    thr = [points[c][0] for c in cs]
    ttft = [points[c][1] for c in cs]
    fig, ax = _subplots((6, 3))
    ax.plot(cs, thr, marker="o", color="#1f4e79", label="output tokens/s")
    ax.set_xlabel("concurrent streams")
    ax.set_ylabel("output throughput (tokens/s)")
    ax2 = ax.twinx()
    ax2.plot(cs, ttft, marker="s", color="#c0392b", label="TTFT p50 (ms)")
    ax2.set_ylabel("TTFT p50 (ms)")
    ax.set_title(title)
    fig.legend(loc="upper left", fontsize=7)
    return _svg(fig)


def error_histogram(errors_by_group: Mapping[str, Sequence[float]], title: str,
                    xlabel: str) -> str:
    """Histogram of signed relative errors per group (e.g. metering error per language)."""
    groups = {k: list(v) for k, v in errors_by_group.items() if v}
    if not groups:
        return _empty(title, "no metering data")
    fig, ax = _subplots((6, 3))
    allv = np.concatenate([np.asarray(v, dtype=float) for v in groups.values()])
    lo, hi = float(allv.min()), float(allv.max())
    if lo == hi:
        lo, hi = lo - 0.005, hi + 0.005
    bins = [float(x) for x in np.linspace(lo, hi, 21)]
    ax.hist(list(groups.values()), bins=bins, stacked=True, label=list(groups))
    ax.axvline(0, color="#000", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("requests")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return _svg(fig)


def status_breakdown(counts: Mapping[str, int], title: str) -> str:
    """Bar chart of response outcomes (HTTP status classes and client-side error classes)."""
    if not counts:
        return _empty(title, "no requests")
    keys = sorted(counts, key=lambda k: (-counts[k], k))
    fig, ax = _subplots((6, 2.6))
    colours = ["#1e8449" if k.startswith("2") else "#d68910" if k.startswith("4")
               else "#c0392b" for k in keys]
    ax.bar(keys, [counts[k] for k in keys], color=colours)
    for i, k in enumerate(keys):
        ax.text(i, counts[k], str(counts[k]), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("requests")
    ax.set_title(title)
    for label in ax.get_xticklabels():
        label.set_rotation(20)
        label.set_ha("right")
    return _svg(fig)
