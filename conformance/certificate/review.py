"""``tokencert review``: the evaluator's decision on a manual requirement, kept as evidence.

Each decision is appended as its own file under ``RUN_DIR/evidence/reviews/`` (never
overwritten), an attachment is copied content-addressed beside it, and results.json's
requirement entry gets the outcome and a ``review`` object naming the evidence file and
its sha256. The summary's outcome counts follow; its level does not change (the verdicts
stage computes it over automated requirements), and ``certify`` gates on the reviews.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from conformance._core.canonical import canonical_bytes
from conformance._core.clock import utc_now_iso
from conformance._core.errors import InputError, Problem
from conformance._core.schema import validate_data
from conformance.report.rejudge import apply_review

VERDICTS = ("pass", "fail")


def load_results(run_dir: Path) -> tuple[dict[str, Any], bytes]:
    path = run_dir / "results.json"
    try:
        raw = path.read_bytes()
        data: dict[str, Any] = json.loads(raw)
    except FileNotFoundError:
        raise InputError(f"no results.json in {run_dir}", [Problem(
            "file not found", file=str(path),
            hint="pass the --out directory of `tokencert run`")]) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON", [Problem(
            exc.msg, file=str(path), line=exc.lineno, column=exc.colno)]) from None
    return data, raw


def write_results(run_dir: Path, data: dict[str, Any]) -> None:
    path = run_dir / "results.json"
    tmp = path.with_name("results.json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "attachment"


def record_review(run_dir: Path, requirement_id: str, verdict: str, note: str,
                  attach: Path | None = None, reviewer: str | None = None,
                  now: str | None = None) -> dict[str, Any]:
    """Record a decision; returns the review object written into results.json."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict {verdict!r} is not one of pass, fail")
    if not note.strip():
        raise InputError("a review needs a note", [Problem(
            "empty --note", hint="say what was checked and against which document")])
    results, _ = load_results(run_dir)
    entry = next((r for r in results["requirements"] if r.get("id") == requirement_id), None)
    if entry is None:
        raise InputError(f"{requirement_id} is not in this run's results", [Problem(
            "unknown requirement", file=str(run_dir / "results.json"),
            hint="see `tokencert spec list --method manual`")])
    if entry.get("method") != "manual":
        raise InputError(f"{requirement_id} is automated; only manual requirements are reviewed")
    reviews = run_dir / "evidence" / "reviews"
    reviews.mkdir(parents=True, exist_ok=True)
    attachment = None
    if attach is not None:
        try:
            content = attach.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read attachment {attach}: {exc.strerror}") from None
        sha = hashlib.sha256(content).hexdigest()
        rel = f"evidence/reviews/attachments/{sha[:16]}-{_safe_name(attach.name)}"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_bytes(content)
        attachment = {"name": attach.name, "path": rel, "sha256": sha, "size": len(content)}
    record = {"type": "tokencert-review/1", "requirement": requirement_id, "verdict": verdict,
              "note": note, "reviewer": reviewer, "at": now or utc_now_iso(),
              "attachment": attachment}
    n = 1 + len(list(reviews.glob(f"{requirement_id}-*.json")))
    path = reviews / f"{requirement_id}-{n:03d}.json"
    data = canonical_bytes(record)
    with path.open("xb") as fh:  # append-only: never overwrite an earlier decision
        fh.write(data)
    rel = path.relative_to(run_dir).as_posix()
    review = {**record, "evidence": rel, "sha256": hashlib.sha256(data).hexdigest()}
    apply_review(results, review)
    problems = validate_data("results", results, str(run_dir / "results.json"))
    if problems:
        raise InputError("the reviewed results would violate their schema", problems)
    write_results(run_dir, results)
    return review
