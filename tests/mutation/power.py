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

Two figures per row: **at random** — a fault in 1 of k requests independently, X ~
Binomial(n, 1/k), which is what a real defect does; **as placed** — the reference service
puts exactly one fault in every block of k consecutive requests at a seeded random position
(``ServiceState.faulty_at``), so a window of n consecutive requests holds the full blocks'
faults plus one Bernoulli(share) for each partial block at its ends; the figure is the least
over where the window starts. Pure functions, no services: tests/mutation/test_power.py
checks that both are >= 95% for every rate row.
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


def power_as_placed(n: int, every: int, least: int | None) -> float:
    """P[at least ``least`` faults among ``n`` consecutive requests] when one fault falls in
    every block of ``every`` at a uniform position, for the worst start of the window."""
    if least is None:
        return 0.0
    worst = 1.0
    for start in range(every):
        head = min(n, every - start) if start else 0  # the first block, cut by the window
        full, tail = divmod(n - head, every)
        parts = [p for p in (head / every if 0 < head < every else 0.0, tail / every) if p]
        full += head == every
        # the partial blocks add 0, 1 or 2 faults: P[count >= least] by enumeration
        dist = {full: 1.0}
        for p in parts:
            nxt: dict[int, float] = {}
            for c, w in dist.items():
                nxt[c] = nxt.get(c, 0.0) + w * (1 - p)
                nxt[c + 1] = nxt.get(c + 1, 0.0) + w * p
            dist = nxt
        worst = min(worst, sum(w for c, w in dist.items() if c >= least))
    return worst


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

    @property
    def power_placed(self) -> float:
        """The power with the reference service's placement (one per block of k)."""
        return power_as_placed(self.n, self.every, self.least_faults)

    def shown(self) -> str:
        return (f"{self.power:.3f} at random, {self.power_placed:.3f} as placed (n={self.n}, "
                f"1 in {self.every}, needs {self.least_faults} faults)")


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
