"""The chain through the CLI with a DEMO PKI: a demo verifies as what it is, the accept
flags, revocation, a self-assessment, usage errors and their hints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tokencert_testkit import copy_real_run, real_run

CA_PASS, EV_PASS = "ca passphrase 0123", "evaluator passphrase 4567"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TC_CA_PASS", CA_PASS)
    monkeypatch.setenv("TC_EV_PASS", EV_PASS)


def test_demo_pki_certify_verify(tmp_path: Path, cli: Callable[..., Any], env: None) -> None:
    pki, keys, out = tmp_path / "pki", tmp_path / "keys", tmp_path / "issued"
    ca = ("--ca-passphrase-env", "TC_CA_PASS")
    assert cli("pki", "init-ca", "--dir", str(pki), *ca, "--demo", "--prefix", "DEMO").code == 0
    r = cli("pki", "issue-evaluator", "--dir", str(pki), "--name", "Jane Evaluator",
            "--org", "Example Lab", "--out", str(keys), *ca, "--passphrase-env", "TC_EV_PASS")
    assert r.code == 0, r.err
    assert cli("pki", "crl", "--dir", str(pki), *ca).code == 0
    run = copy_real_run(tmp_path)
    certify = ("certify", str(run), "--candidate", str(real_run()[1]), "--key",
               str(keys / "evaluator.key.pem"), "--cert", str(keys / "evaluator.cert.pem"),
               "--chain", str(pki / "ca.cert.pem"), "--crl", str(pki / "crl.pem"), "--out",
               str(out), "--passphrase-env", "TC_EV_PASS", "--json")
    r = cli(*certify)  # a DEMO key never signs a certificate
    assert r.code == 1 and "belongs to a DEMO PKI" in r.err
    r = cli(*certify, "--demo", "--pki", str(pki))
    assert r.code == 0, r.err
    issued = json.loads(r.out)
    assert issued["number"].startswith("DEMO-HQTS-2026.1-") and issued["demo"]
    verify = ("verify", issued["pdf"], "--bundle", issued["bundle"], "--trust",
              str(pki / "ca.cert.pem"), "--crl", str(pki / "crl.pem"))
    r = cli(*verify, "--json")
    report = json.loads(r.out)
    assert r.code == 1 and not report["valid"] and report["demo"]
    assert report["bottom_line"].startswith("DEMO certificate — not a certification")
    facts = {f["name"]: f["status"] for f in report["facts"]}
    assert facts["verdicts_reproduced"] == "pass" and facts["signer_matches_kind"] == "pass"
    # unchecked: no status list, no timestamp (the demo PKI here has no TSA)
    r = cli(*verify, "--allow-demo")
    assert r.code == 1 and "UNCHECKED" in r.out and "not_withdrawn" in r.out
    r = cli(*verify, "--allow-demo", "--accept-unchecked", "status,time", "--json")
    assert r.code == 0, r.out
    report = json.loads(r.out)
    assert report["valid"] and "accepted unchecked" in report["bottom_line"]
    assert set(report["accepted_unchecked"]) == {"not_withdrawn", "trusted_time",
                                                 "signer_valid_at_signing"}
    r = cli(*verify, "--allow-demo", "--accept-unchecked", "everything")
    assert r.code == 2 and "neither a group" in r.err
    r = cli(*verify, "--allow-demo", "--accept-unchecked", "status,time", "--no-rejudge")
    assert r.code == 1 and "verdicts_reproduced (not re-judged (--no-rejudge))" in r.out

    # revoke the lab key: verify with the new CRL fails, exit 1
    assert cli("pki", "revoke", str(keys / "evaluator.cert.pem"), "--dir", str(pki)).code == 0
    assert cli("pki", "crl", "--dir", str(pki), *ca).code == 0
    r = cli(*verify, "--allow-demo")
    assert r.code == 1 and "signer_not_revoked" in r.out and "revoked on" in r.out

    # a self-assessment renders, and verify says it is not a certificate
    r = cli("certify", str(run), "--self-assessment", "--out", str(tmp_path / "self.pdf"))
    assert r.code == 0, r.err
    r = cli("verify", str(tmp_path / "self.pdf"), "--trust", str(pki / "ca.cert.pem"))
    assert r.code == 1 and "NOT A CERTIFICATE" in r.out

    # passphrases never reach disk
    for p in tmp_path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert CA_PASS.encode() not in data and EV_PASS.encode() not in data, p


def test_usage_errors(tmp_path: Path, cli: Callable[..., Any], env: None) -> None:
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.7 nothing")
    r = cli("verify", str(pdf), "--trust", str(tmp_path / "missing.pem"))
    assert r.code == 2 and "trust root" in r.err
    assert cli("pki", "init-ca", "--dir", str(tmp_path / "p"), "--ca-passphrase-env",
               "TC_CA_PASS").code == 0
    root = tmp_path / "p" / "ca.cert.pem"
    r = cli("verify", str(pdf), "--trust", str(root))  # not a PDF: invalid, no traceback
    assert r.code == 1 and "not a readable PDF" in r.out and "Traceback" not in r.err
    r = cli("verify", str(pdf), "--trust", str(root), "--at", "yesterday")
    assert r.code == 2 and "ISO 8601" in r.err
    r = cli("pki", "init-ca", "--dir", str(tmp_path / "q"), "--ca-passphrase-env", "UNSET_VAR")
    assert r.code == 2 and "UNSET_VAR is not set" in r.err
    r = cli("review", str(tmp_path), "DATA-001", "--verdict", "pass", "--note", "x")
    assert r.code == 2 and "no results.json" in r.err
    # the hints name the flag each command really has (stdin is not a terminal here)
    r = cli("pki", "crl", "--dir", str(tmp_path / "p"))
    assert r.code == 2 and "--ca-passphrase-env" in r.err
    r = cli("pki", "init-status-signer", "--dir", str(tmp_path / "p"), "--ca-passphrase-env",
            "TC_CA_PASS", "--passphrase-env", "TC_EV_PASS")
    assert r.code == 0, r.err
    r = cli("pki", "status", "publish", "--dir", str(tmp_path / "p"))
    assert r.code == 2 and "--passphrase-env" in r.err
    r = cli("pki", "status", "withdraw", "TC-HQTS-2026.1-2026-000001", "--dir",
            str(tmp_path / "p"), "--passphrase-env", "TC_EV_PASS")
    assert r.code == 2 and "no certificate registry" in r.err
