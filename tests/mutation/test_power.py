"""The power of the mutation matrix's rate rows (no services: pure arithmetic, power.py).

Every row whose defect acts at a rate (one request in k) must detect it with probability
>= 95% at its profile's size under the two-sided decision rule, with the faults at random
and as the reference service places them (one per block of k, at a seeded position)."""

from __future__ import annotations

import pytest
from mutation_matrix import OVERRIDES, RATE_ROWS, ROWS
from power import (
    MIN_POWER,
    RateRow,
    least_faults_for_percentile,
    least_faults_for_rate,
    power_as_placed,
)


def test_least_faults_match_the_known_bounds() -> None:
    # Clopper-Pearson 95% one-sided: 3 of 80 has lower bound 0.0104 > 0.01, 2 of 80 not
    assert least_faults_for_rate(80, 0.01) == 3
    assert least_faults_for_rate(10, 0.5) is not None
    assert least_faults_for_rate(3, 0.5) is None  # 3 of 3: lower bound 0.368
    # p99 of 299 samples: the lower bound is X(kl) with kl <= 299, so one sample beyond it
    # at least; of 100 samples it takes 4 (X(97))
    assert least_faults_for_percentile(100, 0.99) == 4


def test_power_is_monotonic_in_the_sample_size() -> None:
    ps = [RateRow("rate", n, 10, 0.99, "").power for n in (20, 40, 80, 160, 320)]
    assert ps == sorted(ps) and ps[-1] > 0.99


def test_power_as_placed_counts_whole_and_partial_blocks() -> None:
    # 48 requests, one in 6: 7 full blocks at least, wherever the window starts; 8 for
    # certain only when it starts at a block (else two partial blocks: 1 - 1/2 * 1/2)
    assert power_as_placed(48, 6, 7) == 1.0
    assert power_as_placed(48, 6, 8) == 0.75
    assert power_as_placed(48, 6, 9) == 0.0
    # 10 requests, one in 4, starting at the last of a block: 2 full blocks and two
    # partial ones of a quarter each
    assert abs(power_as_placed(10, 4, 3) - (1 - 0.75 ** 2)) < 1e-12
    assert power_as_placed(10, 4, None) == 0.0


@pytest.mark.parametrize("defect", sorted(RATE_ROWS))
def test_every_rate_row_detects_its_defect_with_95_percent_power(defect: str) -> None:
    r = RATE_ROWS[defect]
    assert r.power >= MIN_POWER, f"{defect}: {r.shown()}"
    assert r.power_placed >= MIN_POWER, f"{defect}: {r.shown()}"


def test_rate_rows_describe_the_row_that_runs() -> None:
    for d, r in RATE_ROWS.items():
        o = OVERRIDES[d]
        sustained = o.phases.get("sustained", {})
        if "requests" in sustained:  # a request-bounded row: n is its request count
            assert r.n == sustained["requests"], d
        if o.param is not None:  # the row's defect parameter is its "one in k"
            assert r.every == round(o.param), d
        assert r.kind == "rate" or 0.0 < r.limit < 1.0
        assert ROWS[d].requirement  # a row of the matrix
