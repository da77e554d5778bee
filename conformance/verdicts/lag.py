"""Client lag and one condition: set aside what was sent while the client was saturated.

For a latency condition (a percentile of an ``ms`` metric) or a lag-sensitive one (a figure
derived from latencies, ``Measurement.lag_sensitive_ms``) judged on a load phase:

1. each 1-s health window of the phase is *saturated* for the condition when its largest
   loop lag exceeds ``lag_tolerance ×`` the latency limit (divided by ``lag_scale``), or the
   client process used ≥ 90% of a core in it (``HealthWindow.saturated``);
2. samples and trials whose request was *sent* in a saturated window are set aside, counted
   and named in the detail; the condition is judged on the rest;
3. when more than ``max_set_aside_share`` of the phase's requests were set aside (or the
   evidence cannot place its requests in windows and the phase-wide rule of
   ``health.saturation`` says the client was saturated), the condition is
   ``inconclusive: client_saturated`` — unless its verdict on *all* samples holds even
   after the largest loop lag of the phase (``d_max``) is applied against it: a pass whose
   favourable bound plus ``d_max`` still meets the limit stays a pass, a fail whose other
   bound minus ``d_max`` still exceeds it stays a fail.

The catalog states both figures (``client_saturation``); docs/metrics.md has the rule.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Mapping, Sequence

from conformance.run.evidence.records import Measurement
from conformance.run.load.health import ClientHealth, HealthWindow, saturation
from conformance.spec.models import Condition, Requirement, SaturationRule
from conformance.verdicts import conditions
from conformance.verdicts.model import CLIENT_SATURATED, ConditionResult


def threshold_ms(req: Requirement, level: str, c: Condition, m: Measurement) -> float | None:
    """The latency (ms) client lag must stay small against for ``c`` on ``m``, or None when
    lag cannot move the figure."""
    unit = next((x.unit for x in req.metrics if x.name == c.metric), "")
    if unit == "ms" and conditions.percentile_q(c.stat) is not None \
            and not isinstance(c.value, bool):
        return float(c.value) / (m.lag_scale if m.lag_scale > 0 else 1.0)
    if level in m.lag_sensitive_ms and m.lag_sensitive_ms[level] > 0:
        return m.lag_sensitive_ms[level]
    return None


def _slack(req: Requirement, level: str, c: Condition, m: Measurement,
           h: ClientHealth) -> float | None:
    """How far the largest loop lag of the phase can move ``c``'s figure (None: unknown)."""
    lag = h.loop_lag_ms
    if lag.n == 0 or not math.isfinite(lag.max) or isinstance(c.value, bool):
        return None
    unit = next((x.unit for x in req.metrics if x.name == c.metric), "")
    if unit == "ms" and conditions.percentile_q(c.stat) is not None:
        return lag.max * (m.lag_scale if m.lag_scale > 0 else 1.0)
    if level in m.lag_sensitive_ms and m.lag_sensitive_ms[level] > 0:
        return float(c.value) * lag.max / m.lag_sensitive_ms[level]
    return None


class _Windows:
    """Saturated windows, as sorted intervals relative to the health's origin."""

    def __init__(self, ws: Sequence[HealthWindow], t0_ns: int) -> None:
        self.ws = sorted(ws, key=lambda w: w.t_s)
        self.starts = [w.t_s for w in self.ws]
        self.longest = max((w.span_s for w in self.ws), default=0.0)
        self.t0_ns = t0_ns

    def hit(self, sent_ns: int) -> bool:
        t = (sent_ns - self.t0_ns) / 1e9
        # windows of several worker processes overlap: every one starting within the
        # longest span before t may hold it
        lo = bisect.bisect_left(self.starts, t - self.longest)
        hi = bisect.bisect_right(self.starts, t)
        return any(self.ws[j].holds(t) for j in range(lo, hi))


def _split(m: Measurement, sat: _Windows) -> tuple[Measurement, int, int] | None:
    """``m`` less what was sent in a saturated window: (kept, set aside, total); None when
    ``m`` does not say when its requests were sent."""
    if m.samples is not None:
        if len(m.sample_sent_ns) != len(m.samples):
            return None
        keep = [i for i, t in enumerate(m.sample_sent_ns) if not sat.hit(t)]
        kept = dataclasses.replace(
            m, samples=tuple(m.samples[i] for i in keep),
            sample_sent_ns=tuple(m.sample_sent_ns[i] for i in keep),
            sample_evidence=tuple(m.sample_evidence[i] for i in keep)
            if len(m.sample_evidence) == len(m.samples) else ())
        return kept, len(m.samples) - len(keep), len(m.samples)
    if m.observations is not None:
        raw = [o.data.get("sent_ns") for o in m.observations]
        times = [t for t in raw if isinstance(t, int)]
        if len(times) != len(raw):
            return None
        obs = tuple(o for o, t in zip(m.observations, times, strict=True)
                    if not sat.hit(t))
        return (dataclasses.replace(m, observations=obs),
                len(m.observations) - len(obs), len(m.observations))
    return None


def _size(m: Measurement) -> int:
    if m.samples is not None:
        return len(m.samples)
    if m.observations is not None:
        return len(m.observations)
    return m.n or 1


def judge(req: Requirement, level: str, c: Condition, ms: Sequence[Measurement],
          health: Mapping[str, ClientHealth], confidence: float,
          rule: SaturationRule) -> tuple[ConditionResult, list[Measurement]]:
    """``c`` judged with the client's lag taken into account; also the measurements the
    result rests on (for counting its evidence)."""
    kept: list[Measurement] = []
    aside = total = 0
    notes: list[str] = []
    voids: list[str] = []
    slack: float | None = 0.0
    touched = False
    for m in ms:
        h = health.get(m.phase) if m.phase else None
        t_ms = threshold_ms(req, level, c, m) if h is not None else None
        if h is None or t_ms is None:
            kept.append(m)
            continue
        touched = True
        s = _slack(req, level, c, m, h)
        slack = None if s is None or slack is None else max(slack, s)
        sat = [w for w in h.windows if w.saturated(t_ms, rule.lag_tolerance)]
        split = _split(m, _Windows(sat, h.t0_ns)) if h.windows and h.t0_ns else None
        if split is None:  # cannot place requests in windows: the phase-wide rule
            q = conditions.percentile_q(c.stat) or 0.99
            chk = saturation(h, threshold_ms=t_ms, quantile=q, tolerance=rule.lag_tolerance)
            total += _size(m)
            if chk.saturated:  # the whole measurement is set aside
                aside += _size(m)
                voids.append(f"phase {m.phase}: " + "; ".join(chk.reasons))
            else:
                kept.append(m)
            continue
        km, a, n = split
        kept.append(km)
        aside, total = aside + a, total + n
        if a:
            notes.append(f"phase {m.phase}: {a} of {n} requests set aside (sent in "
                         f"{len(sat)} of {len(h.windows)} 1-s windows where client lag "
                         f"exceeded {rule.lag_tolerance:.0%} of {t_ms:g} ms or CPU ≥ 90%)")
    if not touched:
        return conditions.judge(c, ms, confidence), list(ms)
    share = aside / total if total else (1.0 if voids else 0.0)
    if share <= rule.max_set_aside_share:
        r = conditions.judge(c, kept, confidence)
        if aside:
            note = "; ".join(notes)
            r = dataclasses.replace(r, set_aside=aside,
                                    detail=f"{r.detail}; {note}" if r.detail else note)
        return r, kept
    whole = conditions.judge(c, ms, confidence)
    why = "; ".join(voids or notes) + (
        f" — {aside} of {total} requests ({share:.1%}) > {rule.max_set_aside_share:.0%}"
        if total else "")
    if slack is not None and c.op in ("<=", "<") and not isinstance(c.value, bool):
        limit = float(c.value)
        if whole.outcome == "pass" and whole.bound is not None \
                and conditions.OPS[c.op](whole.bound + slack, limit):
            return dataclasses.replace(
                whole, set_aside=aside, detail=f"holds with the largest client lag added "
                f"({whole.bound:.6g} + {slack:.3g} {c.op} {limit:g}); {why}"), list(ms)
        if whole.outcome == "fail" and whole.fail_bound is not None \
                and not conditions.OPS[c.op](whole.fail_bound - slack, limit):
            return whole, list(ms)
    return (conditions._res(c, "inconclusive", CLIENT_SATURATED, why, whole.point,
                            whole.bound, whole.n, whole.fail_bound), list(ms))
