"""stats.quantile_ratio: Bonferroni bounds on a ratio of two quantiles."""

from __future__ import annotations

import math
import random

import pytest

from conformance.stats import quantile_ratio


def test_point_and_bounds_bracket_the_ratio() -> None:
    rng = random.Random(1)
    num = [20 + rng.random() for _ in range(50)]
    den = [10 + rng.random() for _ in range(50)]
    r = quantile_ratio(num, den, 0.5)
    assert r.point is not None and r.lower is not None and r.upper is not None
    assert r.lower <= r.point <= r.upper
    assert r.n == 50 and 1.8 < r.point < 2.2


def test_small_samples_have_no_bound() -> None:
    # p50 bounds at 97.5% per side need n >= 6 (0.5^5 = 0.031 > 0.025)
    r = quantile_ratio([9.0] * 5, [8.0] * 5, 0.5)
    assert r.point == pytest.approx(9 / 8) and r.upper is None and r.lower is None
    r6 = quantile_ratio([9.0] * 6, [8.0] * 6, 0.5)
    assert r6.upper == pytest.approx(9 / 8) and r6.lower == pytest.approx(9 / 8)


def test_empty_or_zero_denominator() -> None:
    assert quantile_ratio([], [1.0], 0.5).point is None
    assert quantile_ratio([1.0] * 9, [0.0] * 9, 0.5).point is None
    with pytest.raises(ValueError):
        quantile_ratio([1.0], [1.0], 0.5, confidence=1.0)


def test_upper_bound_covers_the_true_ratio() -> None:
    # lognormal samples: true medians e^mu; the 95% upper bound must cover >= 95% of the time
    rng = random.Random(7)
    misses, trials = 0, 400
    for _ in range(trials):
        num = [rng.lognormvariate(1.0, 0.5) for _ in range(12)]
        den = [rng.lognormvariate(0.3, 0.5) for _ in range(9)]
        r = quantile_ratio(num, den, 0.5)
        assert r.upper is not None
        misses += r.upper < math.exp(0.7)
    assert misses / trials <= 0.05
