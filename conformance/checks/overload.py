"""STAB-003/004/005: how a service sheds a burst, how fast it recovers, how steady it is.

Pure functions on request records and numbers; the verdict stage judges what they return.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass

from conformance.checks.findings import Observation
from conformance.run.records import RequestRecord
from conformance.stats import quantile, quantile_bounds

_NUMBER = re.compile(r"^\s*\d+(\.\d+)?\s*(ms|s|m)?\s*$")
_RESET = re.compile(r"^\s*(\d+(\.\d+)?(ms|s|m|h)?)+\s*$")


def _header(rec: RequestRecord, name: str) -> str | None:
    for k, v in rec.headers.items():
        if k.lower() == name:
            return v
    return None


def retry_hint(rec: RequestRecord) -> str | None:
    """The header that tells a refused client when to come back, or None: a ``Retry-After``
    of delay-seconds or an HTTP-date (RFC 9110 §10.2.3), or an ``x-ratelimit-reset-*``
    duration (``1s``, ``6m0s``, ``0.5``)."""
    ra = _header(rec, "retry-after")
    if ra is not None and (ra.strip().isdigit() or email.utils.parsedate_tz(ra) is not None):
        return f"retry-after: {ra}"
    for k, v in rec.headers.items():
        if k.lower().startswith("x-ratelimit-reset-") and (_RESET.match(v) or _NUMBER.match(v)):
            return f"{k.lower()}: {v}"
    return None


def refusal_actionable(rec: RequestRecord) -> Observation:
    """A 429 must say when to retry (``refusal_well_formed``)."""
    hint = retry_hint(rec)
    if hint is not None:
        return Observation("refusal_well_formed", True, detail=hint, evidence=(rec.request_id,))
    ra = _header(rec, "retry-after")
    shown = f"Retry-After {ra!r} is neither seconds nor an HTTP-date" if ra is not None \
        else "no Retry-After and no x-ratelimit-reset-* header"
    return Observation("refusal_well_formed", False, detail=f"429 with {shown}",
                       evidence=(rec.request_id,))


_ANSWER_TYPES = ("application/json", "text/event-stream")


def failure(rec: RequestRecord) -> str | None:
    """Why a burst answer is a server failure, or None: a 5xx, no answer at all (reset,
    timeout), or a 2xx that is not a well-formed answer of the dialect — a content type
    other than JSON or SSE (``200 text/html`` is not an answer), a body or stream that does
    not decode, a stream cut short. A refusal (4xx) is not a failure; a fault on the
    client's side is not judged here (see :func:`server_error`)."""
    if rec.status is None:
        return f"no answer ({rec.error})"
    if rec.status >= 500:
        return f"status {rec.status}"
    if not 200 <= rec.status < 300:
        return None
    ctype = (_header(rec, "content-type") or "").split(";")[0].strip().lower()
    if ctype not in _ANSWER_TYPES:
        return f"status {rec.status} with content-type {ctype or 'none'!r}, not JSON or SSE"
    if rec.error is not None:
        return f"status {rec.status} but {rec.error}: {(rec.error_detail or '')[:80]}"
    return None


def refusals_judged(records: Sequence[RequestRecord], min_refusals: int
                    ) -> list[Observation]:
    """STAB-003's ``refusal_well_formed``, one observation per burst request: a 429 must say
    when to retry (:func:`refusal_actionable`); an answer that is not a refusal holds it
    trivially (``burst_5xx_*`` judges it). Fewer than ``min_refusals`` refusals add one
    undecided observation (``insufficient_samples``): a burst that provoked nothing has
    shown nothing about refusals, and the requirement can never pass on it."""
    out: list[Observation] = []
    refused = 0
    for r in records:
        if r.status == 429:
            refused += 1
            out.append(refusal_actionable(r))
        else:
            what = f"status {r.status}" if r.status is not None else f"no answer ({r.error})"
            out.append(Observation("refusal_well_formed", True, detail=f"not refused ({what})",
                                   evidence=(r.request_id,)))
    if refused < min_refusals:
        out.append(Observation(
            "refusal_well_formed", None, reason="insufficient_samples",
            detail=f"the burst of {len(records)} requests drew {refused} refusals (429), "
                   f"fewer than the {min_refusals} needed to judge them"))
    return out


def server_error(rec: RequestRecord) -> bool | None:
    """Whether the burst request ended in a server failure (:func:`failure`). None for a
    fault on the client's side (client_error, a load worker lost mid-request)."""
    if rec.instrument_failed:
        return None
    return failure(rec) is not None


# -- STAB-004 -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recovery:
    recovered: bool
    seconds: float | None  # from burst end to the end of the first window back in bounds
    observed_s: float  # burst end → last observed request sent
    window: int  # requests per sliding window
    limit_ms: float  # factor × baseline
    first_ok_window: tuple[str, ...] = ()  # its request ids
    worst_miss_ms: float | None = None  # smallest (window p50 − limit) before recovery


def recovery(baseline_ms: float, factor: float, burst_end_ns: int,
             observed: Sequence[tuple[int, float, str]], window: int) -> Recovery:
    """``observed``: (sent_ns, ttft_ms, request id) after the burst, in send order. The time
    until the TTFT p50 over ``window`` consecutive requests is ≤ ``factor × baseline``,
    counted to the last request of the first such window (conservative: never early)."""
    limit = factor * baseline_ms
    obs = sorted(observed)
    span = (obs[-1][0] - burst_end_ns) / 1e9 if obs else 0.0
    misses: list[float] = []
    for i in range(0, len(obs) - window + 1):
        w = obs[i:i + window]
        p50 = quantile([t for _, t, _ in w], 0.5)
        assert p50 is not None
        if p50 <= limit:
            return Recovery(True, max(0.0, (w[-1][0] - burst_end_ns) / 1e9), span, window,
                            limit, tuple(r for _, _, r in w), min(misses, default=None))
        misses.append(p50 - limit)
    return Recovery(False, None, span, window, limit, (), min(misses, default=None))


# -- STAB-005 -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowRatio:
    point: float | None
    upper: float | None
    windows: tuple[tuple[float, int, float | None], ...]  # (start s, n, p50), full windows
    overall_p50: float | None
    n: int
    lower: float | None = None


def window_ratio(samples: Sequence[tuple[int, float]], t0_ns: int, t1_ns: int,
                 window_s: float, confidence: float) -> WindowRatio:
    """Worst full-window TTFT p50 ÷ overall TTFT p50 over the full windows of [t0, t1).

    A partial last window is left out (a few requests would decide the worst window). The
    upper bound takes every window's p50 upper bound and the overall p50's lower bound,
    each at 1 − α/(k + 1) for k windows (Bonferroni), so it holds with ≥ ``confidence``.
    The lower bound mirrors it: the largest window p50 *lower* bound over the overall p50's
    *upper* bound, at the same 1 − α/(k + 1) each (order statistics, distribution-free).
    Every window's median is at least its lower bound and the overall median at most its
    upper bound with probability ≥ ``confidence`` together, so the true worst window's ratio
    is at least that quotient: a degraded minute is proven when it exceeds the limit."""
    w_ns = int(window_s * 1e9)
    k = int((t1_ns - t0_ns) // w_ns) if t1_ns > t0_ns else 0
    groups: list[list[float]] = [[] for _ in range(k)]
    for t, v in samples:
        i = (t - t0_ns) // w_ns
        if 0 <= i < k:
            groups[i].append(v)
    used = [v for g in groups for v in g]
    wins = tuple((i * window_s, len(g), quantile(g, 0.5) if g else None)
                 for i, g in enumerate(groups))
    if k == 0 or not used or any(not g for g in groups):
        return WindowRatio(None, None, wins, quantile(used, 0.5) if used else None, len(used))
    each = 1.0 - (1.0 - confidence) / (k + 1)
    overall = quantile(used, 0.5)
    lo = quantile_bounds(used, 0.5, each, "lower").lower
    worst = max(p for _, _, p in wins if p is not None)
    uppers = [quantile_bounds(g, 0.5, each, "upper").upper for g in groups]
    upper = None
    if lo is not None and lo > 0 and all(u is not None for u in uppers):
        upper = max(u for u in uppers if u is not None) / lo
    # the lower bound needs only one window whose p50 lower bound exists
    hi = quantile_bounds(used, 0.5, each, "upper").upper
    lowers = [b for g in groups if (b := quantile_bounds(g, 0.5, each, "lower").lower) is not None]
    lower = max(lowers) / hi if lowers and hi is not None and hi > 0 else None
    point = worst / overall if overall else None
    return WindowRatio(point, upper, wins, overall, len(used), lower)
