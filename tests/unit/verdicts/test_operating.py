"""The decision rule's operating characteristics: a small, seeded run of
``benchmarks/verdicts/operating.py`` (the full table is in docs/metrics.md). The exact
figures must be ≤ 5% for every condition kind of the catalog, and the simulation of the
real verdict code must agree with them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[3] / "benchmarks" / "verdicts" / "operating.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operating", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_false_fail_and_false_pass_at_most_5_percent() -> None:
    op = _bench()
    rows = list(op.rows(runs=60, seed=11))
    kinds = {r.kind.split(":")[0] for r in rows}
    assert {"percentile", "rate", "mean", "all", "extreme", "value"} <= kinds
    bad = [(r.kind, r.condition, r.n) for r in rows if not r.ok]
    assert not bad
    exact = [r for r in rows if r.exact_fail is not None]
    assert all(r.exact_fail <= 0.05 + 1e-9 and r.exact_pass <= 0.05 + 1e-9 for r in exact)


def test_rare_large_over_billing_passes_at_most_5_percent() -> None:
    """METER-002's excess bound: a service at the limit that over-bills 9.5% of requests by
    10.5x the limit passed the t bound alone ~19% of the time; now only the runs that drew
    none of its over-billed requests (5%) pass."""
    op = _bench()
    rows = [r for r in op.rows(runs=60, seed=11) if r.kind == "mean (rare, large)"]
    assert {r.where for r in rows} == {"METER-002:L1", "METER-002:L2"}
    for r in rows:
        assert r.exact_pass is not None and r.exact_fail is not None
        assert abs(r.exact_pass - 0.05) < 1e-9 and r.exact_fail <= 0.05
    assert op.skewed_mean(400, 3) < 0.08  # the t bound alone passed ~19% of these
