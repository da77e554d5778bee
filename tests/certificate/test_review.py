"""Manual requirements: the evaluator's decision becomes hashed, appended evidence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tokencert_testkit import decide_manual, make_run_dir

from conformance._core.errors import InputError
from conformance._core.schema import validate_data
from conformance.certificate import record_review


def test_review_records_evidence_and_updates_results(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path)
    doc = tmp_path / "contract.pdf"
    doc.write_bytes(b"%PDF- hosting contract")
    review = record_review(run, "DATA-001", "pass", "regions match the contract", doc,
                           reviewer="Jane")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert validate_data("results", results) == []
    entry = next(r for r in results["requirements"] if r["id"] == "DATA-001")
    assert entry["outcome"] == "pass" and entry["review"]["verdict"] == "pass"
    evidence = run / review["evidence"]
    assert hashlib.sha256(evidence.read_bytes()).hexdigest() == review["sha256"]
    att = review["attachment"]
    assert (run / att["path"]).read_bytes() == doc.read_bytes()
    assert att["sha256"] == hashlib.sha256(doc.read_bytes()).hexdigest()
    assert review["evidence"] in entry["evidence"]


def test_decisions_are_appended_never_overwritten(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path)
    first = record_review(run, "DATA-002", "fail", "no deletion procedure")
    second = record_review(run, "DATA-002", "pass", "procedure supplied and tested")
    assert first["evidence"] != second["evidence"]
    assert (run / first["evidence"]).is_file() and (run / second["evidence"]).is_file()
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert next(r for r in results["requirements"] if r["id"] == "DATA-002")[
        "outcome"] == "pass"


def test_summary_follows_the_level_rule(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path)
    decide_manual(run)
    summary = json.loads((run / "results.json").read_text(encoding="utf-8"))["summary"]
    assert summary["level"] == "L2" and summary["certified"] is True
    record_review(run, "DATA-003", "fail", "trains on customer data by default")
    summary = json.loads((run / "results.json").read_text(encoding="utf-8"))["summary"]
    assert summary["level"] is None and not summary["certified"]
    assert "DATA-003" in summary["reason"]


@pytest.mark.parametrize(("rid", "verdict", "note", "match"), [
    ("API-001", "pass", "x", "automated"),
    ("NOPE-001", "pass", "x", "not in this run"),
    ("DATA-001", "maybe", "x", "not one of"),
    ("DATA-001", "pass", "  ", "needs a note"),
])
def test_bad_reviews_are_refused(tmp_path: Path, rid: str, verdict: str, note: str,
                                 match: str) -> None:
    run = make_run_dir(tmp_path)
    with pytest.raises(InputError, match=match):
        record_review(run, rid, verdict, note)
