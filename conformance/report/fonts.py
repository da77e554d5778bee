"""Inline, subsetted web fonts so a self-contained HTML report renders every script
(Chinese vendor names included) on any machine, without remote assets or system fonts.

Each pinned font under ``certificates/fonts`` is subset (fontTools) to the characters the
document actually uses and embedded as a WOFF2 ``data:`` URI.
"""

from __future__ import annotations

import base64
import io
import logging
from functools import lru_cache
from pathlib import Path

from conformance.report.pdf import font_files


@lru_cache(maxsize=32)
def _subset(path: Path, text: str) -> bytes | None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(str(path), fontNumber=0, lazy=False)
    except Exception:  # an unreadable font is skipped, never fatal for a report
        return None
    cmap = font.getBestCmap() or {}
    unicodes = sorted({ord(c) for c in text} & set(cmap))
    if not unicodes:
        return None
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # tables it cannot subset: noise
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    sub = subset.Subsetter(options)
    sub.populate(unicodes=unicodes)
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff2"
    font.save(buf)
    return buf.getvalue()


def inline_font_css(text: str) -> tuple[str, str]:
    """(``@font-face`` rules, font-family stack) covering ``text`` with the pinned fonts."""
    rules, names = [], []
    for path in font_files():
        data = _subset(path, text)
        if data is None:
            continue
        family = f"tc-{path.stem}"
        b64 = base64.b64encode(data).decode("ascii")
        rules.append(f'@font-face {{ font-family: "{family}"; '
                     f'src: url(data:font/woff2;base64,{b64}) format("woff2"); }}')
        names.append(f'"{family}"')
    names.sort(key=lambda n: any(k in n.lower() for k in ("fallback", "cjk", "wqy", "hei")))
    return "\n".join(rules), ", ".join([*names, "sans-serif"])
