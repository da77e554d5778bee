"""`tokencert run` end to end: results.json valid, evidence kept, no secret on disk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from run_e2e_helpers import run, run_env, tokencert_cmd

from conformance._core.schema import validate_data
from conformance.reference import ReferenceService

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def done_run(ref_fast: ReferenceService, tiny_profile: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run") / "run1"
    p = run(ref_fast, tiny_profile, out)
    assert p.returncode == 0, p.stdout + p.stderr
    return out, p.stdout


def test_results_valid_and_verdicts_sound(done_run: tuple[Path, str]) -> None:
    out, stdout = done_run
    doc = json.loads((out / "results.json").read_text())
    assert validate_data("results", doc) == []
    by_id = {r["id"]: r for r in doc["requirements"]}
    assert doc["status"] == "complete" and doc["only"]
    for rid in ("API-001", "API-002", "API-007"):
        assert by_id[rid]["outcome"] == "pass", by_id[rid]
    # 22 measured streams cannot demonstrate a p99 or a 99% rate: never a pass (latency
    # verdicts may also be client_saturated: 2 cores run the client and the service)
    for rid in ("PERF-001", "PERF-002", "PERF-003"):
        assert by_id[rid]["outcome"] == "inconclusive", by_id[rid]
        assert by_id[rid]["reason"] in ("insufficient_samples", "client_saturated")
    for rid in ("STAB-001", "STAB-002"):
        assert by_id[rid]["outcome"] == "inconclusive", by_id[rid]
        assert by_id[rid]["reason"] == "insufficient_samples", by_id[rid]
    assert by_id["STAB-006"]["reason"] == "insufficient_duration"
    assert by_id["PERF-001"]["measurements"][0]["n"] == 22  # warm-up excluded, none twice
    assert doc["summary"]["certified"] is False
    assert "STAB-001" in stdout and "insufficient_samples" in stdout
    junit = (out / "junit.xml").read_text()  # one test case per requirement
    assert junit.count("<testcase") == 11
    assert 'name="PERF-004"' in junit
    assert (out / "evidence" / "phases" / "sustained.jsonl").exists()


def test_results_recomputed_from_evidence(done_run: tuple[Path, str],
                                          ref_fast: ReferenceService) -> None:
    out, _ = done_run
    saved = json.loads((out / "results.json").read_text())
    p = subprocess.run(tokencert_cmd("results", str(out), "--json"), env=run_env(ref_fast),
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    again = json.loads(p.stdout)
    assert again["requirements"] == saved["requirements"]
    assert again["summary"] == saved["summary"]


def test_no_file_written_by_the_run_holds_the_api_key(done_run: tuple[Path, str],
                                                     ref_fast: ReferenceService) -> None:
    out, _ = done_run
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10  # results, junit, manifest, phases, measurements, blobs
    for key in ref_fast.api_keys:
        for p in files:
            assert key.encode() not in p.read_bytes(), f"API key found in {p}"


def test_bad_input_exits_2(ref_fast: ReferenceService, tiny_profile: Path,
                           tmp_path: Path) -> None:
    p = run(ref_fast, tiny_profile, tmp_path / "x", "--only", "NOPE-*")
    assert p.returncode == 2 and "NOPE-*" in p.stderr and "Traceback" not in p.stderr


def test_every_evidence_line_matches_its_schema(done_run: tuple[Path, str]) -> None:
    from conformance.run.evidence import iter_lines

    out, _ = done_run
    lines = list(iter_lines(out / "evidence"))
    assert {x["type"] for x in lines} >= {"request", "phase_start", "phase_end",
                                          "measurement", "test_start", "test_end", "run_end"}
    for line in lines:
        assert validate_data("evidence-record", line) == [], line["id"]
    broken = {**next(x for x in lines if x["type"] == "measurement"), "shape": "samples"}
    broken.pop("samples", None)
    assert validate_data("evidence-record", broken) != []
