"""One threshold condition judged against the measurements of one metric.

Rules (``docs/evidence-format.md`` and the catalog's certification rules):

* percentiles (``p50``, ``p99``, ...) of samples are judged on the one-sided
  distribution-free order-statistic bound at the catalog's confidence (the upper bound
  for ``<=``, the lower bound for ``>=``);
* rates (``stat: rate``) on the one-sided Wilson bound;
* ``stat: all`` — every observation holds; one that cannot be settled is inconclusive;
* ``stat: value`` — the value itself, or its bound when the measurement supplies one.

A point estimate that fails is ``fail``. A point estimate that passes while its bound
does not (or no bound exists for so few samples) is ``inconclusive: insufficient_samples``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Literal

from conformance.run.evidence.records import Measurement, Obs
from conformance.spec.models import Condition
from conformance.stats import mean_bounds, quantile_bounds, wilson
from conformance.verdicts.model import (
    INSUFFICIENT_SAMPLES,
    NO_EVIDENCE,
    THRESHOLD_EXCEEDED,
    ConditionResult,
    MeasuredValue,
)

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
    "==": operator.eq, "!=": operator.ne,
}


def percentile_q(stat: str) -> float | None:
    """``p99`` → 0.99, ``p50`` → 0.5, ``p999`` → 0.999; None for other stats."""
    if len(stat) > 1 and stat[0] == "p" and stat[1:].isdigit():
        digits = stat[1:]
        return float(int(digits)) / float(10 ** len(digits))
    return None


Side = Literal["upper", "lower"]


def _side(op: str) -> Side:
    return "upper" if _upper_side(op) else "lower"


def _upper_side(op: str) -> bool:
    """Whether the limit is a ceiling (judged on an upper bound)."""
    return op in ("<=", "<")


def pooled(ms: Sequence[Measurement]) -> tuple[list[float], list[Obs], list[Measurement]]:
    samples = [x for m in ms if m.samples is not None for x in m.samples]
    obs = [o for m in ms if m.observations is not None for o in m.observations]
    values = [m for m in ms if m.samples is None and m.observations is None]
    return samples, obs, values


def _res(c: Condition, outcome: str, reason: str | None, detail: str | None,
         point: float | bool | None, bound: float | None, n: int | None) -> ConditionResult:
    return ConditionResult(c.metric, c.stat, c.op, c.value, outcome,  # type: ignore[arg-type]
                           reason, detail, point, bound, n)


def _bounded(c: Condition, point: float, bound: float | None, n: int | None,
             what: str) -> ConditionResult:
    ok = OPS[c.op]
    limit = float(c.value)
    if not ok(point, limit):
        return _res(c, "fail", THRESHOLD_EXCEEDED,
                    f"{what} {point:.6g} is not {c.op} {limit:g}", point, bound, n)
    if bound is None or not ok(bound, limit):
        shown = "does not exist" if bound is None else f"is {bound:.6g}"
        return _res(c, "inconclusive", INSUFFICIENT_SAMPLES,
                    f"{what} {point:.6g} meets {c.op} {limit:g} but its "
                    f"{'upper' if _upper_side(c.op) else 'lower'} confidence bound {shown}"
                    f" (n={n})", point, bound, n)
    return _res(c, "pass", None, None, point, bound, n)


def judge(c: Condition, ms: Sequence[Measurement], confidence: float) -> ConditionResult:
    """Judge ``c`` on the pooled measurements of its metric."""
    samples, obs, values = pooled(ms)
    q = percentile_q(c.stat)
    if q is not None or c.stat == "mean":
        if not samples:
            return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} samples", None, None, 0)
        sided = _side(c.op)
        if q is not None:
            est = quantile_bounds(samples, q, confidence, sided)
            assert est.point is not None
            return _bounded(c, est.point, est.upper if sided == "upper" else est.lower,
                            est.n, f"{c.stat}({c.metric})")
        mb = mean_bounds(samples, confidence, sided)
        assert mb.mean is not None
        return _bounded(c, mb.mean, mb.upper if sided == "upper" else mb.lower, mb.n,
                        f"mean({c.metric})")
    if c.stat == "max" and samples:
        v = max(samples)
        ok = OPS[c.op](v, float(c.value))
        return _res(c, "pass" if ok else "fail", None if ok else THRESHOLD_EXCEEDED,
                    None if ok else f"max {v:.6g} is not {c.op} {c.value}", v, v, len(samples))
    if c.stat in ("rate", "all"):
        decided = [o for o in obs if o.ok is not None]
        undecided = [o for o in obs if o.ok is None]
        if c.stat == "all":
            bad = [o for o in decided if o.ok is not c.value]
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
        n = len(decided)
        if n == 0:
            return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} trials", None, None, 0)
        k = sum(1 for o in decided if o.ok)
        side = _side(c.op)
        rest = wilson(k, n, confidence, side)
        assert rest.point is not None
        r = _bounded(c, rest.point, rest.upper if side == "upper" else rest.lower, n,
                     f"rate({c.metric}) {k}/{n} =")
        if r.outcome == "pass" and undecided:
            u = undecided[0]
            return _res(c, "inconclusive", u.reason or INSUFFICIENT_SAMPLES,
                        f"{len(undecided)} trials cannot be settled: {u.detail}",
                        rest.point, r.bound, n)
        return r
    # stat: value
    if not values:
        return _res(c, "inconclusive", NO_EVIDENCE, f"no {c.metric} value", None, None, 0)
    if isinstance(c.value, bool) or any(isinstance(m.value, bool) for m in values):
        vals = [m.value for m in values]
        ok = all(v == c.value for v in vals)
        return _res(c, "pass" if ok else "fail", None if ok else THRESHOLD_EXCEEDED,
                    None if ok else f"{c.metric} is {vals}", all(bool(v) for v in vals), None,
                    len(vals))
    upper = _upper_side(c.op)
    # several values of one metric: the least favourable one is judged
    worst = (max if upper else min)(values, key=lambda m: float(m.value or 0.0))
    if worst.value is None:
        return _res(c, "inconclusive", NO_EVIDENCE, f"{c.metric} not measured", None, None, 0)
    point = float(worst.value)
    bound = worst.upper if upper else worst.lower
    has_bound = (worst.upper is not None) or (worst.lower is not None)
    if not has_bound:
        ok = OPS[c.op](point, float(c.value))
        return _res(c, "pass" if ok else "fail", None if ok else THRESHOLD_EXCEEDED,
                    None if ok else f"{c.metric} {point:.6g} is not {c.op} {c.value:g}",
                    point, None, worst.n)
    return _bounded(c, point, bound, worst.n, c.metric)


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
        lo_r = wilson(k, len(decided), confidence, "lower")
        up_r = wilson(k, len(decided), confidence, "upper")
        return MeasuredValue(c.metric, c.stat, lo_r.point, unit, lo_r.lower, up_r.upper,
                             len(decided))
    if values:
        m = values[0]
        v = m.value if isinstance(m.value, bool) or m.value is None else float(m.value)
        return MeasuredValue(c.metric, c.stat, v, unit, m.lower, m.upper, m.n)
    if samples:
        return MeasuredValue(c.metric, c.stat, max(samples), unit, None, None, len(samples))
    return MeasuredValue(c.metric, c.stat, None, unit, None, None, 0)
