"""The verdict table of ``tokencert results`` in four formats: a text table, Markdown, CSV
and JSON. Pure over a ``results.json`` document.

The text table never breaks a word: a column is at least as wide as its longest word, and
when the table does not fit the width given, each requirement becomes a block of lines
instead (a pipe gets the table at its natural width).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from conformance.report.junit import measurement_line

FORMATS = ("table", "md", "csv", "json")
COLUMNS = ("Requirement", "Oblig.", "Outcome", "Level", "Reason", "Measured")
GAP = 2


def select(doc: Mapping[str, Any], failed: bool) -> list[Mapping[str, Any]]:
    reqs = list(doc.get("requirements", []))
    return [r for r in reqs if r.get("outcome") == "fail"] if failed else reqs


def row(r: Mapping[str, Any]) -> tuple[str, str, str, str, str, list[str]]:
    measured = [measurement_line(m) for m in list(r.get("measurements", []))[:2]]
    return (str(r.get("id")), str(r.get("obligation")), str(r.get("outcome")),
            str(r.get("level") or "-"), str(r.get("reason") or ""), measured)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap; a word longer than ``width`` stays whole on its own line."""
    lines: list[str] = []
    cur = ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    if cur or not lines:
        lines.append(cur)
    return lines


def _longest_word(cells: Sequence[str]) -> int:
    return max((len(w) for c in cells for w in c.split()), default=1)


def text_table(reqs: Sequence[Mapping[str, Any]], width: int | None) -> str:
    """Columns sized to their content; the last (Measured) column wraps at spaces within
    ``width``. None: no limit (a pipe). Too narrow for the longest words: blocks."""
    rows = [row(r) for r in reqs]
    cells = [[*r[:5], "; ".join(r[5])] for r in rows]
    natural = [max([len(COLUMNS[i]), *(len(c[i]) for c in cells)]) for i in range(6)]
    fixed = sum(natural[:5]) + GAP * 5
    measured_min = max(len(COLUMNS[5]), *(_longest_word([c[5]]) for c in cells)) \
        if cells else len(COLUMNS[5])
    if width is not None and fixed + measured_min > width:
        return blocks(reqs, width)
    mwidth = natural[5] if width is None else max(measured_min, min(natural[5], width - fixed))
    widths = [*natural[:5], mwidth]
    out = ["  ".join(h.ljust(w) for h, w in zip(COLUMNS, widths, strict=True)).rstrip(),
           "  ".join("-" * w for w in widths)]
    for c in cells:
        wrapped = _wrap(c[5], mwidth) if c[5] else [""]
        for k, part in enumerate(wrapped):
            first = c[:5] if k == 0 else [""] * 5
            out.append("  ".join([*(v.ljust(w) for v, w in zip(first, widths, strict=False)),
                                  part]).rstrip())
    return "\n".join(out)


def blocks(reqs: Sequence[Mapping[str, Any]], width: int) -> str:
    """One block per requirement, for widths too narrow for a table."""
    out = []
    for r in reqs:
        rid, obl, outcome, level, reason, measured = row(r)
        head = f"{rid} {obl} {outcome}" + (f" {level}" if level != "-" else "")
        out += _wrap(head, width)
        if reason:
            out += ["  " + ln for ln in _wrap(reason, max(1, width - 2))]
        for m in measured:
            out += ["  " + ln for ln in _wrap(m, max(1, width - 2))]
    return "\n".join(out)


def markdown(reqs: Sequence[Mapping[str, Any]]) -> str:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in reqs:
        rid, obl, outcome, level, reason, measured = row(r)
        out.append("| " + " | ".join(esc(x) for x in (
            rid, obl, outcome, level, reason, "<br>".join(measured))) + " |")
    return "\n".join(out)


def csv_text(reqs: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "obligation", "outcome", "level", "reason", "detail", "measured"])
    for r in reqs:
        rid, obl, outcome, level, reason, measured = row(r)
        w.writerow([rid, obl, outcome, "" if level == "-" else level, reason,
                    str(r.get("detail") or ""), "; ".join(measured)])
    return buf.getvalue()


def json_text(doc: Mapping[str, Any], failed: bool) -> str:
    data = dict(doc)
    if failed:
        data["requirements"] = select(doc, True)
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def summary_line(doc: Mapping[str, Any]) -> str:
    s = doc.get("summary", {})
    verdict = f"level {s['level']}" if s.get("level") else "no level"
    return (f"{verdict} — certified: {str(s.get('certified')).lower()}"
            + (f" ({s['reason']})" if s.get("reason") else "") + f" — run {doc.get('status')}")


def render(doc: Mapping[str, Any], fmt: str, failed: bool = False,
           width: int | None = None) -> str:
    """``doc`` as ``fmt`` (one of FORMATS); ``failed``: only the failed requirements."""
    reqs = select(doc, failed)
    if fmt == "json":
        return json_text(doc, failed)
    if fmt == "csv":
        return csv_text(reqs)
    if fmt == "md":
        return markdown(reqs) + "\n"
    title = (f"{doc.get('candidate', {}).get('name')} — {doc.get('spec', {}).get('edition')} "
             f"({doc.get('profile', {}).get('id')} profile)")
    body = text_table(reqs, width) if reqs else "(no requirement " + (
        "failed)" if failed else "in this run)")
    head, foot = [title], [summary_line(doc)]
    if width is not None:
        head, foot = _wrap(title, width), _wrap(foot[0], width)
    return "\n".join([*head, "", body, "", *foot]) + "\n"
