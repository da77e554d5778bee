"""The catalog's level rule, applied to results.json requirement entries.

A requirement's level is the highest level whose thresholds hold. The service's level is
the lowest level over all MUST requirements; a MUST failing L1 means not certified; a MUST
inconclusive (or undecided) at L1 means no level can be granted. SHOULD never blocks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

ORDER = ("L1", "L2", "L3")


def _lowest(levels: Iterable[str | None]) -> tuple[bool, str | None]:
    """(any level missing, lowest level) over the given requirement levels."""
    lows = list(levels)
    if any(lv is None for lv in lows):
        return True, None
    if not lows:
        return False, "L3"
    return False, min(lows, key=lambda lv: ORDER.index(str(lv)))


def _must(reqs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reqs if r["obligation"] == "MUST" and r["outcome"] != "not_applicable"]


def category_levels(requirements: list[dict[str, Any]]) -> dict[str, str | None]:
    """Lowest level over the MUST requirements of each category (None: none granted)."""
    cats: dict[str, list[dict[str, Any]]] = {}
    for r in requirements:
        cats.setdefault(r["category"], []).append(r)
    out: dict[str, str | None] = {}
    for cat, reqs in cats.items():
        _, low = _lowest(r.get("level") for r in _must(reqs))
        out[cat] = low
    return out


def summarize(requirements: list[dict[str, Any]], eligible: bool = True) -> dict[str, Any]:
    must = _must(requirements)
    failed = [r["id"] for r in must if r["outcome"] == "fail" and r.get("level") is None]
    open_ = [r["id"] for r in must if r["outcome"] in ("inconclusive", "manual")
             and r.get("level") is None]
    missing, low = _lowest(r.get("level") for r in must)
    reason = None
    if failed:
        reason = "must_failed: " + ", ".join(failed)
    elif open_:
        reason = "must_inconclusive: " + ", ".join(open_)
    elif missing:
        reason = "must_without_level"
    elif not eligible:
        reason = "profile_not_eligible"
    level = None if (failed or missing) else low
    return {
        "level": level,
        "certified": level is not None and eligible,
        "reason": reason,
        "per_category": category_levels(requirements),
        "counts": dict(sorted(Counter(r["outcome"] for r in requirements).items())),
    }
