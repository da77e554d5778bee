"""The scaling sweep of PERF-006's figure: the sustained workload at each power of two
between one stream and the declared concurrency (conformance.plan.sweep), where the profile
has a ``sweep`` phase (standard, certification). It records no measurement: PERF-006's
verdict reads the scaling and sustained phases (test_perf_scaling.py); the sweep's records
give the report throughput and TTFT at four or more concurrency levels."""

from __future__ import annotations

import pytest

from conformance.plan import Plan
from conformance.plan.sweep import SWEEP, segments
from conformance.pytest_plugin.session import Session


@pytest.mark.requirement("PERF-006")
def test_scaling_sweep(tokencert_session: Session, plan: Plan) -> None:
    pp = plan.phase(SWEEP)
    if pp is None:  # the profile has no sweep (quick): nothing to run
        return
    for seg in segments(pp, tokencert_session.profile.seed):
        tokencert_session.run_plan_phase(seg)
