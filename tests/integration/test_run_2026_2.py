"""`tokencert run --edition hqts-2026.2` against the reference service over TLS: the
requirements the edition adds pass, re-judging the evidence gives no difference,
``--resume`` keeps the edition, and the certificate over the run is numbered, rendered,
bundled and re-judged on its edition, names edition and dialect, and verifies."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pypdf
import yaml
from run_e2e_helpers import run_env, tokencert_cmd

from conformance.bundle.zipio import read_zip
from conformance.certificate import Registry, certify, record_review
from conformance.reference import ReferenceService
from conformance.report.rejudge import differences, rejudge
from conformance.verify import load_trust_root, verify_certificate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "certificate"))
from tokencert_testkit import certification_gate_open, make_pki

EDITION = "hqts-2026.2"
NEW = ("API-011", "API-012", "METER-009")
ONLY = ",".join((*NEW, "API-001", "DATA-001"))
FAST_SIM = {"tpot_ms": 2.0, "base_ttft_ms": 20.0}


def _tokencert(svc: ReferenceService, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tokencert_cmd(*args), env=run_env(svc), capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_run_on_2026_2_and_its_certificate(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ReferenceService.start(tls=True, workdir=tmp_path / "ref",
                                sim_config=FAST_SIM) as svc:
        p = _tokencert(svc, "run", "--candidate", str(svc.declaration_path), "--profile",
                       "quick", "--out", str(out), "--only", ONLY, "--edition", EDITION)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        # --resume keeps the run's edition, and refuses another
        p = _tokencert(svc, "run", "--resume", "--out", str(out), "--edition", "hqts-2026.1")
        assert p.returncode == 2 and "edition" in p.stderr + p.stdout, p.stderr[-2000:]
        p = _tokencert(svc, "run", "--resume", "--out", str(out))
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        decl_path = svc.declaration_path  # kept in the workdir after the service stops
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["spec"]["edition"] == EDITION
    got = {r["id"]: r["outcome"] for r in doc["requirements"]}
    assert all(got[rid] == "pass" for rid in NEW), got

    # re-judged from the evidence with the run's edition: nothing differs
    again = rejudge(out, yaml.safe_load(decl_path.read_text(encoding="utf-8")))
    assert again.problems == [] and again.results is not None and again.plan_rederived
    assert differences(doc, again.results) == []

    # certified (the quick profile on a selection, as if eligible) and verified
    record_review(out, "DATA-001", "pass", "DATA-001: hosting contract checked",
                  reviewer="tester", now="2026-11-21T09:00:00Z")
    pki = make_pki(tmp_path / "cert")
    with certification_gate_open():
        c = certify(out, pki.signing, tmp_path / "issued",
                    Registry(tmp_path / "cert" / "pki" / "registry.json"), body=pki.body,
                    declaration=decl_path)
    assert c.number.startswith(f"TCT-{EDITION.upper()}-"), c.number
    pki.status("publish")
    report = verify_certificate(c.pdf.read_bytes(), load_trust_root(pki.ca_cert_path),
                                c.bundle.read_bytes(), [pki.crl_path.read_bytes()],
                                [pki.root / "status.json"])
    assert report.valid and report.bottom_line == "VALID", report.bottom_line
    assert "identical" in report.facts["verdicts_reproduced"].detail
    snapshot = read_zip(c.bundle.read_bytes())["spec/catalog/catalog.yaml"].decode()
    assert f"edition: {EDITION}" in snapshot
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(
        io.BytesIO(c.pdf.read_bytes())).pages)
    assert EDITION in text and "openai-chat" in text, text[:1500]
