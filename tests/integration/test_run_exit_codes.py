"""Exit codes of `tokencert run`: 1 when a MUST requirement fails, 3 when interrupted (and
a resume then completes the run)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from run_e2e_helpers import FAST_SIM, run, run_args, run_env, tokencert_cmd

from conformance.reference import ReferenceService

pytestmark = pytest.mark.slow


def test_a_failing_must_exits_1(tiny_profile: Path, tmp_path: Path) -> None:
    defects = ["malformed_response", "missing_done"]
    with ReferenceService.start(sim_config=FAST_SIM, defects=defects) as svc:
        out = tmp_path / "r"
        junit = tmp_path / "ci" / "junit.xml"
        p = subprocess.run(tokencert_cmd("run", "--candidate", str(svc.declaration_path),
                                         "--profile", str(tiny_profile), "--out", str(out),
                                         "--only", "API-001,API-002,API-007",
                                         "--junit", str(junit)),
                           env=run_env(svc), capture_output=True, text=True, timeout=300,
                           check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    doc = json.loads((out / "results.json").read_text())
    v = {r["id"]: r for r in doc["requirements"]}
    assert v["API-001"]["outcome"] == "fail" and "object" in v["API-001"]["detail"]
    assert v["API-002"]["outcome"] == "fail" and "[DONE]" in v["API-002"]["detail"]
    assert v["API-007"]["outcome"] == "pass"
    assert doc["summary"]["reason"] == "must_failed: API-001, API-002"
    # CI truth: pytest's own summary says failed, and the JUnit file has one test case per
    # requirement with a failure for each failed MUST
    summary = [ln for ln in p.stdout.splitlines() if " in " in ln and "recorded" in ln][-1]
    assert "2 failed" in summary and "1 passed" in summary, summary
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert sorted(cases) == ["API-001", "API-002", "API-007"]
    assert root.get("failures") == "2"
    failure = cases["API-002"].find("failure")
    assert failure is not None and "[DONE]" in failure.get("message", "")
    assert cases["API-007"].find("failure") is None


def test_interrupted_run_exits_3_and_resumes(ref_fast: ReferenceService, tiny_profile: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = subprocess.Popen(run_args(ref_fast, tiny_profile, out), env=run_env(ref_fast),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    phase = out / "evidence" / "phases" / "sustained.jsonl"
    deadline = time.monotonic() + 120
    while not (phase.exists() and phase.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stdout + stderr
    assert "--resume" in stderr
    assert json.loads((out / "results.json").read_text())["status"] == "incomplete"
    again = run(ref_fast, tiny_profile, out, "--resume")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads((out / "results.json").read_text())["status"] == "complete"
