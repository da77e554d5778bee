"""The evidence bundle: reproducible, complete, every file attested."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from tokencert_testkit import make_pki, make_results, make_run_dir

from conformance.bundle import CertificateData, build_bundle, read_zip
from conformance.bundle.layout import UNLISTED
from conformance.verify.bundlecheck import open_statement, subjects_of

CERT = CertificateData("HQTS-2026.1-2026-000042", "certificate", "2026-11-22T12:00:00Z",
                       "2026-11-22T12:00:00Z", "2027-11-22T12:00:00Z", False)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("bundle")
    return make_run_dir(root), make_pki(root)


def _build(run: Path, pki: object, cert: CertificateData = CERT) -> object:
    results_bytes = (run / "results.json").read_bytes()
    s = pki.signing  # type: ignore[attr-defined]
    return build_bundle(run, json.loads(results_bytes), results_bytes, cert, s.key, s.cert,
                        s.chain)


def test_same_inputs_give_a_byte_identical_zip(material: tuple[Path, object]) -> None:
    run, pki = material
    a, b = _build(run, pki), _build(run, pki)
    assert a.data == b.data  # type: ignore[attr-defined]
    assert a.digest == "sha256:" + hashlib.sha256(a.data).hexdigest()  # type: ignore[attr-defined]


def test_different_certificate_data_changes_the_zip(material: tuple[Path, object]) -> None:
    run, pki = material
    other = CertificateData(**{**CERT.to_json(), "number": "HQTS-2026.1-2026-000043"})
    assert _build(run, pki).data != _build(run, pki, other).data  # type: ignore[attr-defined]


def test_layout_manifest_and_attestation(material: tuple[Path, object]) -> None:
    run, pki = material
    bundle = _build(run, pki)
    files = read_zip(bundle.data)  # type: ignore[attr-defined]
    for name in ("manifest.json", "results.json", "declaration.json", "environment.json",
                 "attestation.intoto.jsonl", "certs/evaluator.pem", "certs/chain.pem",
                 "evidence/requests.jsonl", "evidence/blobs/ab/cdef0123",
                 "spec/catalog/catalog.yaml", "spec/profiles/certification.yaml"):
        assert name in files, name
    manifest = json.loads(files["manifest.json"])
    assert manifest["spec"]["digest"].startswith("sha256:")
    assert manifest["tool"]["name"] == "tokencert"
    assert manifest["candidate"]["vendor"] == "示例云计算有限公司 & Co"
    listed = set(manifest["files"])
    assert listed == set(files) - UNLISTED
    for name in listed:
        assert manifest["files"][name]["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert manifest["files"][name]["size"] == len(files[name])
    stmt = open_statement(files["attestation.intoto.jsonl"],
                          pki.signing.cert)  # type: ignore[attr-defined]
    assert set(subjects_of(stmt)) == listed | {"manifest.json"}
    assert stmt["predicate"]["certificate"]["number"] == CERT.number
    assert stmt["predicate"]["demo"] is False
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as zf:  # type: ignore[attr-defined]
        assert [i.filename for i in zf.infolist()] == sorted(files)


def test_declaration_is_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-abcdef0123456789"
    monkeypatch.setenv("TOKENCERT_API_KEY", secret)
    run = make_run_dir(tmp_path, make_results())
    decl = (run / "declaration.yaml").read_text(encoding="utf-8")
    (run / "declaration.yaml").write_text(decl.replace("Example Cloud Ltd.", secret),
                                          encoding="utf-8")
    pki = make_pki(tmp_path)
    results_bytes = (run / "results.json").read_bytes()
    s = pki.signing
    bundle = build_bundle(run, json.loads(results_bytes), results_bytes, CERT, s.key, s.cert,
                          s.chain)  # the env names come from the declaration itself
    assert secret.encode() not in bundle.data
    assert secret.encode() not in b"".join(read_zip(bundle.data).values())
