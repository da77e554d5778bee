"""`tokencert run --edition hqts-2026.2` against the reference service: the requirements
the edition adds pass, the results, the report PDF and the re-judging all name and use the
run's edition, and ``--resume`` keeps it."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pypdf
import yaml
from run_e2e_helpers import run_env, tokencert_cmd

from conformance.reference import ReferenceService
from conformance.report.rejudge import differences, rejudge

EDITION = "hqts-2026.2"
NEW = ("API-011", "API-012", "METER-009")
ONLY = ",".join((*NEW, "API-001"))


def _tokencert(svc: ReferenceService, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tokencert_cmd(*args), env=run_env(svc), capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_run_on_2026_2(ref_fast: ReferenceService, tmp_path: Path) -> None:
    out = tmp_path / "run"
    p = _tokencert(ref_fast, "run", "--candidate", str(ref_fast.declaration_path),
                   "--profile", "quick", "--out", str(out), "--only", ONLY,
                   "--edition", EDITION)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["spec"]["edition"] == EDITION
    got = {r["id"]: r["outcome"] for r in doc["requirements"]}
    assert all(got[rid] == "pass" for rid in NEW), got

    # re-judged from the evidence with the run's edition: nothing differs
    decl = yaml.safe_load(ref_fast.declaration_path.read_text(encoding="utf-8"))
    again = rejudge(out, decl)
    assert again.problems == [] and again.results is not None and again.plan_rederived
    assert differences(doc, again.results) == []

    # the report names the edition and the dialect
    pdf = tmp_path / "self.pdf"
    p = _tokencert(ref_fast, "certify", str(out), "--self-assessment", "--out", str(pdf))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(
        io.BytesIO(pdf.read_bytes())).pages)
    assert EDITION in text and "openai-chat" in text, text[:1500]

    # --resume keeps the run's edition, and refuses another
    p = _tokencert(ref_fast, "run", "--resume", "--out", str(out), "--edition", "hqts-2026.1")
    assert p.returncode == 2 and "edition" in p.stderr + p.stdout, p.stderr[-2000:]
    p = _tokencert(ref_fast, "run", "--resume", "--out", str(out))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    resumed = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert resumed["spec"]["edition"] == EDITION
