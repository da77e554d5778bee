"""The full chain through the CLI: PKI → review → certify → verify, with a synthesized run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tokencert_testkit import make_run_dir

CA_PASS, EV_PASS = "ca passphrase 0123", "evaluator passphrase 4567"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TC_CA_PASS", CA_PASS)
    monkeypatch.setenv("TC_EV_PASS", EV_PASS)


def test_pki_review_certify_verify(tmp_path: Path, cli: Callable[..., Any], env: None) -> None:
    pki, keys, out = tmp_path / "pki", tmp_path / "keys", tmp_path / "issued"
    ca = ("--ca-passphrase-env", "TC_CA_PASS")
    assert cli("pki", "init-ca", "--dir", str(pki), *ca).code == 0
    r = cli("pki", "issue-evaluator", "--dir", str(pki), "--name", "Jane Evaluator",
            "--org", "Example Lab", "--out", str(keys), *ca, "--passphrase-env", "TC_EV_PASS")
    assert r.code == 0, r.err
    assert cli("pki", "crl", "--dir", str(pki), *ca).code == 0
    run = make_run_dir(tmp_path)
    certify = ("certify", str(run), "--key", str(keys / "evaluator.key.pem"), "--cert",
               str(keys / "evaluator.cert.pem"), "--chain", str(pki / "ca.cert.pem"),
               "--crl", str(pki / "crl.pem"), "--out", str(out),
               "--passphrase-env", "TC_EV_PASS")
    refused = cli(*certify)
    assert refused.code == 1
    assert "DATA-001: manual requirement not yet decided" in refused.err
    assert "tokencert review" in refused.err
    evidence = tmp_path / "minutes.txt"
    evidence.write_text("review minutes")
    for rid in ("DATA-001", "DATA-002", "DATA-003", "DATA-004", "DATA-005"):
        r = cli("review", str(run), rid, "--verdict", "pass", "--note", f"{rid} checked",
                "--attach", str(evidence), "--reviewer", "Jane")
        assert r.code == 0, r.err
    r = cli(*certify, "--json")
    assert r.code == 0, r.err
    issued = json.loads(r.out)
    assert issued["number"].startswith("HQTS-2026.1-") and not issued["demo"]
    verify = ("verify", issued["pdf"], "--bundle", issued["bundle"], "--trust",
              str(pki / "ca.cert.pem"), "--crl", str(pki / "crl.pem"))
    r = cli(*verify, "--json")
    assert r.code == 0, r.out
    report = json.loads(r.out)
    assert report["valid"] and report["number"] == issued["number"]
    human = cli(*verify)
    assert human.code == 0 and "VALID" in human.out and "signature_intact" in human.out

    # withdraw it: verify with the status list now fails, exit 1
    r = cli("pki", "status", "withdraw", issued["number"], "--dir", str(pki), *ca,
            "--reason", "service changed materially")
    assert r.code == 0, r.err
    r = cli(*verify, "--status", str(pki / "status.json"), "--json")
    assert r.code == 1
    facts = {f["name"]: f for f in json.loads(r.out)["facts"]}
    assert facts["not_withdrawn"]["status"] == "fail"
    assert "service changed materially" in facts["not_withdrawn"]["detail"]
    assert cli("pki", "status", "reinstate", issued["number"], "--dir", str(pki), *ca).code == 1

    # revoke the lab key: verify with the new CRL fails, exit 1
    assert cli("pki", "revoke", str(keys / "evaluator.cert.pem"), "--dir", str(pki)).code == 0
    assert cli("pki", "crl", "--dir", str(pki), *ca).code == 0
    r = cli(*verify)
    assert r.code == 1 and "signer_not_revoked" in r.out

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


def test_usage_errors_exit_2(tmp_path: Path, cli: Callable[..., Any], env: None) -> None:
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.7 nothing")
    r = cli("verify", str(pdf), "--trust", str(tmp_path / "missing.pem"))
    assert r.code == 2 and "trust root" in r.err
    root = tmp_path / "root.pem"
    assert cli("pki", "init-ca", "--dir", str(tmp_path / "p"), "--ca-passphrase-env",
               "TC_CA_PASS").code == 0
    root = tmp_path / "p" / "ca.cert.pem"
    r = cli("verify", str(pdf), "--trust", str(root))
    assert r.code == 2 and "not a readable PDF" in r.err
    r = cli("verify", str(pdf), "--trust", str(root), "--at", "yesterday")
    assert r.code == 2 and "ISO 8601" in r.err
    r = cli("pki", "init-ca", "--dir", str(tmp_path / "q"), "--ca-passphrase-env", "UNSET_VAR")
    assert r.code == 2 and "UNSET_VAR is not set" in r.err
    r = cli("review", str(tmp_path), "DATA-001", "--verdict", "pass", "--note", "x")
    assert r.code == 2 and "no results.json" in r.err
