"""HTML → PDF for the report with WeasyPrint.

The URL fetcher serves only the packaged fonts under ``certificates/fonts`` and refuses
everything else, so rendering never touches the network or arbitrary files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from conformance._core import resources

_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".woff", ".woff2")


def font_files() -> list[Path]:
    d = resources.certificates_dir() / "fonts"
    return sorted(p for p in d.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES) \
        if d.is_dir() else []


def font_face_css() -> str:
    """@font-face rules for the pinned fonts; family ``tc-<file stem>``."""
    return "\n".join(
        f'@font-face {{ font-family: "tc-{p.stem}"; src: url("{p.resolve().as_uri()}"); }}'
        for p in font_files()
    )


def font_stack() -> str:
    names = [f'"tc-{p.stem}"' for p in font_files()]
    # Latin faces first, then CJK fallbacks (DroidSansFallback / WenQuanYi / Noto CJK).
    names.sort(key=lambda n: any(k in n.lower() for k in ("fallback", "cjk", "wqy", "hei")))
    return ", ".join([*names, "sans-serif"])


def packaged_fetcher(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme == "data":  # inline fonts and images embedded in the document itself
        import weasyprint

        result: dict[str, Any] = weasyprint.default_url_fetcher(url)
        return result
    root = resources.certificates_dir().resolve()
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path)).resolve()
        if path.is_relative_to(root) and path.is_file():
            return {"string": path.read_bytes(), "mime_type": None, "redirected_url": url}
    raise ValueError(f"rendering fetches only packaged assets (refused {url!r})")


def html_to_pdf(html: str, out: Path) -> None:
    import weasyprint

    css = weasyprint.CSS(string=font_face_css() + f"\nbody {{ font-family: {font_stack()}; }}",
                         url_fetcher=packaged_fetcher)
    weasyprint.HTML(string=html, url_fetcher=packaged_fetcher).write_pdf(
        str(out), stylesheets=[css])
