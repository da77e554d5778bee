"""Compare two runs: which requirements changed verdict or level, and which measurements
moved by more than their confidence bounds. Vendors use it between releases.

Pure functions over two ``results.json`` documents (already schema-valid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_OUTCOME_RANK = {"fail": 0, "inconclusive": 1, "manual": 1, "not_applicable": 2, "pass": 3}
_LEVEL_RANK = {None: 0, "L1": 1, "L2": 2, "L3": 3}


@dataclass(frozen=True)
class MeasurementChange:
    metric: str
    stat: str
    unit: str
    before: float | None
    after: float | None
    significant: bool
    basis: str  # "bounds disjoint", "bounds overlap", "no bounds: relative change x%"
    absolute: float | None = None  # after - before
    relative: float | None = None  # (after - before) / |before|; None when before is 0

    def change_text(self) -> str:
        """``+1000 ms (+66.7%)``; a base of 0 has no relative change: ``+3 (new; base 0)``,
        ``0`` to ``0`` never reaches here (no change)."""
        if self.absolute is None:
            return "n/a"
        unit = f" {self.unit}" if self.unit and self.unit not in ("bool", "ratio") else ""
        rel = (f"{self.relative:+.1%}" if self.relative is not None
               else "new; relative n/a: base 0")
        return f"{self.absolute:+.4g}{unit} ({rel})"


@dataclass(frozen=True)
class RequirementChange:
    id: str
    obligation: str
    before: str  # "pass L2", "fail", "-" (absent)
    after: str
    direction: str  # "better", "worse", "same", "added", "removed"
    measurements: tuple[MeasurementChange, ...] = ()


@dataclass(frozen=True)
class Comparison:
    level_before: str | None
    level_after: str | None
    changes: tuple[RequirementChange, ...] = field(default_factory=tuple)
    spec_changed: bool = False

    @property
    def regressions(self) -> tuple[RequirementChange, ...]:
        return tuple(c for c in self.changes if c.direction == "worse")

    def to_json(self) -> dict[str, Any]:
        return {
            "level_before": self.level_before,
            "level_after": self.level_after,
            "spec_changed": self.spec_changed,
            "changes": [
                {
                    "id": c.id, "obligation": c.obligation, "before": c.before,
                    "after": c.after, "direction": c.direction,
                    "measurements": [m.__dict__ for m in c.measurements],
                }
                for c in self.changes
            ],
        }


def _label(req: dict[str, Any] | None) -> str:
    if req is None:
        return "-"
    out = str(req["outcome"])
    if req.get("level"):
        out += f" {req['level']}"
    if req.get("reason") and req["outcome"] != "pass":
        out += f" ({req['reason']})"
    return out


def _rank(req: dict[str, Any]) -> tuple[int, int]:
    return (_OUTCOME_RANK.get(req["outcome"], 1), _LEVEL_RANK.get(req.get("level"), 0))


def _measurement_changes(a: dict[str, Any], b: dict[str, Any],
                         rel_threshold: float) -> list[MeasurementChange]:
    before = {(m["metric"], m["stat"]): m for m in a.get("measurements", [])}
    out: list[MeasurementChange] = []
    for m in b.get("measurements", []):
        key = (m["metric"], m["stat"])
        p = before.get(key)
        if p is None:
            continue
        va, vb = p.get("value"), m.get("value")
        if not isinstance(va, int | float) or not isinstance(vb, int | float) \
                or isinstance(va, bool) or isinstance(vb, bool):
            continue
        if va == vb:
            continue
        la, ua, lb, ub = p.get("lower"), p.get("upper"), m.get("lower"), m.get("upper")
        absolute = float(vb - va)
        rel = absolute / abs(va) if va else None
        if None not in (la, ua, lb, ub):
            disjoint = ub < la or lb > ua
            out.append(MeasurementChange(key[0], key[1], m.get("unit", ""), va, vb, disjoint,
                                         "bounds disjoint" if disjoint else "bounds overlap",
                                         absolute, rel))
        elif rel is None:  # from 0 to something: new, always worth showing
            out.append(MeasurementChange(key[0], key[1], m.get("unit", ""), va, vb, True,
                                         "no bounds: new (base 0, relative change n/a)",
                                         absolute, None))
        else:
            out.append(MeasurementChange(key[0], key[1], m.get("unit", ""), va, vb,
                                         abs(rel) > rel_threshold,
                                         f"no bounds: relative change {rel:+.1%}",
                                         absolute, rel))
    return out


def compare(a: dict[str, Any], b: dict[str, Any], rel_threshold: float = 0.05) -> Comparison:
    """Compare run ``a`` (before) with run ``b`` (after)."""
    ra = {r["id"]: r for r in a["requirements"]}
    rb = {r["id"]: r for r in b["requirements"]}
    changes: list[RequirementChange] = []
    for rid in sorted(set(ra) | set(rb), key=lambda x: (x.split("-")[0], int(x.split("-")[1]))):
        x, y = ra.get(rid), rb.get(rid)
        if x is None or y is None:
            present = x if x is not None else y
            assert present is not None
            changes.append(RequirementChange(rid, present["obligation"], _label(x), _label(y),
                                             "added" if x is None else "removed"))
            continue
        moved = _measurement_changes(x, y, rel_threshold)
        significant = tuple(m for m in moved if m.significant)
        if _rank(y) > _rank(x):
            direction = "better"
        elif _rank(y) < _rank(x):
            direction = "worse"
        else:
            direction = "same"
        if direction != "same" or significant or _label(x) != _label(y):
            changes.append(RequirementChange(rid, y["obligation"], _label(x), _label(y),
                                             direction, significant))
    return Comparison(
        level_before=a["summary"].get("level"),
        level_after=b["summary"].get("level"),
        changes=tuple(changes),
        spec_changed=a["spec"]["digest"] != b["spec"]["digest"],
    )
