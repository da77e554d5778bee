"""The forgery matrix: each forgery or alteration makes verify fail (or stay explicitly
unchecked, non-zero) for the right reason, and never with a traceback. Every certificate
here comes from a real run's evidence (see tokencert_testkit.real_run)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from tokencert_testkit import EXPIRED_START, PASS, Issued, TestPki, issue, make_pki

from conformance._core.errors import CertificateError
from conformance.bundle import read_zip, write_zip
from conformance.bundle.dsse import sign_envelope
from conformance.certificate import Pki, make_crl, revoke
from conformance.certificate.pki import load_private_key
from conformance.verify import VerifyReport, load_trust_root, verify_certificate

STATUS_TYPE = "application/vnd.tokencert.status+json"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    i = issue(tmp_path_factory.mktemp("tamper"))
    i.pki.status("publish")
    return i


def _status(i: Issued) -> Path:
    return i.pki.root / "status.json"


def _verify(i: Issued, pdf: bytes | None = None, bundle: bytes | None = None,
            crl: bytes | None = None, status: list[Path] | None = None,
            at: datetime | None = None, fresh: bool = True, **kw: object) -> VerifyReport:
    """Verified as a careful verifier does: the body's current CRL and status list."""
    crls = [crl] if crl else ([i.pki.crl_path.read_bytes()] if fresh else None)
    return verify_certificate(pdf or i.pdf.read_bytes(), load_trust_root(i.pki.ca_cert_path),
                              bundle or i.bundle.read_bytes(), crls,
                              status if status is not None else ([_status(i)] if fresh else
                                                                 None), at, **kw)  # type: ignore[arg-type]


def _fails(report: VerifyReport, fact: str, detail: str = "") -> None:
    assert not report.valid, report.bottom_line
    f = report.facts[fact]
    assert f.status == "fail", (fact, f, report.bottom_line)
    assert detail in f.detail, (f.detail, detail)
    assert fact in report.bottom_line and report.bottom_line.startswith("INVALID")


def test_the_genuine_certificate_verifies_and_its_verdicts_reproduce(good: Issued) -> None:
    report = _verify(good)
    assert report.valid and report.bottom_line == "VALID", report.bottom_line
    assert report.number == good.number and report.number.startswith("TCT-HQTS-2026.1-")
    assert all(f.status == "pass" for f in report.facts.values()), report.facts
    assert "identical" in report.facts["verdicts_reproduced"].detail
    assert report.subject["body"]["accreditation"] == "TEST-ACC-0001"
    fast = _verify(good, rejudge=False)
    assert not fast.valid and fast.facts["verdicts_reproduced"].status == "unknown"
    assert "--no-rejudge" in fast.bottom_line


def test_changing_any_byte_of_any_bundle_file(good: Issued) -> None:
    files = read_zip(good.bundle.read_bytes())
    for name in sorted(files):
        data = bytearray(files[name])
        data[len(data) // 2] ^= 0x01
        report = _verify(good, bundle=write_zip({**files, name: bytes(data)}))
        assert not report.valid, name
        failed = {f.name for f in report.failed()}
        assert failed & {"bundle_matches_manifest", "bundle_matches_certificate"}, (name, failed)
        if name not in ("manifest.json", "attestation.intoto.jsonl"):
            assert f"{name}: content differs from the manifest" in report.facts[
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
    results["summary"]["level"] = "L1"
    files["results.json"] = json.dumps(results).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["results.json"] = {"sha256": hashlib.sha256(files["results.json"])
                                         .hexdigest(), "size": len(files["results.json"])}
    files["manifest.json"] = json.dumps(manifest).encode()
    report = _verify(good, bundle=write_zip(files))
    assert report.facts["bundle_matches_manifest"].status == "pass"  # the forger was careful
    _fails(report, "bundle_matches_certificate", "results.json differs between bundle and PDF")
    _fails(report, "verdicts_reproduced", "$.summary")


def test_hand_edited_results_are_refused_and_caught(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """results.json edited to say profile certification, every requirement pass, L3."""
    from conformance.certificate import certify as _  # noqa: F401

    pki = make_pki(tmp_path)
    run = _forged_run(tmp_path)
    with pytest.raises(CertificateError) as exc:
        issue(tmp_path / "a", pki=pki, run=run)
    text = exc.value.render()
    assert "results.json differs from the verdicts its evidence gives" in text
    # A forger who signs anyway (certify's re-judging bypassed) is caught by verify.
    import importlib

    mod = importlib.import_module("conformance.certificate.certify")
    monkeypatch.setattr(mod, "_rejudge_problems", lambda *a: [])
    forged = issue(tmp_path / "b", pki=pki, run=run)
    forged.pki.status("publish")
    report = _verify(forged)
    _fails(report, "verdicts_reproduced", "difference(s) between the certified results")
    assert "$.profile" in report.facts["verdicts_reproduced"].detail
    assert report.facts["signature_intact"].status == "pass"  # genuinely signed


def _forged_run(root: Path) -> Path:
    from tokencert_testkit import copy_real_run

    from conformance.spec import load_profile

    run = copy_real_run(root / "forged")
    path = run / "results.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    prof = load_profile("certification")
    doc["profile"] = {"id": prof.id, "digest": prof.digest, "eligible": prof.eligible}
    doc["only"] = None
    for r in doc["requirements"]:
        r["outcome"], r["level"] = "pass", "L3"
    doc["summary"].update(level="L3", certified=True, reason=None)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return run


def test_evidence_claiming_another_profile_is_not_reproduced(good: Issued) -> None:
    files = read_zip(good.bundle.read_bytes())
    manifest = json.loads(files["evidence/run.json"])
    manifest["profile"]["id"] = "certification"
    files["evidence/run.json"] = json.dumps(manifest).encode()
    from conformance.verify.rejudge import rejudge_bundle

    ok, detail = rejudge_bundle(write_zip(files))
    assert ok is False and "differs from the published one" in detail


def test_bundle_of_another_certificate(good: Issued, tmp_path: Path) -> None:
    other = issue(tmp_path, pki=good.pki)
    _fails(_verify(good, bundle=other.bundle.read_bytes()), "bundle_matches_certificate",
           "is not the one on the certificate")


def test_signed_outside_the_trust_root(good: Issued, tmp_path: Path) -> None:
    rogue = issue(tmp_path, pki=make_pki(tmp_path / "rogue"))
    report = verify_certificate(rogue.pdf.read_bytes(), load_trust_root(good.pki.ca_cert_path),
                                rogue.bundle.read_bytes())
    _fails(report, "chain_trusted", "does not chain to the trust root")
    _fails(report, "trusted_time", "does not chain to the trust root")


def test_expired_evaluator_with_a_backdated_signing_time(tmp_path: Path) -> None:
    old = make_pki(tmp_path, days=365, not_before=EXPIRED_START)
    with pytest.raises(CertificateError, match="not valid now"):  # certify itself refuses
        issue(tmp_path / "a", pki=old)
    # The forger backdates certify's clock; the body's TSA stamps the real time.
    old.signing = replace(old.signing, crl=None)
    back = EXPIRED_START + timedelta(days=30)
    i = issue(tmp_path / "c", pki=old, now=back)
    old.status("publish")
    report = _verify(i)
    _fails(report, "trusted_time", "but it was timestamped")
    _fails(report, "signer_valid_at_signing", "expired")
    # Without the body's TSA the signing time is only self-reported: never a pass.
    bare = _untimestamped(tmp_path / "d", old, back)
    report = _verify(bare)
    assert not report.valid
    assert report.facts["trusted_time"].status == "unknown"
    assert report.facts["signer_valid_at_signing"].status == "unknown"
    assert "UNCHECKED" in report.bottom_line or "INVALID" in report.bottom_line


def _untimestamped(root: Path, pki: TestPki, now: datetime) -> Issued:
    """A certificate signed without a timestamp (certify's requirement bypassed)."""
    import importlib
    from unittest import mock

    mod = importlib.import_module("conformance.certificate.certify")
    with mock.patch.object(mod, "_key_problems", lambda *a: []):
        return issue(root, pki=pki, now=now, signing=replace(pki.signing, timestamper=None))


def test_a_timestamp_from_a_rogue_tsa_with_a_matching_date(good: Issued, tmp_path: Path) -> None:
    rogue = make_pki(tmp_path / "rogue")
    real = good.pki
    forged = issue(tmp_path / "f", pki=real, signing=replace(
        real.signing, crl=None, timestamper=rogue.timestamper()))
    _fails(_verify(forged), "trusted_time", "does not chain to the trust root")


def _pki_copy(good: Issued, tmp_path: Path) -> TestPki:
    """The body's PKI as it goes on after issuing ``good`` (a copy: the fixture stays)."""
    import shutil

    p = tmp_path / "pki-later"
    shutil.copytree(good.pki.root, p)
    return replace(good.pki, pki=Pki(p), root=p, crl_path=p / "crl.pem",
                   cert_path=p / "evaluator" / "evaluator.cert.pem")


def test_revoked_evaluator_after_issuing(good: Issued, tmp_path: Path) -> None:
    later = _pki_copy(good, tmp_path)
    revoke(later.pki, str(later.cert_path))
    crl = make_crl(later.pki, PASS).read_bytes()
    _fails(_verify(good, crl=crl), "signer_not_revoked", "revoked on")
    # As the README once showed (no --crl): the embedded CRL proves the state at signing only.
    report = _verify(good, fresh=False, status=[_status(good)])
    assert not report.valid and report.facts["signer_not_revoked"].status == "unknown"
    assert report.bottom_line.startswith("UNCHECKED") and "signer_not_revoked" in \
        report.bottom_line and "--accept-unchecked revocation" in report.bottom_line


def test_stale_and_foreign_crls(good: Issued, tmp_path: Path) -> None:
    other = make_pki(tmp_path)
    _fails(_verify(good, crl=other.crl_path.read_bytes()), "signer_not_revoked",
           "no given CRL is signed by the issuer")
    late = datetime.now(UTC) + timedelta(days=40)  # the CRL's next update is 30 days out
    _fails(_verify(good, at=late, status=[]), "signer_not_revoked", "stale CRL")


def test_withdrawn_then_replayed_list(good: Issued, tmp_path: Path) -> None:
    later = _pki_copy(good, tmp_path)
    before = later.status("publish")
    after = later.status("withdraw", good.number)
    _fails(_verify(good, status=[after]), "not_withdrawn", "withdrawn")
    _fails(_verify(good, status=[after, before]), "not_withdrawn", "withdrawn")  # newest wins
    late = datetime.now(UTC) + timedelta(days=8)
    _fails(_verify(good, status=[before], at=late), "not_withdrawn", "stale status list")


def test_suspend_and_reinstate(good: Issued, tmp_path: Path) -> None:
    later = _pki_copy(good, tmp_path)
    suspended = later.status("suspend", good.number)
    _fails(_verify(good, status=[suspended]), "not_withdrawn", "suspended")
    assert _verify(good, status=[later.status("reinstate", good.number)]).valid


def _raw_status(path: Path, key: object, cert: x509.Certificate, payload: dict[str, object]
                ) -> Path:
    from cryptography.hazmat.primitives import serialization

    from conformance._core.canonical import canonical_bytes

    env = sign_envelope(canonical_bytes(payload), STATUS_TYPE, key, cert)  # type: ignore[arg-type]
    path.write_text(json.dumps({"envelope": env, "signer_chain": [
        cert.public_bytes(serialization.Encoding.PEM).decode()]}))
    return path


def _payload(seq: int = 99, days: int = 7, entries: dict[str, object] | None = None
             ) -> dict[str, object]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"type": "tokencert-status-list/2", "issuer": "x", "sequence": seq,
            "this_update": now.isoformat(), "next_update": (now + timedelta(days=days))
            .isoformat(), "entries": entries or {}}


def test_status_list_signed_by_the_evaluators_own_key(good: Issued, tmp_path: Path) -> None:
    s = good.pki.signing
    forged = _raw_status(tmp_path / "s.json", s.key, s.cert, _payload())
    _fails(_verify(good, status=[forged]), "not_withdrawn", "not the body's status signer")
    ca = Pki(good.pki.root)
    forged = _raw_status(tmp_path / "c.json", ca.ca_key(PASS), ca.ca_cert(), _payload())
    _fails(_verify(good, status=[forged]), "not_withdrawn", "not the body's status signer")


def test_status_list_of_another_body(good: Issued, tmp_path: Path) -> None:
    other = make_pki(tmp_path)
    listed = other.status("suspend", "TCT-HQTS-2026.1-2026-999999")
    _fails(_verify(good, status=[listed]), "not_withdrawn", "not signed by a certificate of "
           "the trusted certification body")


def test_status_list_payload_swapped(good: Issued, tmp_path: Path) -> None:
    doc = json.loads(_status(good).read_text())
    doc["envelope"]["payload"] = base64.b64encode(json.dumps(_payload()).encode()).decode()
    (tmp_path / "s.json").write_text(json.dumps(doc))
    _fails(_verify(good, status=[tmp_path / "s.json"]), "not_withdrawn", "unusable")


def test_two_lists_with_one_sequence_number(good: Issued, tmp_path: Path) -> None:
    from conformance.certificate.roles import status_signer

    key, cert = status_signer(Pki(good.pki.root), PASS)
    a = _raw_status(tmp_path / "a.json", key, cert, _payload(seq=50))
    b = _raw_status(tmp_path / "b.json", key, cert, _payload(seq=50, entries={
        good.number: {"status": "withdrawn"}}))
    _fails(_verify(good, status=[a, b]), "not_withdrawn", "forged or replayed")


def test_incremental_update_after_the_signature(good: Issued) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(good.pdf.read_bytes()), strict=False)
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    _fails(_verify(good, pdf=out.getvalue()), "covers_whole_file", "incremental update")


def test_bytes_changed_inside_the_signed_range(good: Issued) -> None:
    data = bytearray(good.pdf.read_bytes())
    i = data.find(b"/Producer")
    data[i + 1] = ord("p")
    _fails(_verify(good, pdf=bytes(data)), "signature_intact")


def test_flipped_bytes_anywhere_never_a_traceback(good: Issued,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """One flipped byte in a compressed stream made zlib raise; pyHanko logged tracebacks."""
    pdf = good.pdf.read_bytes()
    root = load_trust_root(good.pki.ca_cert_path)
    start = pdf.find(b"FlateDecode")
    stream = pdf.find(b"stream", start) + 20
    positions = [stream, *range(0, len(pdf), max(1, len(pdf) // 24))]
    for pos in positions:
        data = bytearray(pdf)
        data[pos] ^= 0x5A
        report = verify_certificate(bytes(data), root)
        assert not report.valid, pos
        assert report.bottom_line.startswith(("INVALID", "UNCHECKED")), report.bottom_line
    cap = capfd.readouterr()
    assert "Traceback" not in cap.err and "Traceback" not in cap.out
    truncated = verify_certificate(pdf[: len(pdf) // 2], root)
    assert not truncated.valid and truncated.bottom_line.startswith("INVALID")
    assert not verify_certificate(b"", root).valid


def test_outside_the_validity_period(good: Issued) -> None:
    late = datetime.now(UTC) + timedelta(days=400)
    _fails(_verify(good, at=late, status=[], crl=None, fresh=False), "within_validity",
           "checked at")


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
    assert report.bottom_line.startswith("NOT A CERTIFICATE: this is a vendor self-assessment")
    assert report.facts["is_certificate"].status == "fail"
    # an approval signature (no DocMDP) is not enough either
    from conformance.certificate.sign import SigningPolicy, sign_pdf

    unsigned = render_self_assessment(good.run, tmp_path / "u.pdf").read_bytes()
    report = verify_certificate(unsigned, load_trust_root(good.pki.ca_cert_path))
    assert not report.valid and "NOT A CERTIFICATE" in report.bottom_line
    pdf2 = sign_pdf(unsigned, s.key, s.cert, s.chain, policy=SigningPolicy(certify=False))
    report = verify_certificate(pdf2, load_trust_root(good.pki.ca_cert_path))
    assert report.facts["signature_intact"].status == "pass"
    assert "not a certification signature" in report.facts["covers_whole_file"].detail


def test_demo_certificate_needs_allow_demo_and_a_demo_key(tmp_path: Path) -> None:
    demo = issue(tmp_path / "demo", demo=True)
    demo.pki.status("publish")
    report = _verify(demo)
    assert not report.valid and report.demo
    assert report.bottom_line.startswith("DEMO certificate — not a certification")
    report = _verify(demo, allow_demo=True)
    assert report.valid and "DEMO certificate — not a certification" in report.bottom_line
    # certify --demo refuses an accredited key ...
    real = make_pki(tmp_path / "real")
    with pytest.raises(CertificateError) as exc:
        issue(tmp_path / "x", demo=True, pki=real, run=demo.run)
    assert "refuses an accredited evaluator key" in exc.value.render()
    # ... and a DEMO document signed with one anyway does not verify, even with --allow-demo
    import importlib
    from unittest import mock

    mod = importlib.import_module("conformance.certificate.certify")
    real.status("publish")
    from conformance.certificate.roles import write_body

    write_body(real.root, replace(real.body, demo=True))  # the forger's own files
    with mock.patch.object(mod, "_key_problems", lambda *a: []):
        forged = issue(tmp_path / "y", demo=True, pki=real, run=demo.run)
    _fails(_verify(forged, allow_demo=True), "signer_matches_kind",
           "accredited evaluator key signed a DEMO")


def test_wrong_key_material_is_refused_before_signing(good: Issued, tmp_path: Path) -> None:
    from conformance.certificate import Registry, Signing, certify

    other = make_pki(tmp_path)
    mixed = replace(good.pki.signing, key=load_private_key(other.key_path, PASS))
    with pytest.raises(CertificateError, match="does not belong"):
        _certify_open(good, mixed, tmp_path)
    ca = x509.load_pem_x509_certificate(good.pki.ca_cert_path.read_bytes())
    as_ca = Signing(Pki(good.pki.root).ca_key(PASS), ca, timestamper=good.pki.timestamper())
    with pytest.raises(CertificateError, match="not an evaluator certificate"):
        _certify_open(good, as_ca, tmp_path)
    del Registry, certify


def _certify_open(good: Issued, signing: object, tmp_path: Path) -> None:
    from tokencert_testkit import certification_gate_open

    from conformance.certificate import Registry, certify

    with certification_gate_open():
        certify(good.run, signing, tmp_path / "o", Registry(tmp_path / "r.json"),  # type: ignore[arg-type]
                declaration=good.declaration)
