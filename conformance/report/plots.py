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
    """Empirical CDF on a log time axis, with each level's limit of the p``quantile`` as a
    vertical line and the measured p``quantile`` marked: samples near 80 ms and a limit at
    5000 ms both stay readable."""
    if not samples:
        return _empty(title, "no samples")
    xs = np.sort(np.asarray(samples, dtype=float))
    ys = np.arange(1, len(xs) + 1) / len(xs)
    fig, ax = _subplots((6, 3))
    pos = xs[xs > 0]
    lo = float(pos.min()) if len(pos) else 1.0
    limits = [float(v) for v in (thresholds or {}).values() if v > 0]
    hi = max([float(xs.max()), *limits]) if len(xs) else max(limits, default=10.0)
    ax.set_xscale("log")
    ax.set_xlim(lo / 1.5, hi * 1.5)
    ax.step(np.clip(xs, lo, None), ys, where="post", color="#1f4e79", lw=1.6,
            label=f"measured (n={len(xs)})")
    q = float(np.quantile(xs, quantile))
    ax.axhline(quantile, color="#888", lw=0.8, ls=":")
    ax.plot([q], [quantile], marker="o", color="#1f4e79")
    ax.annotate(f"p{quantile * 100:g} {q:.4g}", (q, quantile), textcoords="offset points",
                xytext=(6, -12), fontsize=7, color="#1f4e79")
    for level, value in (thresholds or {}).items():
        ax.axvline(value, color=_LEVEL_COLOURS.get(level, "#555"), ls="--", lw=1.2,
                   label=f"{level} p{quantile * 100:g} limit {value:g}")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel(xlabel + " — log scale")
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="major", axis="x", color="#eee")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    return _svg(fig)


def _plain_log_ticks(axis: Any) -> None:
    """Log-axis tick labels as plain numbers (100, 1000), not powers of ten."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


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
    if len(v) and float(v.min()) > 0:  # spikes and the typical value both readable
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ylabel += " — log scale"
    ax.set_xlabel("time since phase start (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    return _svg(fig)


def versus_concurrency(points: Mapping[int, tuple[float, float]], title: str,
                       min_points: int = 4) -> str:
    """Throughput (tokens/s) and TTFT p50 (ms) against concurrency, in two panels side by
    side (neither line hides the other); fewer than ``min_points`` concurrency levels are
    said on the figure: a shape needs a sweep."""
    if not points:
        return _empty(title, "no scaling data")
    cs = sorted(points)
    thr = [points[c][0] for c in cs]
    ttft = [points[c][1] for c in cs]
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(6, 2.8))
        ax, ax2 = fig.subplots(1, 2)
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xticks(cs, [str(c) for c in cs])
        a.set_xlabel("concurrent streams")
        a.grid(True, color="#eee")
    ax.plot(cs, thr, marker="o", color="#1f4e79")
    ax.set_ylabel("output tokens/s")
    ax.set_ylim(0, max(thr) * 1.15 if max(thr) > 0 else 1)
    ax.set_title("throughput", fontsize=9)
    ax2.plot(cs, ttft, marker="s", color="#c0392b")
    ax2.set_ylabel("TTFT p50 (ms)")
    ax2.set_ylim(0, max(ttft) * 1.15 if max(ttft) > 0 else 1)
    ax2.set_title("TTFT p50", fontsize=9)
    fig.suptitle(title, fontsize=10)
    if len(cs) < min_points:
        fig.text(0.5, -0.04, f"only {len(cs)} concurrency level(s) measured: a scaling "
                 f"sweep needs at least {min_points}", ha="center", fontsize=7, color="#b9770e")
    fig.tight_layout()
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


PROVOKED_COLOUR, REAL_COLOUR, OK_COLOUR = "#7f8c8d", "#c0392b", "#1e8449"


def status_breakdown(counts: Mapping[str, int], title: str,
                     provoked: Sequence[str] = ()) -> str:
    """Bar chart of response outcomes: 2xx green, refusals the suite provoked on purpose
    (``provoked``: e.g. 429 from the burst, 401/400 from the security probes) grey and
    hatched, every other error red."""
    if not counts:
        return _empty(title, "no requests")
    keys = sorted(counts, key=lambda k: (0 if k.startswith("2") else 1 if k in provoked
                                         else 2, -counts[k], k))
    fig, ax = _subplots((6, 2.8))
    colours = [OK_COLOUR if k.startswith("2") else PROVOKED_COLOUR if k in provoked
               else REAL_COLOUR for k in keys]
    bars = ax.bar(keys, [counts[k] for k in keys], color=colours)
    for bar, k in zip(bars, keys, strict=True):
        if k in provoked:
            bar.set_hatch("//")
            bar.set_edgecolor("#fff")
    for i, k in enumerate(keys):
        ax.text(i, counts[k], str(counts[k]), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("responses")
    ax.set_title(title)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=OK_COLOUR, label="answered"),
                       Patch(facecolor=PROVOKED_COLOUR, hatch="//", edgecolor="#fff",
                             label="refusal provoked by a probe (expected)"),
                       Patch(color=REAL_COLOUR, label="error")], fontsize=7,
              loc="upper right")
    for label in ax.get_xticklabels():
        label.set_rotation(20)
        label.set_ha("right")
    return _svg(fig)
