"""End to end with the real pipeline: PKI → `tokencert run` (quick, reference service over
TLS, a few requirements) → review of the manual item → certify (demo) → verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.reference import ReferenceService

pytestmark = pytest.mark.slow
ONLY = "API-001,API-002,API-007,DATA-001"


def test_run_review_certify_verify(tmp_path: Path, cli: Callable[..., Any],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TC_CA_PASS", "ca passphrase e2e")
    monkeypatch.setenv("TC_EV_PASS", "ev passphrase e2e")
    pki, keys, out, run = (tmp_path / n for n in ("pki", "keys", "issued", "run"))
    ca = ("--ca-passphrase-env", "TC_CA_PASS")
    assert cli("pki", "init-ca", "--dir", str(pki), *ca).code == 0
    assert cli("pki", "issue-evaluator", "--dir", str(pki), "--name", "E2E Evaluator",
               "--out", str(keys), *ca, "--passphrase-env", "TC_EV_PASS").code == 0
    assert cli("pki", "crl", "--dir", str(pki), *ca).code == 0

    with ReferenceService.start(tls=True, sim_config={"tpot_ms": 2.0,
                                                      "base_ttft_ms": 20.0}) as svc:
        assert svc.base_url.startswith("https://")
        p = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--candidate",
             str(svc.declaration_path), "--profile", "quick", "--out", str(run),
             "--only", ONLY], env={**os.environ, **svc.env}, capture_output=True, text=True,
            timeout=300, check=False)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        api_keys = svc.api_keys
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert results["transport"]["scheme"] == "https" and results["status"] == "complete"

    certify = ("certify", str(run), "--key", str(keys / "evaluator.key.pem"), "--cert",
               str(keys / "evaluator.cert.pem"), "--chain", str(pki / "ca.cert.pem"),
               "--crl", str(pki / "crl.pem"), "--out", str(out),
               "--passphrase-env", "TC_EV_PASS", "--json")
    refused = cli(*certify, "--demo")
    assert refused.code == 1 and "DATA-001: manual requirement not yet decided" in refused.err
    r = cli("review", str(run), "DATA-001", "--verdict", "pass", "--note",
            "regions match the hosting contract", "--reviewer", "E2E Evaluator")
    assert r.code == 0, r.err
    # quick profile + --only selection: no real certificate, only a demo one
    r = cli(*certify)
    assert r.code == 1 and "not eligible" in r.err
    r = cli(*certify, "--demo")
    assert r.code == 0, r.err
    issued = json.loads(r.out)
    assert issued["demo"] is True

    r = cli("verify", issued["pdf"], "--bundle", issued["bundle"], "--trust",
            str(pki / "ca.cert.pem"), "--crl", str(pki / "crl.pem"), "--json")
    assert r.code == 0, r.out
    report = json.loads(r.out)
    assert report["valid"] and report["demo"]
    assert "DEMO certificate — not a certification" in report["bottom_line"]
    from conformance.bundle import read_zip

    blobs = [f.read_bytes() for f in [*out.rglob("*"), *run.rglob("*")] if f.is_file()]
    blobs += list(read_zip(Path(issued["bundle"]).read_bytes()).values())
    for data in blobs:
        assert all(k.encode() not in data for k in api_keys)
