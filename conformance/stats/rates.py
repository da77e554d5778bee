"""Confidence intervals for rates (success, completeness, goodput) and for means, and the
excess bound that guards a mean's ceiling against rare, large values.

Rates use the exact Clopper–Pearson interval only: the Wilson score interval, which this
module had, passes a service exactly at a floor more often than its nominal 5% at the
catalog's sample sizes (docs/metrics.md, "The decision rule")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.stats import beta, t

Method = Literal["clopper-pearson"]
Sided = Literal["upper", "lower", "two"]


@dataclass(frozen=True)
class RateEstimate:
    successes: int
    n: int
    point: float | None  # None when n == 0
    lower: float | None
    upper: float | None
    confidence: float
    method: Method
    sided: Sided


def clopper_pearson(k: int, n: int, confidence: float = 0.95, sided: Sided = "two") -> RateEstimate:
    """Exact (Clopper–Pearson) interval from the beta distribution; conservative."""
    _check(k, n, confidence)
    if n == 0:
        return RateEstimate(k, n, None, None, None, confidence, "clopper-pearson", sided)
    a = 1 - confidence if sided != "two" else (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return RateEstimate(
        k,
        n,
        k / n,
        lo if sided != "upper" else None,
        hi if sided != "lower" else None,
        confidence,
        "clopper-pearson",
        sided,
    )


def rate(
    k: int,
    n: int,
    confidence: float = 0.95,
    sided: Sided = "two",
    method: Method = "clopper-pearson",
) -> RateEstimate:
    return clopper_pearson(k, n, confidence, sided)


@dataclass(frozen=True)
class MeanEstimate:
    n: int
    mean: float | None
    lower: float | None
    upper: float | None
    confidence: float


def mean_bounds(
    values: Sequence[float], confidence: float = 0.95, sided: Sided = "upper"
) -> MeanEstimate:
    """Mean with a Student-t bound (needs n ≥ 2; assumes roughly normal means)."""
    n = len(values)
    if n == 0:
        return MeanEstimate(0, None, None, None, confidence)
    m = math.fsum(values) / n
    if n < 2:
        return MeanEstimate(n, m, None, None, confidence)
    sd = math.sqrt(math.fsum((x - m) ** 2 for x in values) / (n - 1))
    c = confidence if sided != "two" else 1 - (1 - confidence) / 2
    half = float(t.ppf(c, n - 1)) * sd / math.sqrt(n)
    return MeanEstimate(
        n,
        m,
        m - half if sided != "upper" else None,
        m + half if sided != "lower" else None,
        confidence,
    )


@dataclass(frozen=True)
class ExcessBound:
    """A bound on the mean excess above 0 that does not assume normal values: the
    Clopper–Pearson upper bound of the share of positive values times the largest one."""

    n: int
    positive: int  # values above 0
    share_upper: float | None  # one-sided upper bound of the positive share
    largest: float  # the largest value above 0 (0.0 when none)
    bound: float | None  # share_upper × largest


def excess_bound(values: Sequence[float], confidence: float = 0.95) -> ExcessBound:
    """Rare but large positive values (an over-billing of a few requests by a lot) leave the
    Student-t bound short of the mean: a sample of 30 that happens to hold one or none of
    them has a small variance. This bound holds for them: at most ``share_upper`` of the
    values are positive (95%), none larger than the largest seen."""
    pos = [x for x in values if x > 0]
    largest = max(pos, default=0.0)
    if not values:
        return ExcessBound(0, 0, None, 0.0, None)
    share = clopper_pearson(len(pos), len(values), confidence, "upper").upper
    assert share is not None
    return ExcessBound(len(values), len(pos), share, largest, share * largest)


def _check(k: int, n: int, confidence: float) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= n, got {k} of {n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
