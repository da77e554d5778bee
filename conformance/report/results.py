"""``results.json``: computed from a run's evidence alone, and written, validated, read.

The same function serves ``tokencert run`` (at the end of the session) and ``tokencert
results DIR`` (re-printing without re-running) and a verifier: verdicts are recomputed from
the evidence directory, never copied from a previous result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance._core import resources
from conformance._core.errors import EvidenceError, InputError, Problem
from conformance._core.schema import validate_data
from conformance.plan.model import Plan
from conformance.run.evidence import iter_lines, read_evidence
from conformance.spec import Catalog, load_catalog
from conformance.verdicts import judge_all, summarise

RESULTS = "results.json"
EVIDENCE = "evidence"


def catalog_for(manifest: dict[str, Any]) -> Catalog:
    """The catalog edition a run used, checked against the digest the run recorded."""
    spec = manifest.get("spec", {})
    edition = str(spec.get("edition", resources.DEFAULT_EDITION))
    path = manifest.get("catalog_path")
    catalog = load_catalog(Path(path) if path else resources.catalog_dir(edition))
    if catalog.digest != spec.get("digest"):
        raise EvidenceError(
            f"the evidence was recorded against catalog {spec.get('digest')}, "
            f"but {edition} here has digest {catalog.digest}",
            [Problem("catalog digest mismatch", hint="use the tokencert version that made "
                     f"the run (tool {manifest.get('tool_version')})")],
        )
    return catalog


def run_end(evidence_dir: Path) -> dict[str, Any] | None:
    last: dict[str, Any] | None = None
    for line in iter_lines(evidence_dir, "tests"):
        if line.get("type") == "run_end":
            last = line
    return last


def compute(run_dir: Path) -> dict[str, Any]:
    """The results document of the run in ``run_dir``, recomputed from its evidence."""
    ev = read_evidence(run_dir / EVIDENCE)
    m = ev.manifest
    catalog = catalog_for(m)
    plan = Plan.from_json(m["plan"])
    verdicts = judge_all(catalog, plan, ev.measurements, ev.flags, ev.health())
    end = run_end(run_dir / EVIDENCE)
    complete = end is not None and end.get("status") == "complete"
    summary = summarise(verdicts, partial=plan.only is not None, complete=complete)
    scheme = str(m["candidate"]["base_url"]).split("://", 1)[0].lower()
    return {
        "schema_version": "1.0.0",
        "tool": {"name": "tokencert", "version": __version__,
                 "recorded_with": m.get("tool_version")},
        "spec": {"edition": catalog.edition, "version": catalog.version,
                 "digest": catalog.digest},
        "profile": m["profile"],
        "candidate": m["candidate"],
        "environment": m.get("environment", {}),
        "started_at": m["started_at"],
        "finished_at": end.get("finished_at") if end else None,
        "status": "complete" if complete else "incomplete",
        "only": plan.only,
        "demo": False,
        "transport": {"scheme": scheme if scheme in ("http", "https") else "http",
                      "tls_version": (end or {}).get("tls_version")},
        "client": {name: _health_brief(h) for name, h in ev.health().items()},
        "requirements": [v.to_json() for v in verdicts],
        "summary": summary.to_json(),
    }


def _health_brief(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "saturated": bool(h.get("reasons")),
        "reasons": list(h.get("reasons", [])),
        "loop_lag_ms": h.get("loop_lag_ms", {}),
        "schedule_delay_ms": h.get("schedule_delay_ms", {}),
        "cpu_percent_max": h.get("cpu_percent_max"),
        "processes": h.get("processes"),
    }


def write(run_dir: Path, doc: dict[str, Any]) -> Path:
    """Validate ``doc`` against results.schema.json and write it atomically."""
    problems = validate_data("results", doc, file=str(run_dir / RESULTS))
    if problems:
        raise EvidenceError("results.json would violate its schema", problems)
    path = run_dir / RESULTS
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


def read(run_dir: Path) -> dict[str, Any]:
    """The results document written in ``run_dir`` (or the file ``run_dir``); a missing,
    truncated or corrupt file is an :class:`InputError` (exit 2) that says so."""
    path = run_dir / RESULTS if run_dir.is_dir() else run_dir
    hint = (f"it is derived from the evidence: `tokencert run --resume --out {path.parent}` "
            "writes it again")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no results.json in {run_dir}", [Problem(
            "file not found", file=str(path), hint="pass the --out directory of a run")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}", [Problem(str(exc), file=str(path),
                                                         hint=hint)]) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        what = "corrupt" if text.rstrip().endswith("}") else "truncated"
        raise InputError(f"{path} is {what} (not complete JSON)", [Problem(
            exc.msg, file=str(path), line=exc.lineno, column=exc.colno, hint=hint)]
        ) from None
    if not isinstance(doc, dict) or "requirements" not in doc:
        raise InputError(f"{path} is not a tokencert results document", [Problem(
            "no requirements in it", file=str(path), hint=hint)])
    return doc


def must_failed(doc: dict[str, Any]) -> list[str]:
    return [r["id"] for r in doc["requirements"]
            if r["obligation"] == "MUST" and r["outcome"] == "fail"]
