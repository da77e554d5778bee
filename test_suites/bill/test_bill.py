"""BILL-001..003: billing transparency.

BILL-002/003 read every response of the run (``run_late(2)``: after every other test), so
the cost per workload covers every phase that ran; each also sends a few billing probes of
its own so that a run selecting only BILL has something to bill.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from conformance.checks import billing, metering
from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.pytest_plugin.fixtures import ProbeClient
from conformance.pytest_plugin.record import Recorder
from conformance.run.client import ChatParams
from conformance.run.records import RequestRecord
from conformance.spec import Requirement

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import Audit, RunRecords

PLAIN_PROBES = 12    # non-streamed (usage in the body)
STREAM_PROBES = 4    # streamed with include_usage
EXPORT_WAIT_S = 3.0  # a stream is billed after its last chunk: give the export a moment


@pytest.fixture(scope="module")
def billing_probes(client: ProbeClient) -> list[RequestRecord]:
    reqs: list[tuple[str, ChatParams]] = []
    for i in range(PLAIN_PROBES + STREAM_PROBES):
        stream = i >= PLAIN_PROBES
        extra: dict[str, object] = {"temperature": 0, **({"stream_options": {"include_usage": True}}
                                      if stream else {})}
        reqs.append((f"bill-{i}", ChatParams(
            messages=({"role": "user", "content": f"Billing probe {i}: name three prime "
                       "numbers and say why each is prime."},),
            max_tokens=16, stream=stream, extra=extra)))
    return client.many(reqs, phase="billing")


@pytest.mark.requirement("BILL-001")
def test_price_list(record: Recorder, declaration: Declaration) -> None:
    record.observe(billing.price_list_complete(declaration))


def _workload(plan: Plan, r: RequestRecord) -> str:
    ph = plan.phase(r.phase)
    return (ph.workload if ph is not None and ph.workload else None) or r.phase


@pytest.mark.requirement("BILL-002")
@pytest.mark.run_late(2)
def test_cost_per_workload(billing_probes: list[RequestRecord], run_records: RunRecords,
                           record: Recorder, plan: Plan, declaration: Declaration,
                           audit: Audit) -> None:
    recs = [(_workload(plan, r), r) for r in run_records() if metering.usage_expected(r)]
    # the auditor's completion counts price every request beside the service's figures
    record.observations("cost_reported", billing.costs_reported(
        recs, declaration.pricing, audited={r.request_id: audit(r).audited
                                            + audit(r).hidden_reasoning for _, r in recs}))


@pytest.mark.requirement("BILL-003")
@pytest.mark.run_late(2)
def test_billing_export_reconciles(billing_probes: list[RequestRecord], run_records: RunRecords,
                                   record: Recorder, declaration: Declaration, audit: Audit,
                                   requirement: Requirement) -> None:
    exp = declaration.billing_export
    assert exp is not None, "BILL-003 applies only where the declaration names an export"
    recs = run_records()
    delivered = _delivered(recs, audit)
    wanted = [r for r in recs if r.ok and metering.is_chat(r) and isinstance(r.usage, dict)]
    deadline = time.monotonic() + EXPORT_WAIT_S
    while True:
        rows = billing.load_export(exp.path, exp.format) if exp.path.is_file() else []
        idx = billing.index_rows(rows)
        if all(billing.rows_for(r, idx) for r in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    tol = Decimal(str(requirement.param("charge_tolerance")))
    record.observations("reconciled", billing.reconcile(recs, rows, declaration.pricing,
                                                        tolerance=tol, delivered=delivered),
                        detail={"export": str(exp.path), "rows": len(rows)})


def _delivered(recs: Sequence[RequestRecord], audit: Audit) -> dict[str, int]:
    """Record id → the most completion tokens it may be billed for: the auditor's settled
    count (logprobs, one token per chunk, the cut of max_tokens; the EOS token where
    declared), plus reasoning reported but never shown (unauditable, taken as reported)."""
    out: dict[str, int] = {}
    for r in recs:
        if not (r.ok and metering.is_chat(r)):
            continue
        a = audit(r)
        if a.exact is not None and not a.problems:
            out[r.request_id] = a.exact + a.hidden_reasoning
    return out
