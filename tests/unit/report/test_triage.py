"""What to fix first: order, grouping by root cause / finding / reason, the profile's note;
the report shows it, and the status plot tells provoked refusals from real errors."""

from __future__ import annotations

import copy
from typing import Any

from conformance.report.html import status_counts
from conformance.report.triage import fix_first, normalised_finding, profile_expectation
from conformance.run.records import RequestRecord


def _set(doc: dict[str, Any], rid: str, **kw: Any) -> None:
    for r in doc["requirements"]:
        if r["id"] == rid:
            r.update(kw)


def test_order_and_grouping(failing_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(failing_doc)
    # one root cause: a missing [DONE] also fails STAB-002's stream completeness
    _set(doc, "STAB-002", outcome="fail", reason="threshold_not_met",
         detail="rate(stream_complete_rate) 0/40 = 0 is not >= 0.99")
    # two METER requirements with the same finding (numbers aside) are one item
    _set(doc, "METER-001", outcome="fail", reason="threshold_not_met",
         detail="2 of 9 do not hold; first: prompt_tokens 12 != 11")
    _set(doc, "METER-005", outcome="fail", reason="threshold_not_met",
         detail="1 of 9 do not hold; first: prompt_tokens 30 != 29")
    _set(doc, "API-005", outcome="fail", reason="threshold_not_met",  # a SHOULD
         detail="1 of 3 do not hold; first: stop ignored")
    _set(doc, "PERF-001", outcome="inconclusive", reason="client_saturated",
         detail="loop lag p99 80 ms")
    doc["client"] = {"sustained": {"saturated": True, "reasons": ["loop lag p99 80 ms"]}}
    items = fix_first(doc)
    kinds = [i.kind for i in items]
    assert kinds == ["MUST fail", "MUST fail", "client problem", "MUST inconclusive",
                     "SHOULD fail"]
    done, meter = items[0], items[1]
    assert done.requirements == ("API-002", "STAB-002") and "[DONE]" in done.cause
    assert meter.requirements == ("METER-001", "METER-005")
    assert items[2].requirements == ("PERF-001",) and "phase sustained" in items[2].figures[0]
    assert items[3].requirements == ("PERF-002",) and items[3].expected  # quick profile
    assert items[4].requirements == ("API-005",)
    assert all(i.action for i in items)


def test_normalised_finding() -> None:
    assert normalised_finding({"detail": "3 of 3 do not hold; first: got 12 tokens"}) == \
        "got # tokens"
    assert normalised_finding({"detail": "p99(ttft_ms) 5585.87 is not <= 5000"}) == \
        "p#(ttft_ms) # is not <= #"


def test_profile_expectation(failing_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(failing_doc)
    assert "quick profile cannot grant a level" in (profile_expectation(doc) or "")
    doc["profile"]["eligible"] = True
    assert profile_expectation(doc) is None


def test_provoked_refusals_are_told_apart() -> None:
    def rec(phase: str, status: int | None, error: str | None = None) -> RequestRecord:
        return RequestRecord(request_id=f"{phase}-{status}", phase=phase, seq=0,
                             status=status, error=error)

    counts, provoked = status_counts({
        "burst": [rec("burst", 200), rec("burst", 429), rec("burst", 503)],
        "security": [rec("security", 401), rec("security", 400)],
        "sustained": [rec("sustained", 200), rec("sustained", 429),
                      rec("sustained", None, "timeout")]})
    assert counts == {"200": 2, "429 provoked (burst)": 1, "503": 1,
                      "401 provoked (security)": 1, "400 provoked (security)": 1,
                      "429": 1, "timeout": 1}
    assert provoked == ["400 provoked (security)", "401 provoked (security)",
                        "429 provoked (burst)"]
