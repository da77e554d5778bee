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


def test_counts_follow_and_a_failed_must_blocks_certification(tmp_path: Path) -> None:
    from conformance.certificate.preflight import check_run

    run = make_run_dir(tmp_path)
    before = json.loads((run / "results.json").read_text(encoding="utf-8"))["summary"]
    decide_manual(run)
    summary = json.loads((run / "results.json").read_text(encoding="utf-8"))["summary"]
    assert summary["counts"]["manual"] == 0
    assert summary["counts"]["pass"] == before["counts"]["pass"] + before["counts"]["manual"]
    assert summary["per_category"]["DATA"]["counts"]["pass"] == 5
    assert summary["level"] == before["level"]  # the verdicts stage owns the level
    record_review(run, "DATA-003", "fail", "trains on customer data by default")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    pre = check_run(results, run / "results.json")
    assert pre.problems == ()
    assert any("DATA-003: failed the evaluator's review" in p.message for p in pre.waived)


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
