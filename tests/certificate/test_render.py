"""The certificate PDF: CJK text, escaping, PDF/A-3b, attachments, watermarks, fetcher."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pypdf
import pytest
from tokencert_testkit import SERVICE, VENDOR, Issued, issue, issue_synthesized, make_run_dir

from conformance.certificate import render_self_assessment
from conformance.certificate.render import DEMO_WATERMARK, SELF_WATERMARK, _fetcher


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return issue_synthesized(tmp_path_factory.mktemp("render"))


def _text(pdf: Path) -> list[str]:
    pages = pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages
    return [" ".join(p.extract_text().split()) for p in pages]


def test_chinese_names_render_and_are_escaped(issued: Issued) -> None:
    text = _text(issued.pdf)[0]
    assert SERVICE in text  # "千问令牌服务 <Pro>": CJK glyphs and a literal "<Pro>"
    assert VENDOR in text
    assert issued.number in text and "Certificate of Conformance" in text
    assert "L2" in text and "Enhanced" in text
    # the body, its accreditation, the scope, and rates as percentages with their bound
    assert "Test Certification Body" in text and "TEST-ACC-0001" in text
    assert "Scope and conditions" in text and "Declared concurrency" in text
    assert "99.91 %" in text and "lower 95% bound decides" in text


def test_cjk_font_is_embedded(issued: Issued) -> None:
    reader = pypdf.PdfReader(io.BytesIO(issued.pdf.read_bytes()))
    fonts = set()
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            fonts.add(str(f.get_object()["/BaseFont"]))
    assert any("tc-cjk" in f for f in fonts) and any("tc-sans" in f for f in fonts)


def test_pdfa3b_and_attachments(issued: Issued) -> None:
    reader = pypdf.PdfReader(io.BytesIO(issued.pdf.read_bytes()))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    # pyHanko keeps WeasyPrint's PDF/A identification when it updates the XMP on signing.
    assert re.search(rb'pdfaid:part(="|>)3', xmp) and re.search(rb'pdfaid:conformance(="|>)B', xmp)
    att = {k: v[0] for k, v in reader.attachments.items()}
    assert set(att) == {"results.json", "attestation.intoto.jsonl", "certificate.json"}
    assert att["results.json"] == (issued.run / "results.json").read_bytes()
    card = json.loads(att["certificate.json"])
    assert card["number"] == issued.number and card["demo"] is False
    assert card["bundle_digest"].startswith("sha256:")


def test_no_watermark_on_a_real_certificate(issued: Issued) -> None:
    assert all(DEMO_WATERMARK not in t for t in _text(issued.pdf))


def test_demo_is_watermarked_on_every_page(tmp_path: Path) -> None:
    demo = issue(tmp_path, demo=True)
    pages = _text(demo.pdf)
    assert len(pages) >= 2 and all(DEMO_WATERMARK in t for t in pages)


def test_self_assessment_is_marked_and_unsigned(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path)
    pdf = render_self_assessment(run, tmp_path / "self.pdf")
    pages = _text(pdf)
    assert all(SELF_WATERMARK in t for t in pages)
    assert "Self-assessment — not a certificate" in pages[0]
    assert "/Sig" not in str(pypdf.PdfReader(str(pdf)).trailer["/Root"].get("/AcroForm", ""))


def test_fetcher_refuses_all_but_packaged_assets(tmp_path: Path) -> None:
    import weasyprint

    fetcher = _fetcher()
    outside = tmp_path / "x.css"
    outside.write_text("p{}")
    for url in ("http://example.com/logo.png", "https://127.0.0.1/x", outside.as_uri(),
                "file:///etc/passwd"):
        with pytest.raises(weasyprint.urls.FatalURLFetchingError, match="refused"):
            fetcher.fetch(url)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_first_page_rasterises(issued: Issued, tmp_path: Path) -> None:
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", "-f", "1", "-l", "1",
                    str(issued.pdf), str(tmp_path / "p1")], check=True, timeout=60)
    assert (tmp_path / "p1.png").stat().st_size > 5000


def test_self_assessment_of_any_schema_valid_run(tmp_path: Path) -> None:
    from tokencert_testkit import make_results

    from conformance._core.errors import CertificateError

    odd = make_results("quick", status="incomplete", transport={"scheme": "http"})
    odd["profile"]["id"] = "my-own-profile"
    run = make_run_dir(tmp_path, odd)
    assert render_self_assessment(run, tmp_path / "s.pdf").stat().st_size > 10_000
    bad = make_results(status="finished")
    with pytest.raises(CertificateError, match="violates its schema"):
        render_self_assessment(make_run_dir(tmp_path / "b", bad), tmp_path / "b.pdf")


def test_pades_certification_signature_with_embedded_crl(issued: Issued) -> None:
    reader = pypdf.PdfReader(io.BytesIO(issued.pdf.read_bytes()))
    root = reader.trailer["/Root"]
    sig = root["/AcroForm"]["/Fields"][0].get_object()["/V"].get_object()
    assert sig["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    perms = root["/Perms"]["/DocMDP"].get_object()
    assert perms["/Reference"][0].get_object()["/TransformParams"]["/P"] == 1  # no changes
    assert len(root["/DSS"]["/CRLs"]) >= 1  # B-LT: the CRL given to certify is embedded


def test_qr_code_links_the_bodys_register_with_number_and_digest() -> None:
    from conformance.bundle import CertificateData
    from conformance.certificate.view import register_link

    body = {"name": "B", "accreditation": "A-1", "prefix": "EXC", "demo": False,
            "register_url": "https://register.example.org/"}
    cert = CertificateData("EXC-HQTS-2026.1-2026-000007", "certificate", "t", "t", "t", False,
                           body)
    assert register_link(cert, "sha256:ab") == (
        "https://register.example.org/?number=EXC-HQTS-2026.1-2026-000007&digest=sha256:ab")
