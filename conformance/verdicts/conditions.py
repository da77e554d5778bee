"""One threshold condition judged against the measurements of one metric.

The decision rule (``docs/metrics.md``, "The decision rule"), the same for every kind:

* **pass** when the one-sided bound on the *favourable* side meets the limit (the upper
  bound for ``<=``, the lower bound for ``>=``);
* **fail** only when the one-sided bound on the *other* side proves the violation (the
  lower bound of a ``<=`` figure is beyond the limit) — never on a point estimate;
* otherwise **inconclusive** (``insufficient_samples``, or the reason the evidence gave).

Bounds per kind, each one-sided at the catalog's confidence:

* percentiles (``p50``, ``p99``, ...) of samples — distribution-free order statistics;
* ``rate`` — exact Clopper–Pearson; trials the evidence could not settle count against
  the pass (as the unfavourable outcome) and against the fail (as the favourable one);
* ``mean`` — Student-t (n ≥ 2); a ceiling on a mean passes only when the *excess bound*
  meets it too: the Clopper–Pearson upper bound of the share of values above 0 times the
  largest of them (``stats.excess_bound``), which rare, large values cannot slip under —
  a few over-billed requests among 30 leave the t bound small. The fail rule is the t
  bound's alone;
* ``max`` / ``min`` / ``all`` — every observation holds (the observed figure is exact:
  one observation beyond the limit proves the fail; one that cannot be settled leaves
  the condition inconclusive);
* ``value`` — the measurement's own bounds (``lower``/``upper``); a value recorded
  without bounds is exact (a count, a duration). A bound that is absent on one side
  decides nothing on that side.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Literal

from conformance.run.evidence.records import Measurement, Obs
from conformance.spec.models import Condition
from conformance.stats import clopper_pearson, excess_bound, mean_bounds, quantile_bounds
from conformance.verdicts.model import (
    INSUFFICIENT_SAMPLES,
    NO_EVIDENCE,
    THRESHOLD_EXCEEDED,
    ConditionResult,
    MeasuredValue,
    Outcome,
)

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
    "==": operator.eq,
}

Side = Literal["upper", "lower"]


def percentile_q(stat: str) -> float | None:
    """``p99`` → 0.99, ``p50`` → 0.5, ``p999`` → 0.999; None for other stats."""
    if len(stat) > 1 and stat[0] == "p" and stat[1:].isdigit():
        digits = stat[1:]
        return float(int(digits)) / float(10 ** len(digits))
    return None


def kind(c: Condition) -> str:
    """The condition's kind: ``percentile``, ``rate``, ``mean``, ``extreme`` (max/min),
    ``all`` or ``value`` (the benchmark and the docs tabulate one row per kind)."""
    if percentile_q(c.stat) is not None:
        return "percentile"
    if c.stat in ("max", "min"):
        return "extreme"
    return c.stat if c.stat in ("rate", "mean", "all") else "value"


def least_evidence(c: Condition, confidence: float) -> int:
    """The fewest observations on which a *perfect* service can pass ``c`` (every sample
    at its best, every trial favourable): a catalog's ``min_evidence`` must be at least
    this, or the level could never be shown (``tests/unit/spec`` checks it)."""
    q = percentile_q(c.stat)
    if q is not None:  # the bound is the most extreme order statistic
        p = q if _upper_side(c.op) else 1.0 - q
        return math.ceil(math.log(1.0 - confidence) / math.log(p))
    if c.stat == "rate" and not isinstance(c.value, bool):
        limit = float(c.value)
        p = limit if not _upper_side(c.op) else 1.0 - limit
        if p <= 0.0:
            return 1
        # Clopper–Pearson with n of n favourable: the bound is (1 − confidence)^(1/n)
        n = math.ceil(math.log(1.0 - confidence) / math.log(p))
        while (clopper_pearson(n, n, confidence, "lower").lower or 0.0) < p:  # rounding
            n += 1
        return n
    return 2 if c.stat == "mean" else 1


def _upper_side(op: str) -> bool:
    """Whether the limit is a ceiling (a pass is shown by an upper bound)."""
    return op in ("<=", "<")


def favourable(op: str) -> Side:
    return "upper" if _upper_side(op) else "lower"


def pooled(ms: Sequence[Measurement]) -> tuple[list[float], list[Obs], list[Measurement]]:
    samples = [x for m in ms if m.samples is not None for x in m.samples]
    obs = [o for m in ms if m.observations is not None for o in m.observations]
    values = [m for m in ms if m.samples is None and m.observations is None]
    return samples, obs, values


def _res(c: Condition, outcome: Outcome, reason: str | None, detail: str | None,
         point: float | bool | None, bound: float | None, n: int | None,
         fail_bound: float | None = None) -> ConditionResult:
    return ConditionResult(c.metric, c.stat, c.op, c.value, outcome,
                           reason, detail, point, bound, n, fail_bound)


def _fmt(x: float | None) -> str:
    return "none" if x is None else f"{x:.6g}"


def decide(c: Condition, point: float | None, upper: float | None, lower: float | None,
           n: int | None, what: str, unsure: str = INSUFFICIENT_SAMPLES) -> ConditionResult:
    """The rule on one figure with its one-sided ``upper`` and ``lower`` bounds (None: the
    evidence cannot give that bound)."""
    ok = OPS[c.op]
    limit = float(c.value)
    fav, adv = (upper, lower) if _upper_side(c.op) else (lower, upper)
    if c.op == "==":  # an equality is shown only by an exact figure
        if upper is not None and upper == lower == limit:
            return _res(c, "pass", None, None, point, upper, n, lower)
        if (upper is not None and upper < limit) or (lower is not None and lower > limit):
            return _res(c, "fail", THRESHOLD_EXCEEDED,
                        f"{what} {_fmt(point)} is not == {limit:g} (bounds {_fmt(lower)}"
                        f"..{_fmt(upper)}, n={n})", point, upper, n, lower)
        return _res(c, "inconclusive", unsure,
                    f"{what} {_fmt(point)}: bounds {_fmt(lower)}..{_fmt(upper)} neither show "
                    f"nor exclude == {limit:g} (n={n})", point, upper, n, lower)
    if fav is not None and ok(fav, limit):
        return _res(c, "pass", None, None, point, fav, n, adv)
    side = "upper" if _upper_side(c.op) else "lower"
    other = "lower" if _upper_side(c.op) else "upper"
    if adv is not None and not ok(adv, limit):
        return _res(c, "fail", THRESHOLD_EXCEEDED,
                    f"{what} {_fmt(point)}: its {other} confidence bound {adv:.6g} is not "
                    f"{c.op} {limit:g} (n={n})", point, fav, n, adv)
    shown = "does not exist" if fav is None else f"is {fav:.6g}"
    return _res(c, "inconclusive", unsure,
                f"{what} {_fmt(point)}: its {side} confidence bound {shown}, its {other} "
                f"bound {_fmt(adv)}; neither shows or refutes {c.op} {limit:g} (n={n})",
                point, fav, n, adv)


def _rate(c: Condition, obs: Sequence[Obs], confidence: float) -> ConditionResult:
    decided = [o for o in obs if o.ok is not None]
    undecided = [o for o in obs if o.ok is None]
    if not obs:
        return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} trials", None, None, 0)
    k = sum(1 for o in decided if o.ok)
    u, n = len(undecided), len(obs)
    # unsettled trials: the unfavourable outcome for the pass, the favourable for the fail
    hi = clopper_pearson(k + u, n, confidence, "upper").upper
    lo = clopper_pearson(k, n, confidence, "lower").lower
    point = k / len(decided) if decided else None
    why = (undecided[0].reason or INSUFFICIENT_SAMPLES) if undecided else INSUFFICIENT_SAMPLES
    r = decide(c, point, hi, lo, n, f"rate({c.metric}) {k}/{len(decided)} =", why)
    if r.outcome == "inconclusive" and undecided:
        return _res(c, "inconclusive", why, f"{r.detail}; {u} of {n} trials cannot be "
                    f"settled: {undecided[0].detail}", point, r.bound, n, r.fail_bound)
    return r


def _mean_excess(c: Condition, r: ConditionResult, samples: Sequence[float],
                 confidence: float) -> ConditionResult:
    """A mean's pass under a ceiling stands only if the excess bound meets the limit too."""
    if not _upper_side(c.op):
        return r
    ex = excess_bound(samples, confidence)
    if ex.bound is not None and OPS[c.op](ex.bound, float(c.value)):
        return r
    return _res(c, "inconclusive", INSUFFICIENT_SAMPLES,
                f"mean({c.metric}) {_fmt(r.point)} meets {c.op} {float(c.value):g} on its t "
                f"bound {_fmt(r.bound)}, but {ex.positive} of {ex.n} values are above 0 (up "
                f"to {ex.largest:.6g}): their share's upper bound {_fmt(ex.share_upper)} x "
                f"{ex.largest:.6g} = {_fmt(ex.bound)} is not {c.op} {float(c.value):g}",
                r.point, ex.bound, r.n, r.fail_bound)


def _all(c: Condition, obs: Sequence[Obs]) -> ConditionResult:
    bad = [o for o in obs if o.ok is not None and o.ok is not c.value]
    undecided = [o for o in obs if o.ok is None]
    if bad:
        return _res(c, "fail", THRESHOLD_EXCEEDED,
                    f"{len(bad)} of {len(obs)} do not hold; first: {bad[0].detail}",
                    False, None, len(obs))
    if undecided:
        u = undecided[0]
        return _res(c, "inconclusive", u.reason or INSUFFICIENT_SAMPLES,
                    f"{len(undecided)} of {len(obs)} cannot be settled: {u.detail}",
                    None, None, len(obs))
    if not obs:
        return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} observations",
                    None, None, 0)
    return _res(c, "pass", None, None, True, None, len(obs))


def _value(c: Condition, m: Measurement) -> ConditionResult:
    if m.value is None and m.lower is None and m.upper is None:
        return _res(c, "inconclusive", NO_EVIDENCE, f"{c.metric} not measured", None, None, 0)
    if isinstance(c.value, bool) or isinstance(m.value, bool):
        ok = m.value == c.value
        return _res(c, "pass" if ok else "fail", None if ok else THRESHOLD_EXCEEDED,
                    None if ok else f"{c.metric} is {m.value}", m.value, None, m.n or 1)
    point = None if m.value is None else float(m.value)
    if m.lower is None and m.upper is None:  # recorded without bounds: exact
        return decide(c, point, point, point, m.n, c.metric)
    return decide(c, point, m.upper, m.lower, m.n, c.metric)


def _combine(c: Condition, parts: Sequence[ConditionResult]) -> ConditionResult:
    """Several measurements of one ``value`` metric: all must pass; one fail fails."""
    for outcome in ("fail", "inconclusive"):
        hit = [r for r in parts if r.outcome == outcome]
        if hit:
            return hit[0]
    return parts[0]


def judge(c: Condition, ms: Sequence[Measurement], confidence: float) -> ConditionResult:
    """Judge ``c`` on the pooled measurements of its metric."""
    samples, obs, values = pooled(ms)
    q = percentile_q(c.stat)
    if q is not None or c.stat == "mean":
        if not samples:
            return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} samples", None, None, 0)
        if q is not None:
            up = quantile_bounds(samples, q, confidence, "upper")
            lo = quantile_bounds(samples, q, confidence, "lower")
            return decide(c, up.point, up.upper, lo.lower, up.n, f"{c.stat}({c.metric})")
        mu = mean_bounds(samples, confidence, "upper")
        ml = mean_bounds(samples, confidence, "lower")
        r = decide(c, mu.mean, mu.upper, ml.lower, mu.n, f"mean({c.metric})")
        return _mean_excess(c, r, samples, confidence) if r.outcome == "pass" else r
    if c.stat in ("max", "min") and samples:
        v = (max if c.stat == "max" else min)(samples)
        return decide(c, v, v, v, len(samples), f"{c.stat}({c.metric})")
    if c.stat == "all":
        return _all(c, obs)
    if c.stat == "rate":
        return _rate(c, obs, confidence)
    if not values:
        return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} value", None, None, 0)
    return _combine(c, [_value(c, m) for m in values])


def summarise(c: Condition, ms: Sequence[Measurement], unit: str,
              confidence: float) -> MeasuredValue:
    """The measured figure for ``stat(metric)`` with both one-sided bounds."""
    samples, obs, values = pooled(ms)
    q = percentile_q(c.stat)
    if q is not None and samples:
        up = quantile_bounds(samples, q, confidence, "upper")
        lo = quantile_bounds(samples, q, confidence, "lower")
        return MeasuredValue(c.metric, c.stat, up.point, unit, lo.lower, up.upper, up.n)
    if c.stat == "mean" and samples:
        mu = mean_bounds(samples, confidence, "upper")
        ml = mean_bounds(samples, confidence, "lower")
        return MeasuredValue(c.metric, c.stat, mu.mean, unit, ml.lower, mu.upper, mu.n)
    if c.stat in ("rate", "all") and obs:
        decided = [o for o in obs if o.ok is not None]
        k = sum(1 for o in decided if o.ok)
        if c.stat == "all":
            return MeasuredValue(c.metric, c.stat, k == len(obs), unit, None, None, len(obs))
        lo_r = clopper_pearson(k, len(decided), confidence, "lower")
        up_r = clopper_pearson(k, len(decided), confidence, "upper")
        return MeasuredValue(c.metric, c.stat, lo_r.point, unit, lo_r.lower, up_r.upper,
                             len(decided))
    if values:
        m = values[0]
        v = m.value if isinstance(m.value, bool) or m.value is None else float(m.value)
        return MeasuredValue(c.metric, c.stat, v, unit, m.lower, m.upper, m.n)
    if samples:
        v = (min if c.stat == "min" else max)(samples)
        return MeasuredValue(c.metric, c.stat, v, unit, None, None, len(samples))
    return MeasuredValue(c.metric, c.stat, None, unit, None, None, 0)
