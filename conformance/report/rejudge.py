"""Re-judge a run: every verdict recomputed from its evidence, the published catalog and
profile, the declaration and the recorded reviews — never taken from results.json.

``certify`` refuses a run whose results.json differs from this; ``verify`` runs it on the
evidence inside a bundle. The catalog is always the installed published edition (a run's
``catalog_path`` is refused), the profile a published one whose digest matches, and the
plan is re-derived from catalog × profile × declaration × ``--only`` when the declaration
is at hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance._core.errors import SpecError, TokencertError
from conformance._core.yamldoc import parse_yaml
from conformance.declaration.loader import build_declaration
from conformance.plan.build import build_plan
from conformance.plan.model import Plan
from conformance.spec import load_profile

REVIEW_TYPE = "tokencert-review/1"
LEVELS = ("L1", "L2", "L3")
OUTCOMES = ("pass", "fail", "inconclusive", "not_applicable", "manual")
_PROFILE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass
class Rejudged:
    results: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)
    plan_rederived: bool = False


def apply_review(results: dict[str, Any], review: dict[str, Any]) -> None:
    """Write one recorded review into its requirement's entry (the one place this is done:
    ``tokencert review`` and re-judging share it)."""
    entry = next(r for r in results["requirements"] if r.get("id") == review["requirement"])
    verdict = review["verdict"]
    entry["outcome"] = verdict
    entry["level"] = "L3" if verdict == "pass" else None
    entry["reason"] = "evaluator_review"
    entry["detail"] = review["note"]
    entry["levels"] = {lv: {"outcome": verdict, "reason": "evaluator_review"} for lv in LEVELS}
    entry["evidence"] = sorted({*entry.get("evidence", []), review["evidence"]})
    entry["review"] = review
    recount(results)


def recount(results: dict[str, Any]) -> None:
    """Refresh outcome counts in the summary, keeping the shape the run wrote."""
    summary = results["summary"]
    reqs = results["requirements"]

    def counts(rs: list[dict[str, Any]], old: Any) -> dict[str, int]:
        keys = [k for k in (old or {}) if k != "total"] or list(OUTCOMES)
        out = {k: sum(1 for r in rs if r["outcome"] == k) for k in dict.fromkeys(
            [*keys, *(r["outcome"] for r in rs)])}
        if isinstance(old, dict) and "total" in old:
            out["total"] = len(rs)
        return out

    summary["counts"] = counts(reqs, summary.get("counts"))
    for cat, entry in (summary.get("per_category") or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("counts"), dict):
            entry["counts"] = counts([r for r in reqs if r["category"] == cat], entry["counts"])


def _reviews(run_dir: Path, results: dict[str, Any], problems: list[str]) -> None:
    folder = run_dir / "evidence" / "reviews"
    manual = {r["id"] for r in results["requirements"] if r.get("method") == "manual"}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = path.read_bytes()
        rel = path.relative_to(run_dir).as_posix()
        try:
            rec = json.loads(data)
            rid, verdict = str(rec["requirement"]), rec["verdict"]
            note = str(rec["note"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{rel}: not a review record")
            continue
        if rec.get("type") != REVIEW_TYPE or verdict not in ("pass", "fail") or \
                rid not in manual or not note.strip():
            problems.append(f"{rel}: not a valid review of a manual requirement of this run")
            continue
        att = rec.get("attachment")
        if isinstance(att, dict):
            target = run_dir / str(att.get("path", ""))
            if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != \
                    att.get("sha256"):
                problems.append(f"{rel}: its attachment is missing or altered")
        apply_review(results, {**rec, "evidence": rel,
                               "sha256": hashlib.sha256(data).hexdigest()})


def _check_plan(manifest: dict[str, Any], declaration: dict[str, Any] | None,
                problems: list[str]) -> bool:
    """Catalog, profile and plan as published; True when the plan was re-derived."""
    if manifest.get("catalog_path"):
        problems.append("the run used a catalog file, not a published edition")
        return False
    prof = manifest.get("profile", {})
    pid = str(prof.get("id", ""))
    if not _PROFILE_ID.match(pid):
        problems.append(f"profile {pid!r} is not a published profile name")
        return False
    try:  # the version the run used: the current file or one kept in the profile's history
        profile = load_profile(pid, digest=str(prof.get("digest", "")) or None)
    except SpecError:
        profile = load_profile(pid)  # (reported below as differing from the published one)
    plan = Plan.from_json(manifest["plan"])
    if profile.digest != prof.get("digest") or plan.profile != pid or \
            plan.profile_digest != profile.digest:
        problems.append(f"the run's profile {pid!r} differs from the published one "
                        f"({prof.get('digest')} / plan {plan.profile} {plan.profile_digest}; "
                        f"published {profile.digest})")
    if plan.digest != manifest.get("plan_digest"):
        problems.append("the recorded plan does not match its recorded digest")
    if declaration is None:
        return False
    decl = build_declaration(parse_yaml(json.dumps(declaration), "declaration.json"),
                             Path())
    if decl.digest != plan.declaration_digest:
        problems.append(f"the declaration ({decl.digest}) is not the one the run was planned "
                        f"from ({plan.declaration_digest})")
        return False
    from conformance.report.results import catalog_for

    again = build_plan(catalog_for({**manifest, "catalog_path": None}), profile, decl,
                       plan.only)
    if again.digest != plan.digest:
        problems.append("the plan differs from the one catalog × profile × declaration give "
                        f"(recorded {plan.digest}, re-derived {again.digest})")
    return True


def rejudge(run_dir: Path, declaration: dict[str, Any] | None = None) -> Rejudged:
    """Recompute ``run_dir``'s results from its evidence; ``declaration`` is the candidate
    declaration's data (re-derives the plan)."""
    from conformance.report.results import compute

    out = Rejudged(None)
    try:
        manifest = json.loads((run_dir / "evidence" / "run.json").read_text(encoding="utf-8"))
        out.plan_rederived = _check_plan(manifest, declaration, out.problems)
        if out.problems:
            return out
        doc = compute(run_dir)
    except TokencertError as exc:
        out.problems.append(exc.message)
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        out.problems.append(f"the evidence cannot be re-judged ({type(exc).__name__}: {exc})")
        return out
    _reviews(run_dir, doc, out.problems)
    out.results = doc
    return out


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def differences(stored: dict[str, Any], recomputed: dict[str, Any]) -> list[str]:
    """Where a results document differs from the re-judged one (empty: identical)."""
    diffs: list[str] = []
    keys = sorted((set(stored) | set(recomputed)) - {"tool", "requirements"})
    for key in keys:
        if _canon(stored.get(key)) != _canon(recomputed.get(key)):
            diffs.append(f"$.{key}")
    old = {str(r.get("id")): r for r in stored.get("requirements", []) if isinstance(r, dict)}
    new = {str(r.get("id")): r for r in recomputed.get("requirements", [])}
    for rid in sorted(set(old) | set(new)):
        a, b = old.get(rid), new.get(rid)
        if a is None or b is None:
            diffs.append(f"{rid}: {'not in the evidence' if b is None else 'missing'}")
        elif _canon(a) != _canon(b):
            what = [k for k in sorted(set(a) | set(b)) if _canon(a.get(k)) != _canon(b.get(k))]
            diffs.append(f"{rid}: {', '.join(what)} ({a.get('outcome')}/{a.get('level')} "
                         f"stored, {b.get('outcome')}/{b.get('level')} from the evidence)")
    if [r.get("id") for r in stored.get("requirements", []) if isinstance(r, dict)] != \
            [r.get("id") for r in recomputed.get("requirements", [])] and not diffs:
        diffs.append("$.requirements: order differs")
    return diffs
