"""Render the certificate (or self-assessment) PDF with WeasyPrint: PDF/A-3b, pinned
fonts, packaged assets only, results.json and the attestation attached.

Every vendor-supplied string goes through jinja2 autoescaping. The URL fetcher refuses
everything but ``data:`` URIs made here and files under the packaged ``certificates/``.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jinja2

from conformance._core import resources

PDF_VARIANT = "pdf/a-3b"
DEMO_WATERMARK = "DEMO — not a certification"
SELF_WATERMARK = "Self-assessment — not a certificate"
_FACES = (  # family, file (relative to certificates/fonts), weight
    ("tc-sans", "DejaVuSans.ttf", "normal"),
    ("tc-sans", "bold/DejaVuSans-Bold.ttf", "bold"),
    ("tc-cjk", "DroidSansFallback.ttf", "normal"),
    ("tc-cjk", "DroidSansFallback.ttf", "bold"),
    ("tc-mono", "mono/DejaVuSansMono.ttf", "normal"),
)


@dataclass(frozen=True)
class PdfAttachment:
    name: str
    data: bytes
    description: str
    relationship: str = "Data"


def font_css() -> str:
    fonts = resources.certificates_dir() / "fonts"
    rules = [
        f'@font-face {{ font-family: "{fam}"; font-weight: {w}; '
        f'src: url("{(fonts / f).resolve().as_uri()}"); }}'
        for fam, f, w in _FACES
    ]
    rules.append('html { font-family: "tc-sans", "tc-cjk"; }')
    rules.append('.mono { font-family: "tc-mono", "tc-cjk"; }')
    return "\n".join(rules)


def qr_svg(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=1,
                      error_correction=qrcode.constants.ERROR_CORRECT_M)
    buf = io.BytesIO()
    img.save(buf)
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="QR code" src="data:image/svg+xml;base64,{b64}">'


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.certificates_dir() / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined)


def render_html(view: dict[str, Any], watermark: str | None) -> str:
    qr_text = str(view.get("register_link") or view["cert"]["number"]).strip()
    return _environment().get_template("certificate.html.j2").render(
        v=view, watermark=watermark, qr_svg=qr_svg(qr_text), font_css=font_css())


def _fetcher() -> Any:
    import weasyprint
    from weasyprint.urls import URLFetcherResponse

    root = resources.certificates_dir().resolve()

    # WeasyPrint ships no type information: its classes are Any to mypy.
    class PackagedOnly(weasyprint.URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            parsed = urlparse(url)
            if parsed.scheme == "data":
                return super().fetch(url, headers)
            if parsed.scheme == "file":
                path = Path(unquote(parsed.path)).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return URLFetcherResponse(url, path.read_bytes())
            raise weasyprint.urls.FatalURLFetchingError(
                f"certificate rendering fetches only packaged assets (refused {url!r})")

    return PackagedOnly()


def html_to_pdf(html: str, attachments: list[PdfAttachment]) -> bytes:
    import weasyprint

    fetcher = _fetcher()
    css = weasyprint.CSS(filename=str(resources.certificates_dir() / "styles" /
                                      "certificate.css"), url_fetcher=fetcher)
    atts = [weasyprint.Attachment(string=a.data, name=a.name, description=a.description,
                                  relationship=a.relationship, url_fetcher=fetcher)
            for a in attachments]
    doc = weasyprint.HTML(string=html, url_fetcher=fetcher,
                          base_url=str(resources.certificates_dir()))
    pdf: bytes = doc.write_pdf(stylesheets=[css], pdf_variant=PDF_VARIANT, attachments=atts,
                               uncompressed_pdf=False)
    return pdf


def render_pdf(view: dict[str, Any], attachments: list[PdfAttachment]) -> bytes:
    watermark = (SELF_WATERMARK if view["self_assessment"]
                 else DEMO_WATERMARK if view["demo"] else None)
    return html_to_pdf(render_html(view, watermark), attachments)
