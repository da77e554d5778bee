"""A certificate issued for catalog hqts-2026.1 by an earlier tokencert still verifies
(tests/fixtures/cert-2026.1, rebuilt only on purpose by its regenerate.py): later catalog
editions, dialects and checks must never break the certificates already issued.

The fixture's PKI is TEST-ONLY (keys encrypted with the testkit's public passphrase). The
test signs a fresh CRL and a fresh status list as the certification body would, dated
inside the certificate's validity window, and verifies at that time, so the test does not
age: the fixture's own CRL and status list expire, the certificate does not break.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tokencert_testkit import PASS

from conformance._core import resources
from conformance.certificate import Pki, make_crl
from conformance.certificate.roles import status_signer
from conformance.certificate.statuslist import update
from conformance.spec import load_catalog, load_profile
from conformance.verify import load_trust_root, verify_certificate

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cert-2026.1"


@pytest.fixture(scope="module")
def issued() -> dict[str, str]:
    meta: dict[str, str] = json.loads((FIXTURE / "issued.json").read_text(encoding="utf-8"))
    return meta


def test_the_fixture_is_a_2026_1_certificate(issued: dict[str, str]) -> None:
    assert issued["catalog"] == "hqts-2026.1"
    assert issued["number"].startswith("TCT-HQTS-2026.1-")
    assert "TEST-ONLY" in issued
    for key in (FIXTURE / "pki").rglob("*.key.pem"):  # never a clear private key
        assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes(), key


def test_the_published_edition_and_profile_it_names_are_still_published(
        issued: dict[str, str]) -> None:
    """A published edition's files are never edited in place, and a published profile only
    with its previous version kept in spec/profiles/history: the verifier re-derives the
    plan from them, so an edit without history breaks every certificate issued before it."""
    catalog = load_catalog(resources.catalog_dir(issued["catalog"]))
    assert catalog.digest == issued["catalog_digest"], (
        "spec/catalogs/hqts-2026.1 was edited in place: certificates issued before no "
        "longer verify; publish a new edition instead")
    then = load_profile(issued["profile"], digest=issued["profile_digest"])
    assert then.digest == issued["profile_digest"]
    assert load_profile(issued["profile"]).digest != then.digest  # (quick changed since)


def test_an_old_2026_1_certificate_still_verifies(issued: dict[str, str],
                                                   tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    shutil.copytree(FIXTURE / "pki", pki_dir)
    at = datetime.fromisoformat(issued["issued_at"]) + timedelta(days=1)
    pki = Pki(pki_dir)
    crl = make_crl(pki, PASS, now=at)
    key, cert = status_signer(pki, PASS)
    update(pki_dir / "status.json", "publish", "", key, cert, [], "test", now=at)
    report = verify_certificate((FIXTURE / "certificate.pdf").read_bytes(),
                                load_trust_root(pki_dir / "ca.cert.pem"),
                                (FIXTURE / "bundle.zip").read_bytes(), [crl.read_bytes()],
                                [pki_dir / "status.json"], at)
    failing = {n: f.detail for n, f in report.facts.items() if f.status != "pass"}
    assert report.valid and report.bottom_line == "VALID", (report.bottom_line, failing)
    assert report.number == issued["number"]
    assert "identical" in report.facts["verdicts_reproduced"].detail  # re-judged today
