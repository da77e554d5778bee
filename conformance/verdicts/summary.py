"""The run's level and per-category summary, from the per-requirement verdicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from conformance.spec.models import LEVELS
from conformance.verdicts.model import Summary, Verdict

OUTCOMES = ("pass", "fail", "inconclusive", "not_applicable", "manual")


def _lowest(levels: Sequence[str | None]) -> str | None:
    if not levels or any(lv is None for lv in levels):
        return None
    return min((lv for lv in levels if lv is not None), key=LEVELS.index)


def summarise(verdicts: Sequence[Verdict], *, partial: bool = False,
              complete: bool = True) -> Summary:
    """Level = lowest level over the automated, applicable MUST requirements.

    A MUST failing L1 → not certified (``must_failed``); a MUST inconclusive at L1 → no
    level (``must_inconclusive``). SHOULD requirements are counted, never blocking.
    ``partial`` (an ``--only`` selection) or an incomplete run never certifies."""
    must = [v for v in verdicts if v.obligation == "MUST" and v.method == "automated"
            and v.outcome != "not_applicable"]
    failed = [v.id for v in must if v.outcome == "fail"]
    unsure = [v.id for v in must if v.outcome == "inconclusive"]
    level: str | None
    if failed:
        level, reason = None, "must_failed: " + ", ".join(failed)
    elif unsure:
        level, reason = None, "must_inconclusive: " + ", ".join(unsure)
    elif not must:
        level, reason = None, "no_must_requirements"
    else:
        level, reason = _lowest([v.level for v in must]), None
    certified = level is not None and not partial and complete
    if level is not None and partial:
        reason = "partial_selection"
    if level is not None and not complete:
        reason = "run_incomplete"
    per_cat: dict[str, dict[str, Any]] = {}
    for cat in dict.fromkeys(v.category for v in verdicts):
        vs = [v for v in verdicts if v.category == cat]
        cm = [v for v in vs if v.obligation == "MUST" and v.method == "automated"
              and v.outcome != "not_applicable"]
        c: Counter[str] = Counter(v.outcome for v in vs)
        per_cat[cat] = {
            "counts": {o: c.get(o, 0) for o in OUTCOMES},
            "level": _lowest([v.level for v in cm]) if cm and all(
                v.outcome == "pass" for v in cm) else None,
        }
    total: Counter[str] = Counter(v.outcome for v in verdicts)
    counts = {o: total.get(o, 0) for o in OUTCOMES}
    counts["total"] = len(verdicts)
    return Summary(level, certified, reason, per_cat, counts)
