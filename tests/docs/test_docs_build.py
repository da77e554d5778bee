"""docs/ builds with `mkdocs build --strict`, and docs/index.md links every page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"


def _nav_pages(node: object) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, list):
        return set().union(*(_nav_pages(n) for n in node)) if node else set()
    if isinstance(node, dict):
        return set().union(*(_nav_pages(v) for v in node.values()))
    return set()


def test_index_and_nav_link_every_page() -> None:
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    linked = set(re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)",
                            (DOCS / "index.md").read_text(encoding="utf-8")))
    assert pages - {"index.md"} <= linked, f"not linked from index.md: {pages - linked}"
    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    assert pages == nav, f"mkdocs.yml nav differs: {pages ^ nav}"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                        str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                       capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert (tmp_path / "site" / "vendor-guide" / "index.html").is_file()
