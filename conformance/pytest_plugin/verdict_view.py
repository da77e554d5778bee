"""The verdicts as pytest sees them: one test report per requirement (``tokencert::ID``),
sent through ``pytest_runtest_logreport`` once the verdicts are decided at the end of the
session, so pytest's summary, exit status and any JUnit file follow them; and the verdict
lines of the terminal summary. The mapping is the JUnit view's (conformance.report.junit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from conformance.report.junit import cause, details, junit_outcome

VERDICT_NODE = "tokencert::{}"
SHOULD_FAILED = "SHOULD failed"


def verdict_reports(doc: Mapping[str, Any]) -> list[pytest.TestReport]:
    """One pytest report per requirement, decided by its verdict (as in the JUnit view):
    a MUST fail is ``failed``; inconclusive, not applicable and manual are ``skipped`` with
    the reason; a SHOULD fail is ``passed`` in pytest's terms (it never fails the run) and
    counted as "SHOULD failed" in the summary."""
    out = []
    for r in doc.get("requirements", []):
        nodeid = VERDICT_NODE.format(r["id"])
        kind = junit_outcome(r)
        longrepr: Any = None
        if kind == "failed" and r.get("obligation") != "MUST":
            kind = "passed"
        elif kind == "failed":
            longrepr = f"{cause(r)}\n{details(r)}"
        elif kind == "skipped":
            longrepr = ("tokencert", None, f"Skipped: {r['id']} {cause(r)}")
        rep = pytest.TestReport(nodeid, ("tokencert", None, r["id"]), {r["id"]: 1}, kind,
                                longrepr, "call", user_properties=[
                                    ("obligation", r.get("obligation")),
                                    ("outcome", r.get("outcome")), ("level", r.get("level"))])
        setattr(rep, "tokencert_verdict", r)  # noqa: B010 (pytest reports take extra attributes)
        out.append(rep)
    return out


def verdict_summary(doc: Mapping[str, Any]) -> list[str]:
    """The verdicts for the terminal: a header, then each failed requirement with its
    cause, then a count of the rest."""
    reqs = list(doc.get("requirements", []))
    s = doc.get("summary", {})
    level = f"level {s['level']}" if s.get("level") else "no level"
    lines = [f"tokencert verdicts: {level}, run {doc.get('status')}"
             + (f" ({s['reason']})" if s.get("reason") else "")]
    for obligation in ("MUST", "SHOULD"):
        for r in reqs:
            if r.get("outcome") == "fail" and (r.get("obligation") == "MUST") == (
                    obligation == "MUST"):
                lines.append(f"  {obligation} FAILED {r['id']}: {cause(r, 160)}")
    counts = Counter(str(r.get("outcome")) for r in reqs)
    lines.append("  " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(
        counts.items())))
    return lines
