"""`tokencert results`: table, Markdown, CSV and JSON; --failed; no word split at any width."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from conformance.report.table import render


def words(doc: dict[str, Any]) -> set[str]:
    from conformance.report.table import row

    out: set[str] = set()
    for r in doc["requirements"]:
        rid, obl, outcome, level, reason, measured = row(r)
        for cell in (rid, obl, outcome, level.strip("-"), reason, *measured):
            out |= set(cell.split())
    return out


@pytest.mark.parametrize("width", [None, 24, 40, 60, 80, 100, 120, 200])
def test_no_word_is_split_at_any_width(width: int | None,
                                       failing_doc: dict[str, Any]) -> None:
    doc = failing_doc
    text = render(doc, "table", width=width)
    tokens = set(text.split())
    missing = {w for w in words(doc) if w not in tokens}
    assert not missing, (width, sorted(missing)[:5])
    if width is not None:
        longest = max(len(w) for w in words(doc))
        assert all(len(ln) <= max(width, longest + 2) for ln in text.splitlines())


def test_failed_only_in_every_format(failing_doc: dict[str, Any]) -> None:
    doc = failing_doc
    t = render(doc, "table", failed=True)
    assert "API-002" in t and "PERF-002" not in t and "API-001" not in t
    md = render(doc, "md", failed=True).splitlines()
    assert md[0].startswith("| Requirement |") and len(md) == 3 and "API-002" in md[2]
    rows = list(csv.DictReader(io.StringIO(render(doc, "csv", failed=True))))
    assert [r["id"] for r in rows] == ["API-002"] and "[DONE]" in rows[0]["detail"]
    j = json.loads(render(doc, "json", failed=True))
    assert [r["id"] for r in j["requirements"]] == ["API-002"]
    assert len(json.loads(render(doc, "json"))["requirements"]) == len(doc["requirements"])


def test_markdown_escapes_pipes(failing_doc: dict[str, Any]) -> None:
    doc = failing_doc
    doc["requirements"][0]["reason"] = "a|b"
    assert "a\\|b" in render(doc, "md")


def test_results_command_format_and_failed(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = cli("results", str(tmp_path), "--format", "xml")
    assert bad.code == 2 and "--format" in bad.err
