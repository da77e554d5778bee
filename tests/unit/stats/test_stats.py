"""Order-statistic bounds, rate intervals, mean bounds and windowed series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from conformance.run.evidence.records import Measurement
from conformance.stats import (
    clopper_pearson,
    excess_bound,
    lower_rank,
    mean_bounds,
    min_samples_upper,
    quantile,
    quantile_bounds,
    rate,
    throughput,
    upper_rank,
    windowed,
)


def test_nearest_rank_quantile() -> None:
    v = list(range(1, 101))
    assert quantile(v, 0.5) == 50 and quantile(v, 0.99) == 99 and quantile(v, 0.001) == 1
    assert quantile([], 0.5) is None
    with pytest.raises(ValueError):
        quantile(v, 1.0)


def test_p99_upper_bound_needs_299_samples() -> None:
    assert min_samples_upper(0.99, 0.95) == 299
    assert upper_rank(298, 0.99, 0.95) is None
    assert upper_rank(299, 0.99, 0.95) == 299
    est = quantile_bounds([float(i) for i in range(298)], 0.99)
    assert est.point is not None and est.upper is None
    assert quantile_bounds([float(i) for i in range(299)], 0.99).upper == 298.0


@pytest.mark.parametrize(("n", "q"), [(20, 0.5), (100, 0.9), (1000, 0.99), (57, 0.25)])
def test_ranks_are_the_tightest_with_the_confidence(n: int, q: float) -> None:
    from scipy.stats import binom

    k = upper_rank(n, q, 0.95)
    assert k is not None
    assert binom.cdf(k - 1, n, q) >= 0.95 and (k == 1 or binom.cdf(k - 2, n, q) < 0.95)
    j = lower_rank(n, q, 0.95)
    assert j is not None
    assert binom.sf(j - 1, n, q) >= 0.95 and (j == n or binom.sf(j, n, q) < 0.95)
    assert j <= k


@pytest.mark.parametrize(("n", "q", "sided"), [(60, 0.5, "upper"), (300, 0.99, "upper"),
                                               (80, 0.9, "lower"), (200, 0.9, "two")])
def test_bounds_cover_the_true_quantile(n: int, q: float, sided: str) -> None:
    """Simulation: the bound holds in ≥ 95% of samples (allowing Monte-Carlo noise)."""
    rng = np.random.default_rng(7)
    true = -math.log(1 - q)  # exponential(1) quantile
    trials, covered = 600, 0
    for _ in range(trials):
        est = quantile_bounds(rng.exponential(size=n).tolist(), q, 0.95, sided)  # type: ignore[arg-type]
        ok = True
        if sided in ("upper", "two"):
            ok &= est.upper is not None and est.upper >= true
        if sided in ("lower", "two"):
            ok &= est.lower is not None and est.lower <= true
        covered += ok
    assert covered / trials >= 0.93  # nominal 0.95; 3 sigma of MC noise is ~0.027


def test_rate_intervals_match_scipy() -> None:
    for k, n in [(0, 10), (7, 10), (95, 100), (1000, 1000), (999, 1000)]:
        ci = binomtest(k, n).proportion_ci(0.95, method="exact")
        cp = clopper_pearson(k, n)
        assert cp.lower == pytest.approx(ci.low, abs=1e-9)
        assert cp.upper == pytest.approx(ci.high, abs=1e-9)


def test_one_sided_rate_bounds() -> None:
    lo = rate(995, 1000, sided="lower", method="clopper-pearson")
    assert lo.upper is None and lo.lower is not None and 0.988 < lo.lower < 0.995
    # 100% of 100 successes does not demonstrate 99.0% at 95% one-sided... but it does 97%
    assert (c := clopper_pearson(100, 100, sided="lower").lower) is not None and 0.97 < c < 0.99
    assert clopper_pearson(0, 0).point is None
    with pytest.raises(ValueError):
        clopper_pearson(5, 3)
    # one-sided 95%: n of n successes show a floor p from n = ln 0.05 / ln p
    assert (clopper_pearson(299, 299, sided="lower").lower or 0.0) >= 0.99
    assert (clopper_pearson(298, 298, sided="lower").lower or 1.0) < 0.99


def test_mean_bounds() -> None:
    m = mean_bounds([1.0, 2.0, 3.0, 4.0, 5.0], 0.95, "upper")
    # mean 3, sd 1.5811, t(0.95, 4) = 2.1318 -> 3 + 2.1318 * 1.5811 / sqrt(5) = 4.5074
    assert m.mean == 3.0 and m.upper == pytest.approx(4.5074, abs=1e-3) and m.lower is None
    assert mean_bounds([2.0]).upper is None and mean_bounds([]).mean is None


def test_windowed_series() -> None:
    t0 = 1_000_000_000
    samples = [(t0 + i * 100_000_000, float(i)) for i in range(25)]  # 10 per second
    ws = windowed(samples, t0, 1.0)
    assert [w.n for w in ws] == [10, 10, 5]
    assert ws[0].p50 == 4.0 and ws[1].max == 19.0 and ws[2].start_s == 2.0
    gap = windowed([(t0, 1.0), (t0 + 2_500_000_000, 2.0)], t0, 1.0)
    assert [w.n for w in gap] == [1, 0, 1] and gap[1].p50 is None


def test_throughput_with_window_bounds() -> None:
    t0 = 0
    events = [(i * 10_000_000, 1.0) for i in range(1000)]  # 100 units/s for 10 s
    tp = throughput(events, t0, 10_000_000_000, 1.0)
    assert tp.per_s == pytest.approx(100.0)
    assert len(tp.windows) == 10 and all(r == 100.0 for _, r in tp.windows)
    assert tp.window_mean.lower == pytest.approx(100.0) and tp.window_mean.upper == 100.0
    with pytest.raises(ValueError):
        throughput(events, 5, 5)


def test_excess_bound_is_the_positive_share_bound_times_the_largest() -> None:
    e = excess_bound([0.0] * 29 + [0.05])
    # Clopper-Pearson one-sided 95% upper bound of 1 of 30: 0.1486
    assert e.positive == 1 and e.largest == 0.05
    assert e.share_upper == pytest.approx(0.1486, abs=1e-3)
    assert e.bound == pytest.approx(0.1486 * 0.05, abs=1e-4)
    clean = excess_bound([0.0, -0.01] * 15)  # under-billing adds nothing
    assert clean.positive == 0 and clean.bound == 0.0
    assert excess_bound([]).bound is None


def test_a_rare_large_over_biller_no_longer_passes_a_mean_ceiling() -> None:
    from conformance.spec import Condition
    from conformance.verdicts.conditions import judge

    def outcome(samples: list[float]) -> str:
        c = Condition("billing_bias", "mean", "<=", 0.005)
        return judge(c, [Measurement("X", "billing_bias", samples=tuple(samples))],
                     0.95).outcome

    rare = [0.0] * 29 + [0.05]  # t upper bound 0.0045 <= 0.005; excess 0.0074 is not
    assert mean_bounds(rare).upper is not None and mean_bounds(rare).upper <= 0.005
    assert outcome(rare) == "inconclusive"
    assert outcome([0.0] * 29 + [0.03]) == "pass"  # excess 0.0045: within the tolerance
    assert outcome([0.0] * 30) == "pass"
    assert outcome([0.05] * 20 + [0.0] * 10) == "fail"  # the fail rule is the t bound's
