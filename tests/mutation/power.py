"""The power of a mutation row: the probability that its profile detects its defect.

A defect that acts on every request (or every request of a span) fails its requirement by
construction once the row has the evidence the bound needs: power 1. A defect that acts at
a *rate* — one request in k — is detected only when the row draws enough faulty requests for
the unfavourable bound of the decision rule (docs/metrics.md) to prove the violation:

* a rate floor (``share >= floor``): the Clopper–Pearson lower bound of the faulty share
  must exceed ``1 - floor`` — power is P[CP lower(X, n) > 1 - floor], X ~ Binomial(n, 1/k);
* a percentile ceiling (``pq <= limit``, every faulty sample beyond the limit, every clean
  one within it): the order-statistic lower bound X(kl) must be a faulty sample — power is
  P[X >= n - kl + 1], with kl the lower rank of ``conformance.stats.quantiles``.

The reference service picks every k-th request (the first included), so one run's count is
fixed at about n/k; the figures here are those of the same rate drawn at random (a fault in
1 of k requests independently), which is what a real defect does. Pure functions, no
services: tests/mutation/test_power.py checks every rate row's power.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from scipy.stats import beta, binom

from conformance.stats.quantiles import lower_rank

CONFIDENCE = 0.95  # the catalog's one-sided confidence
MIN_POWER = 0.95


def least_faults_for_rate(n: int, limit_share: float, confidence: float = CONFIDENCE) -> int | None:
    """Fewest faulty trials of ``n`` whose Clopper–Pearson lower bound exceeds ``limit_share``
    (None: not even ``n`` of ``n`` would prove it)."""
    a = 1.0 - confidence
    for x in range(1, n + 1):
        if float(beta.ppf(a, x, n - x + 1)) > limit_share:
            return x
    return None


def least_faults_for_percentile(n: int, q: float, confidence: float = CONFIDENCE) -> int | None:
    """Fewest samples beyond the limit of ``n`` that put the q-quantile's lower bound there."""
    kl = lower_rank(n, q, confidence)
    return None if kl is None else n - kl + 1


Kind = Literal["rate", "percentile"]


@dataclass(frozen=True)
class RateRow:
    """A rate-type row: ``n`` trials (requests or samples of the row's profile), one in
    ``every`` faulty, judged against ``limit`` (the floor of a rate; the quantile q of a
    percentile)."""

    kind: Kind
    n: int
    every: int
    limit: float
    what: str  # where n comes from

    @property
    def least_faults(self) -> int | None:
        if self.kind == "rate":
            return least_faults_for_rate(self.n, 1.0 - self.limit)
        return least_faults_for_percentile(self.n, self.limit)

    @property
    def power(self) -> float:
        x = self.least_faults
        return 0.0 if x is None else float(binom.sf(x - 1, self.n, 1.0 / self.every))

    def shown(self) -> str:
        return (f"{self.power:.3f} (n={self.n}, 1 in {self.every}, needs "
                f"{self.least_faults} faults)")


def power_of(defect: str, rows: Mapping[str, RateRow],
             any_one: Mapping[str, int] | None = None) -> str:
    """The power column of docs/mutation-matrix.md for one defect. ``any_one``: defects at a
    rate of one in k judged by an ``all`` condition (one violation fails) over every
    response of the run: power 1 − (1 − 1/k)^n, ≥ 95% once n ≥ ln 0.05 / ln(1 − 1/k)."""
    r = rows.get(defect)
    if r is not None:
        return r.shown()
    k = (any_one or {}).get(defect)
    if k is not None:
        import math

        n95 = math.ceil(math.log(0.05) / math.log(1.0 - 1.0 / k))
        return f"1 − (1 − 1/{k})^n, ≥ 0.95 from n = {n95} responses (one violation fails)"
    return "1 (deterministic)"
