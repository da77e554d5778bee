"""Percentiles with distribution-free confidence bounds from order statistics.

For a sample of ``n`` independent draws, the number of draws below the true q-quantile
``ξ_q`` is Binomial(n, q) (for a continuous distribution). Hence for the k-th smallest
value ``X_(k)``:

* ``P(X_(k) ≥ ξ_q) = P(Bin(n, q) ≤ k − 1)`` — the upper bound is the smallest such ``X_(k)``
  with that probability ≥ c;
* ``P(X_(k) ≤ ξ_q) = P(Bin(n, q) ≥ k)`` — the lower bound is the largest such ``X_(k)``.

No distribution is assumed. When even ``X_(n)`` (or ``X_(1)``) does not reach confidence
c the bound does not exist and is ``None``: the 95% upper bound of p99 needs n ≥ 299.
The point estimate is the nearest-rank quantile ``X_(⌈nq⌉)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.stats import binom

Sided = Literal["upper", "lower", "two"]


@dataclass(frozen=True)
class QuantileEstimate:
    q: float
    n: int
    point: float | None
    lower: float | None  # None: not requested, or the sample cannot support it
    upper: float | None
    confidence: float
    sided: Sided


def quantile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank q-quantile (``X_(⌈nq⌉)``, at least the smallest value); None if empty."""
    _check_q(q)
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v), max(1, math.ceil(q * len(v)))) - 1]


def upper_rank(n: int, q: float, confidence: float) -> int | None:
    """Smallest 1-based rank k with ``P(X_(k) ≥ ξ_q) ≥ confidence``, or None."""
    _check_q(q)
    if n < 1:
        return None
    # binom.cdf(k-1, n, q) is increasing in k; find the first k reaching the confidence
    k = int(binom.ppf(confidence, n, q)) + 1
    while k > 1 and binom.cdf(k - 2, n, q) >= confidence:  # guard against ppf rounding
        k -= 1
    while k <= n and binom.cdf(k - 1, n, q) < confidence:
        k += 1
    return k if k <= n else None


def lower_rank(n: int, q: float, confidence: float) -> int | None:
    """Largest 1-based rank k with ``P(X_(k) ≤ ξ_q) ≥ confidence``, or None."""
    _check_q(q)
    if n < 1:
        return None
    # P(Bin ≥ k) = binom.sf(k-1) is decreasing in k
    k = int(binom.isf(confidence, n, q))
    k = max(0, min(n, k))
    while k < n and binom.sf(k, n, q) >= confidence:
        k += 1
    while k >= 1 and binom.sf(k - 1, n, q) < confidence:
        k -= 1
    return k if k >= 1 else None


def quantile_bounds(
    values: Sequence[float], q: float, confidence: float = 0.95, sided: Sided = "upper"
) -> QuantileEstimate:
    """The q-quantile of ``values`` with a one-sided (``upper``/``lower``) or two-sided
    distribution-free bound at ``confidence``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    v = sorted(values)
    n = len(v)
    per_side = confidence if sided != "two" else 1.0 - (1.0 - confidence) / 2.0
    lo = hi = None
    if sided in ("upper", "two"):
        k = upper_rank(n, q, per_side)
        hi = v[k - 1] if k is not None else None
    if sided in ("lower", "two"):
        k = lower_rank(n, q, per_side)
        lo = v[k - 1] if k is not None else None
    return QuantileEstimate(q, n, quantile(v, q), lo, hi, confidence, sided)


def min_samples_upper(q: float, confidence: float = 0.95) -> int:
    """Smallest n for which the upper bound of the q-quantile exists (1 − q^n ≥ c)."""
    _check_q(q)
    return math.ceil(math.log(1.0 - confidence) / math.log(q))


def _check_q(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q}")


@dataclass(frozen=True)
class QuantileRatio:
    """``q``-quantile of ``num`` ÷ ``q``-quantile of ``den`` with conservative bounds."""

    q: float
    n: int  # the smaller sample
    point: float | None
    lower: float | None
    upper: float | None
    confidence: float


def quantile_ratio(num: Sequence[float], den: Sequence[float], q: float,
                   confidence: float = 0.95) -> QuantileRatio:
    """The ratio of two independent samples' q-quantiles. Bounds combine the order-statistic
    bounds of each quantile at ``1 − (1 − confidence)/2`` (Bonferroni): the upper bound is
    upper(num) ÷ lower(den), the lower bound lower(num) ÷ upper(den), and each holds with
    probability ≥ ``confidence`` without any assumption on either distribution. A bound
    whose parts do not exist for so few samples (or a denominator ≤ 0) is None."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    each = 1.0 - (1.0 - confidence) / 2.0
    a_hi = quantile_bounds(num, q, each, "upper").upper
    a_lo = quantile_bounds(num, q, each, "lower").lower
    b_hi = quantile_bounds(den, q, each, "upper").upper
    b_lo = quantile_bounds(den, q, each, "lower").lower

    def div(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None or y <= 0 else x / y

    return QuantileRatio(q, min(len(num), len(den)), div(quantile(num, q) if num else None,
                                                          quantile(den, q) if den else None),
                         div(a_lo, b_hi),
                         div(a_hi, b_lo), confidence)
