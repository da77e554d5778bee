"""The JUnit view of a run: one test case per requirement, decided by its verdict.

CI systems read JUnit XML; they must see what the verdicts say, not whether the recording
tests crashed. Mapping (docs/vendor-guide.md, "CI"):

- MUST ``fail`` → ``<failure>`` in the suite ``MUST``;
- SHOULD ``fail`` → ``<failure>`` in the separate suite ``SHOULD`` (a CI system can gate on
  the MUST suite alone; ``tokencert run`` exits 1 only for a MUST failure);
- ``inconclusive``, ``not_applicable``, ``manual`` → ``<skipped>`` with the reason;
- ``pass`` → a plain test case (its level as a property).

Pure over a ``results.json`` document: ``tokencert run --junit`` writes it at the end of a
run, from the same verdicts as results.json.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

JUnitOutcome = Literal["failed", "skipped", "passed"]
MESSAGE_CHARS = 300


def junit_outcome(req: Mapping[str, Any]) -> JUnitOutcome:
    if req.get("outcome") == "fail":
        return "failed"
    if req.get("outcome") == "pass":
        return "passed"
    return "skipped"


def suite_of(req: Mapping[str, Any]) -> str:
    return "MUST" if req.get("obligation") == "MUST" else "SHOULD"


def cause(req: Mapping[str, Any], limit: int = MESSAGE_CHARS) -> str:
    """One line: the outcome, its reason code and the first line of the detail."""
    outcome = str(req.get("outcome", "")).replace("_", " ")
    reason = req.get("reason")
    detail = str(req.get("detail") or "").strip().splitlines()
    text = outcome + (f": {reason}" if reason else "") + (f" — {detail[0]}" if detail else "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def measurement_line(m: Mapping[str, Any]) -> str:
    v, lo, hi = m.get("value"), m.get("lower"), m.get("upper")

    def f(x: Any) -> str:
        return f"{x:.4g}" if isinstance(x, float) else str(x).lower() if x is None or \
            isinstance(x, bool) else str(x)

    text = f"{m.get('stat')}({m.get('metric')}) = {f(v)} {m.get('unit', '')}".rstrip()
    if lo is not None or hi is not None:
        text += f" [{f(lo)}, {f(hi)}]"
    if m.get("n") is not None:
        text += f" n={m['n']}"
    return text


def details(req: Mapping[str, Any]) -> str:
    """The body of a failure or skip: detail, measurements, evidence ids."""
    lines = [f"{req.get('id')} ({req.get('obligation')}) {req.get('title', '')}".rstrip()]
    if req.get("detail"):
        lines.append(str(req["detail"]))
    lines += ["measured: " + measurement_line(m) for m in req.get("measurements", [])]
    ev = list(req.get("evidence", []))
    if ev:
        lines.append("evidence: " + ", ".join(ev[:10]) + (f" (+{len(ev) - 10} more)"
                                                          if len(ev) > 10 else ""))
    return "\n".join(lines)


def _prop(parent: ET.Element, name: str, value: Any) -> None:
    ET.SubElement(parent, "property", name=name, value="" if value is None else str(value))


def to_xml(doc: Mapping[str, Any]) -> bytes:
    edition = doc.get("spec", {}).get("edition", "tokencert")
    reqs = list(doc.get("requirements", []))
    root = ET.Element("testsuites", name=f"tokencert {edition}")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for suite_name in ("MUST", "SHOULD"):
        members = [r for r in reqs if suite_of(r) == suite_name]
        if not members:
            continue
        suite = ET.SubElement(root, "testsuite", name=suite_name,
                              timestamp=str(doc.get("started_at", "")))
        props = ET.SubElement(suite, "properties")
        for name, value in (("candidate", doc.get("candidate", {}).get("name")),
                            ("profile", doc.get("profile", {}).get("id")),
                            ("catalog", edition),
                            ("catalog_digest", doc.get("spec", {}).get("digest")),
                            ("status", doc.get("status")),
                            ("level", doc.get("summary", {}).get("level"))):
            _prop(props, name, value)
        counts = {"tests": len(members), "failures": 0, "errors": 0, "skipped": 0}
        for r in members:
            case = ET.SubElement(suite, "testcase", classname=f"{edition}.{r.get('category')}",
                                 name=str(r.get("id")), time="0")
            cprops = ET.SubElement(case, "properties")
            for name in ("obligation", "outcome", "level", "reason"):
                _prop(cprops, name, r.get(name))
            kind = junit_outcome(r)
            if kind == "failed":
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=cause(r),
                                   type=str(r.get("reason") or "fail"))
                el.text = details(r)
            elif kind == "skipped":
                counts["skipped"] += 1
                el = ET.SubElement(case, "skipped", message=cause(r),
                                   type=str(r.get("reason") or r.get("outcome")))
                el.text = details(r)
        for k, v in counts.items():
            suite.set(k, str(v))
        for k in totals:
            totals[k] += counts[k]
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("errors", "0")
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write the JUnit view of ``doc`` to ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(to_xml(doc))
    tmp.replace(path)
    return path
