"""A certificate over a run on hqts-2026.2: its number, catalog view, bundled spec snapshot
and re-judging all use the run's edition, and it verifies (verdicts reproduced). The
hqts-2026.1 certificates of the other verify tests are unchanged by the new edition."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from tokencert_testkit import certification_gate_open, make_pki

from conformance.bundle.zipio import read_zip
from conformance.certificate import Registry, certify, record_review
from conformance.reference import ReferenceService
from conformance.verify import load_trust_root, verify_certificate

pytestmark = pytest.mark.slow
EDITION = "hqts-2026.2"
ONLY = "API-001,API-011,API-012,METER-009,DATA-001"


def test_a_2026_2_certificate_verifies(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with ReferenceService.start(tls=True, workdir=tmp_path / "ref",
                                sim_config={"tpot_ms": 2.0, "base_ttft_ms": 20.0}) as svc:
        p = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--candidate",
             str(svc.declaration_path), "--profile", "quick", "--out", str(run),
             "--only", ONLY, "--edition", EDITION], env={**os.environ, **svc.env},
            capture_output=True, text=True, timeout=300, check=False)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        decl = svc.declaration_path  # kept in the workdir after the service stops
    record_review(run, "DATA-001", "pass", "DATA-001: hosting contract checked",
                  reviewer="tester", now="2026-11-21T09:00:00Z")
    pki = make_pki(tmp_path / "cert")
    with certification_gate_open():  # the quick profile on a selection, as if eligible
        c = certify(run, pki.signing, tmp_path / "out",
                    Registry(tmp_path / "cert" / "pki" / "registry.json"), body=pki.body,
                    declaration=decl)
    assert c.number.startswith(f"TCT-{EDITION.upper()}-"), c.number
    pki.status("publish")
    report = verify_certificate(c.pdf.read_bytes(), load_trust_root(pki.ca_cert_path),
                                c.bundle.read_bytes(), [pki.crl_path.read_bytes()],
                                [pki.root / "status.json"])
    assert report.valid and report.bottom_line == "VALID", report.bottom_line
    assert "identical" in report.facts["verdicts_reproduced"].detail
    files = read_zip(c.bundle.read_bytes())
    snapshot = files["spec/catalog/catalog.yaml"].decode()
    assert f"edition: {EDITION}" in snapshot
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(
        io.BytesIO(c.pdf.read_bytes())).pages)
    assert EDITION in text and "openai-chat" in text
