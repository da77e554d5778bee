from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from conformance._core.schema import validate_data
from conformance.report.compare import compare

DIGEST = "sha256:" + "a" * 64


def _req(rid: str, outcome: str, level: str | None, value: float,
         lower: float | None = None, upper: float | None = None) -> dict[str, Any]:
    return {
        "id": rid, "category": rid.split("-")[0], "obligation": "MUST", "method": "automated",
        "outcome": outcome, "level": level, "reason": None if outcome == "pass" else "x",
        "measurements": [{"metric": "ttft_ms", "stat": "p99", "value": value, "lower": lower,
                          "upper": upper, "n": 300, "unit": "ms"}],
        "levels": {}, "evidence": [],
    }


def _results(reqs: list[dict[str, Any]], level: str | None) -> dict[str, Any]:
    doc = {
        "schema_version": "1.0.0", "tool": {"name": "tokencert", "version": "0.1.0"},
        "spec": {"edition": "hqts-2026.1", "version": "2026.1.0", "digest": DIGEST},
        "profile": {"id": "quick", "digest": DIGEST},
        "candidate": {"name": "s", "vendor": "v", "version": "1", "base_url": "https://x",
                      "models": ["m"], "declaration_digest": DIGEST},
        "environment": {}, "started_at": "2026-11-22T10:00:00Z",
        "finished_at": "2026-11-22T10:05:00Z", "status": "complete", "demo": False,
        "transport": {"scheme": "https"}, "requirements": reqs,
        "summary": {"level": level, "certified": level is not None, "per_category": {},
                    "counts": {}},
    }
    assert validate_data("results", doc) == []
    return doc


def test_verdict_change_and_significant_move() -> None:
    a = _results([_req("PERF-001", "pass", "L2", 1500, 1400, 1600),
                  _req("PERF-002", "pass", "L3", 30, 28, 32)], "L2")
    b = _results([_req("PERF-001", "pass", "L1", 2500, 2400, 2600),
                  _req("PERF-002", "pass", "L3", 31, 29, 33)], "L1")
    cmp = compare(a, b)
    assert [c.id for c in cmp.changes] == ["PERF-001"]
    ch = cmp.changes[0]
    assert ch.direction == "worse" and ch.measurements[0].significant
    assert cmp.regressions == (ch,)


def test_move_within_bounds_is_not_reported() -> None:
    a = _results([_req("PERF-001", "pass", "L2", 1500, 1400, 1600)], "L2")
    b = _results([_req("PERF-001", "pass", "L2", 1550, 1450, 1650)], "L2")
    assert compare(a, b).changes == ()


def test_cli_exit_codes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _results([_req("PERF-001", "fail", None, 9000, 8000, 10000)], None)
    b = copy.deepcopy(a)
    b["requirements"][0] = _req("PERF-001", "pass", "L1", 3000, 2900, 3100)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "results.json").write_text(json.dumps(a))
    (tmp_path / "b" / "results.json").write_text(json.dumps(b))
    res = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["changes"][0]["direction"] == "better"
    res = cli("compare", str(tmp_path / "b"), str(tmp_path / "a"))
    assert res.code == 1 and "worse" in res.out
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "results.json").write_text("{not json")
    res = cli("compare", str(tmp_path / "a"), str(tmp_path / "c"))
    assert res.code == 2 and "results.json:1:2" in res.err


def test_change_from_zero_is_new_never_inf(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _results([_req("STAB-001", "pass", "L1", 0.0)], "L1")
    b = _results([_req("STAB-001", "pass", "L1", 3.0)], "L1")
    ch = compare(a, b).changes[0].measurements[0]
    assert (ch.absolute, ch.relative, ch.significant) == (3.0, None, True)
    assert "inf" not in ch.basis and "new" in ch.change_text()
    c = _results([_req("STAB-001", "pass", "L1", 4.0)], "L1")
    ch = compare(b, c).changes[0].measurements[0]
    assert ch.absolute == 1.0 and ch.relative is not None and abs(ch.relative - 1 / 3) < 1e-9
    assert ch.change_text() == "+1 ms (+33.3%)"
    for name, doc in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    res = cli("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert "inf" not in res.out and "new" in res.out and "+3 ms" in res.out
    js = cli("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    assert json.loads(js.out)["changes"][0]["measurements"][0]["relative"] is None
