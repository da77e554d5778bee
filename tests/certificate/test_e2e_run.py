"""End to end with the real pipeline, as a certification body works: init CA, TSA and
status signer → issue an evaluator → `tokencert run` (quick, reference service over TLS, a
few requirements) → review → certify (timestamped, re-judged) → withdraw → verify with the
fresh status list (withdrawn) and with the pre-withdrawal list after its next update
(stale), at an injected time (`--at`), never by sleeping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tokencert_testkit import certification_gate_open

from conformance.reference import ReferenceService
from conformance.verify.status import open_signed

pytestmark = pytest.mark.slow
ONLY = "API-001,API-002,API-007,DATA-001"
SECRETS = {"TC_CA_PASS": "ca passphrase e2e", "TC_EV_PASS": "ev passphrase e2e",
           "TC_TSA_PASS": "tsa passphrase e2e", "TC_ST_PASS": "status passphrase e2e"}


def _facts(out: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in json.loads(out)["facts"]}


def test_body_run_certify_withdraw_verify(tmp_path: Path, cli: Callable[..., Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    pki, keys, out, run = (tmp_path / n for n in ("pki", "keys", "issued", "run"))
    ca = ("--ca-passphrase-env", "TC_CA_PASS")
    r = cli("pki", "init-ca", "--dir", str(pki), *ca, "--body-name", "Example Certification",
            "--accreditation", "DAkkS D-ZE-99999", "--prefix", "EXC", "--register-url",
            "https://register.example.org/")
    assert r.code == 0, r.err
    assert cli("pki", "init-tsa", "--dir", str(pki), *ca, "--passphrase-env",
               "TC_TSA_PASS").code == 0
    assert cli("pki", "init-status-signer", "--dir", str(pki), *ca, "--passphrase-env",
               "TC_ST_PASS").code == 0
    assert cli("pki", "issue-evaluator", "--dir", str(pki), "--name", "E2E Evaluator",
               "--out", str(keys), *ca, "--passphrase-env", "TC_EV_PASS").code == 0
    assert cli("pki", "crl", "--dir", str(pki), *ca).code == 0

    with ReferenceService.start(tls=True, workdir=tmp_path / "ref",
                                sim_config={"tpot_ms": 2.0, "base_ttft_ms": 20.0}) as svc:
        p = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--candidate",
             str(svc.declaration_path), "--profile", "quick", "--out", str(run),
             "--only", ONLY], env={**os.environ, **svc.env}, capture_output=True, text=True,
            timeout=300, check=False)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        api_keys, decl = svc.api_keys, svc.declaration_path

    certify = ("certify", str(run), "--candidate", str(decl), "--pki", str(pki),
               "--tsa-passphrase-env", "TC_TSA_PASS", "--key", str(keys / "evaluator.key.pem"),
               "--cert", str(keys / "evaluator.cert.pem"), "--chain", str(pki / "ca.cert.pem"),
               "--crl", str(pki / "crl.pem"), "--out", str(out),
               "--passphrase-env", "TC_EV_PASS", "--json")
    refused = cli(*certify)
    assert refused.code == 1 and "DATA-001: manual requirement not yet decided" in refused.err
    r = cli("review", str(run), "DATA-001", "--verdict", "pass", "--note",
            "regions match the hosting contract", "--reviewer", "E2E Evaluator")
    assert r.code == 0, r.err
    # the quick profile on a selection is refused as a certificate ...
    r = cli(*certify)
    assert r.code == 1 and "not eligible" in r.err
    # ... and a DEMO certificate needs a DEMO PKI's key
    r = cli(*certify, "--demo")
    assert r.code == 1 and "refuses an accredited evaluator key" in r.err
    with certification_gate_open():  # as if it were a full certification run
        r = cli(*certify)
    assert r.code == 0, r.err
    issued = json.loads(r.out)
    number = issued["number"]
    assert number.startswith("EXC-HQTS-2026.1-") and not issued["demo"]

    st = ("--passphrase-env", "TC_ST_PASS")
    assert cli("pki", "status", "publish", "--dir", str(pki), *st).code == 0
    before = tmp_path / "status-before.json"
    before.write_bytes((pki / "status.json").read_bytes())
    verify = ("verify", issued["pdf"], "--bundle", issued["bundle"], "--trust",
              str(pki / "ca.cert.pem"), "--crl", str(pki / "crl.pem"), "--json")
    r = cli(*verify, "--status", str(before))
    assert r.code == 0, r.out
    report = json.loads(r.out)
    assert report["valid"] and report["bottom_line"] == "VALID"
    assert all(f["status"] == "pass" for f in report["facts"]), report["facts"]
    subject = report["subject"]
    assert subject["body"]["accreditation"] == "DAkkS D-ZE-99999"
    assert subject["service"] and subject["profile"] == "quick" and subject["level"] == "L3"

    # withdraw: a number never issued is refused, the real one is withdrawn
    r = cli("pki", "status", "withdraw", "EXC-HQTS-2026.1-2026-999999", "--dir", str(pki),
            *st)
    assert r.code == 2 and "never issued" in r.err
    r = cli("pki", "status", "withdraw", number, "--dir", str(pki), *st, "--reason",
            "service changed materially")
    assert r.code == 0, r.err
    r = cli(*verify, "--status", str(pki / "status.json"))
    assert r.code == 1
    fact = _facts(r.out)["not_withdrawn"]
    assert fact["status"] == "fail" and "withdrawn" in fact["detail"]
    assert "service changed materially" in fact["detail"]
    # the old list given beside the new one: the newer decides
    r = cli(*verify, "--status", str(before), "--status", str(pki / "status.json"))
    assert r.code == 1 and "withdrawn" in _facts(r.out)["not_withdrawn"]["detail"]
    # the pre-withdrawal list replayed after its next update: stale
    payload = open_signed(before, "application/vnd.tokencert.status+json",
                          _root(pki), datetime.now().astimezone())
    late = datetime.fromisoformat(payload["next_update"].replace("Z", "+00:00")) + timedelta(
        hours=1)
    r = cli(*verify, "--status", str(before), "--at", late.isoformat())
    assert r.code == 1
    fact = _facts(r.out)["not_withdrawn"]
    assert fact["status"] == "fail" and "stale status list" in fact["detail"]

    # the public register: signed JSON + static page, showing the withdrawal
    r = cli("pki", "register", "export", "--dir", str(pki), "--out", str(tmp_path / "pub"),
            *st, "--json")
    assert r.code == 0, r.err
    reg = open_signed(tmp_path / "pub" / "register.json",
                      "application/vnd.tokencert.register+json", _root(pki),
                      datetime.now().astimezone())
    assert [(e["number"], e["status"]) for e in reg["entries"]] == [(number, "withdrawn")]
    assert number in (tmp_path / "pub" / "index.html").read_text(encoding="utf-8")

    # neither API keys nor passphrases reach disk
    from conformance.bundle import read_zip

    blobs = [f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()]
    blobs += list(read_zip(Path(issued["bundle"]).read_bytes()).values())
    for data in blobs:
        assert all(k.encode() not in data for k in [*api_keys, *SECRETS.values()])


def _root(pki: Path) -> Any:
    from conformance.verify import load_trust_root

    return load_trust_root(pki / "ca.cert.pem")
