"""Per-category levels for display: the lowest level over a category's MUST requirements
(reviewed manual ones included; an undecided or failed one shows no level). The run's
own level comes from the verdicts stage and is shown as written in results.json.
"""

from __future__ import annotations

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
    """Per category: the lowest level over its automated MUST requirements; ``"met"`` where
    its MUST requirements are all reviewed manual ones that passed; ``"n/a"`` where it has
    no applicable MUST requirement; None where no level can be shown."""
    cats: dict[str, list[dict[str, Any]]] = {}
    for r in requirements:
        cats.setdefault(r["category"], []).append(r)
    out: dict[str, str | None] = {}
    for cat, reqs in cats.items():
        must = _must(reqs)
        auto = [r for r in must if r.get("method") != "manual"]
        manual_ok = all(r["outcome"] == "pass" for r in must if r.get("method") == "manual")
        if not must:
            out[cat] = "n/a"
        elif not manual_ok:
            out[cat] = None
        elif not auto:
            out[cat] = "met"
        else:
            out[cat] = _lowest(r.get("level") for r in auto)[1]
    return out
