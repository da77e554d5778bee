"""The tamper matrix: each alteration makes verify fail, for the right reason."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from tokencert_testkit import EXPIRED_START, PASS, Issued, issue, make_pki, make_results

from conformance.bundle import read_zip, write_zip
from conformance.certificate import Pki, make_crl, revoke
from conformance.certificate.pki import load_private_key
from conformance.certificate.statuslist import update
from conformance.verify import VerifyReport, load_trust_root, verify_certificate


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return issue(tmp_path_factory.mktemp("tamper"))


def _verify(i: Issued, pdf: bytes | None = None, bundle: bytes | None = None,
            crl: bytes | None = None, status: Path | None = None,
            at: datetime | None = None) -> VerifyReport:
    return verify_certificate(pdf or i.pdf.read_bytes(), load_trust_root(i.pki.ca_cert_path),
                              bundle or i.bundle.read_bytes(), [crl] if crl else None,
                              status, at)


def _fails(report: VerifyReport, fact: str, detail: str = "") -> None:
    assert not report.valid, report.bottom_line
    f = report.facts[fact]
    assert f.status == "fail", (fact, f, report.bottom_line)
    assert detail in f.detail, (f.detail, detail)
    assert fact in report.bottom_line and report.bottom_line.startswith("INVALID")


def test_the_untouched_certificate_verifies(good: Issued) -> None:
    report = _verify(good, crl=good.pki.crl_path.read_bytes())
    assert report.valid, report.bottom_line
    assert report.number == good.number
    assert all(f.status == "pass" for n, f in report.facts.items() if n != "not_withdrawn")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bundle_file" in metafunc.fixturenames:
        # every file a certify bundle holds (names are stable: the testkit's run dir)
        import tempfile

        from tokencert_testkit import make_run_dir

        from conformance.bundle.builder import collect_files
        from conformance.bundle.layout import UNLISTED

        with tempfile.TemporaryDirectory() as d:
            run = make_run_dir(Path(d))
            raw = (run / "results.json").read_bytes()
            names = sorted({*collect_files(run, json.loads(raw), raw), *UNLISTED,
                            "certs/evaluator.pem", "certs/chain.pem"})
        metafunc.parametrize("bundle_file", names)


def test_changing_any_byte_of_any_bundle_file(good: Issued, bundle_file: str) -> None:
    files = read_zip(good.bundle.read_bytes())
    data = bytearray(files[bundle_file])
    data[len(data) // 2] ^= 0x01
    files[bundle_file] = bytes(data)
    report = _verify(good, bundle=write_zip(files))
    assert not report.valid
    failed = {f.name for f in report.failed()}
    assert failed & {"bundle_matches_manifest", "bundle_matches_certificate"}, failed
    if bundle_file not in ("manifest.json", "attestation.intoto.jsonl"):
        assert f"{bundle_file}: content differs from the manifest" in report.facts[
            "bundle_matches_manifest"].detail


def test_changing_a_byte_of_the_zip_itself(good: Issued) -> None:
    data = bytearray(good.bundle.read_bytes())
    data[200] ^= 0x01
    report = _verify(good, bundle=bytes(data))
    assert not report.valid
    assert {f.name for f in report.failed()} & {"bundle_safe", "bundle_matches_certificate"}


def test_swapped_results_with_a_consistent_manifest(good: Issued) -> None:
    files = read_zip(good.bundle.read_bytes())
    results = json.loads(files["results.json"])
    results["summary"]["level"] = "L3"
    files["results.json"] = json.dumps(results).encode()
    manifest = json.loads(files["manifest.json"])
    import hashlib

    manifest["files"]["results.json"] = {"sha256": hashlib.sha256(files["results.json"])
                                         .hexdigest(), "size": len(files["results.json"])}
    files["manifest.json"] = json.dumps(manifest).encode()
    report = _verify(good, bundle=write_zip(files))
    assert report.facts["bundle_matches_manifest"].status == "pass"  # the forger was careful
    _fails(report, "bundle_matches_certificate", "results.json differs between bundle and PDF")


def test_bundle_of_another_certificate(good: Issued, tmp_path: Path) -> None:
    other = issue(tmp_path, pki=good.pki)
    _fails(_verify(good, bundle=other.bundle.read_bytes()), "bundle_matches_certificate",
           "is not the one on the certificate")


def test_signed_with_a_key_outside_the_trust_root(good: Issued, tmp_path: Path) -> None:
    rogue = issue(tmp_path, pki=make_pki(tmp_path / "rogue"))
    report = verify_certificate(rogue.pdf.read_bytes(), load_trust_root(good.pki.ca_cert_path),
                                rogue.bundle.read_bytes())
    _fails(report, "chain_trusted", "does not chain to the trust root")


def test_expired_evaluator_certificate(tmp_path: Path) -> None:
    from dataclasses import replace

    from conformance._core.errors import CertificateError

    old = make_pki(tmp_path, days=365, not_before=EXPIRED_START)
    with pytest.raises(CertificateError, match="not valid now"):  # certify itself refuses
        issue(tmp_path / "a", pki=old)
    # A forger backdates certify's clock and signs B-B (no validation at signing time).
    old.signing = replace(old.signing, crl=None)
    i = issue(tmp_path / "c", pki=old, now=EXPIRED_START + timedelta(days=30))
    _fails(_verify(i), "signer_valid_at_signing", "expired")
    assert report_fact(_verify(i), "chain_trusted") == "fail"


def report_fact(report: VerifyReport, name: str) -> str:
    return report.facts[name].status


def test_revoked_evaluator_certificate(tmp_path: Path) -> None:
    i = issue(tmp_path)
    pki = Pki(i.pki.root)
    revoke(pki, str(i.pki.cert_path))
    crl = make_crl(pki, PASS).read_bytes()
    _fails(_verify(i, crl=crl), "signer_not_revoked", "revoked on")


def test_crl_from_another_ca_is_not_trusted(good: Issued, tmp_path: Path) -> None:
    other = make_pki(tmp_path)
    _fails(_verify(good, crl=other.crl_path.read_bytes()), "signer_not_revoked",
           "no CRL signed by the issuer")


@pytest.mark.parametrize("action", ["withdraw", "suspend"])
def test_withdrawn_or_suspended_certificate(good: Issued, tmp_path: Path, action: str) -> None:
    pki = Pki(good.pki.root)
    status = tmp_path / "status.json"
    update(status, action, good.number, pki.ca_key(PASS), pki.ca_cert(), [], "complaint")
    _fails(_verify(good, status=status), "not_withdrawn",
           "withdrawn" if action == "withdraw" else "suspended")
    if action == "suspend":
        update(status, "reinstate", good.number, pki.ca_key(PASS), pki.ca_cert(), [])
        assert _verify(good, status=status).valid


def test_status_list_signed_by_someone_else(good: Issued, tmp_path: Path) -> None:
    other = make_pki(tmp_path)
    status = tmp_path / "status.json"
    update(status, "suspend", "HQTS-2026.1-2026-999999", other.signing.key, other.signing.cert,
           [])
    _fails(_verify(good, status=status), "not_withdrawn", "not signed by the trusted")


def test_status_list_payload_swapped(good: Issued, tmp_path: Path) -> None:
    import base64

    pki = Pki(good.pki.root)
    status = tmp_path / "status.json"
    update(status, "withdraw", good.number, pki.ca_key(PASS), pki.ca_cert(), [])
    doc = json.loads(status.read_text())
    doc["envelope"]["payload"] = base64.b64encode(json.dumps({"entries": {}}).encode()).decode()
    status.write_text(json.dumps(doc))
    _fails(_verify(good, status=status), "not_withdrawn", "unusable")


def test_incremental_update_after_the_signature(good: Issued) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(good.pdf.read_bytes()), strict=False)
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    report = _verify(good, pdf=out.getvalue())
    _fails(report, "covers_whole_file", "incremental update")


def test_bytes_changed_inside_the_signed_range(good: Issued) -> None:
    data = bytearray(good.pdf.read_bytes())
    i = data.find(b"/Producer")
    data[i + 1] = ord("p")
    _fails(_verify(good, pdf=bytes(data)), "signature_intact")


def test_outside_the_validity_period(good: Issued) -> None:
    late = datetime.now(UTC) + timedelta(days=400)
    _fails(_verify(good, at=late), "within_validity", "checked at")


def test_bundle_with_traversal_paths(good: Issued) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in read_zip(good.bundle.read_bytes()).items():
            zf.writestr(name, data)
        zf.writestr("../../.bashrc", b"echo owned")
    _fails(_verify(good, bundle=buf.getvalue()), "bundle_safe", "path traversal")


def test_zip_bomb(good: Issued) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in read_zip(good.bundle.read_bytes()).items():
            zf.writestr(name, data)
        zf.writestr("evidence/bomb.bin", bytes(64 * 1024 * 1024))
    assert len(buf.getvalue()) < 2 * 1024 * 1024
    _fails(_verify(good, bundle=buf.getvalue()), "bundle_safe", "zip bomb")


def test_a_self_assessment_is_not_a_certificate(good: Issued, tmp_path: Path) -> None:
    from conformance.certificate import Signing, render_self_assessment

    s = good.pki.signing
    pdf = render_self_assessment(good.run, tmp_path / "self.pdf",
                                 Signing(s.key, s.cert, s.chain))
    report = verify_certificate(pdf.read_bytes(), load_trust_root(good.pki.ca_cert_path))
    assert not report.valid and report.kind == "self-assessment"
    assert report.bottom_line == "NOT A CERTIFICATE: this is a vendor self-assessment"
    assert report.facts["is_certificate"].status == "fail"
    unsigned = render_self_assessment(good.run, tmp_path / "u.pdf")
    report = verify_certificate(unsigned.read_bytes(), load_trust_root(good.pki.ca_cert_path))
    assert not report.valid and "NOT A CERTIFICATE" in report.bottom_line


def test_demo_certificate_is_reported_as_demo(good: Issued, tmp_path: Path) -> None:
    demo = issue(tmp_path, demo=True, pki=good.pki, results=make_results("quick"))
    report = _verify(demo)
    assert report.valid and report.demo
    assert "DEMO certificate — not a certification" in report.bottom_line


def test_wrong_key_material_is_refused_before_signing(good: Issued, tmp_path: Path) -> None:
    from conformance._core.errors import CertificateError
    from conformance.certificate import Registry, Signing, certify

    other = make_pki(tmp_path)
    mixed = Signing(load_private_key(other.key_path, PASS), good.pki.signing.cert)
    with pytest.raises(CertificateError, match="does not belong"):
        certify(good.run, mixed, tmp_path / "o", Registry(tmp_path / "r.json"))
    ca = x509.load_pem_x509_certificate(good.pki.ca_cert_path.read_bytes())
    as_ca = Signing(Pki(good.pki.root).ca_key(PASS), ca)
    with pytest.raises(CertificateError, match="not an evaluator certificate"):
        certify(good.run, as_ca, tmp_path / "o", Registry(tmp_path / "r.json"))


def test_an_approval_signature_is_not_enough(good: Issued, tmp_path: Path) -> None:
    from conformance.certificate import render_self_assessment
    from conformance.certificate.sign import SigningPolicy, sign_pdf

    unsigned = render_self_assessment(good.run, tmp_path / "u.pdf").read_bytes()
    s = good.pki.signing
    pdf = sign_pdf(unsigned, s.key, s.cert, s.chain, policy=SigningPolicy(certify=False))
    report = verify_certificate(pdf, load_trust_root(good.pki.ca_cert_path))
    assert report.facts["signature_intact"].status == "pass"
    assert report.facts["covers_whole_file"].status == "fail"
    assert "not a certification signature" in report.facts["covers_whole_file"].detail
