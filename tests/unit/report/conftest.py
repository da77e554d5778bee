"""A synthetic run directory (results.json + request-record evidence) for report tests."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from conformance.run.records import RequestRecord
from conformance.spec import Catalog, load_catalog


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


def synthetic_results(level: str | None = "L1") -> dict[str, Any]:
    cat = _catalog()
    reqs = []
    for r in cat:
        outcome = "manual" if r.method == "manual" else "pass"
        if r.id == "PERF-001":
            meas = [{"metric": "ttft_ms", "stat": "p99", "value": 180.0, "lower": 150.0,
                     "upper": 210.0, "n": 400, "unit": "ms"}]
        else:
            meas = []
        reqs.append({"id": r.id, "category": r.category, "obligation": r.obligation,
                     "method": r.method, "title": r.title, "outcome": outcome,
                     "level": "L1" if outcome == "pass" else None,
                     "reason": None, "detail": None, "measurements": meas, "levels": {},
                     "evidence": ["sustained.jsonl#sustained-1"]})
    d = "sha256:" + "0" * 64
    return {
        "schema_version": "1.0.0", "tool": {"name": "tokencert", "version": "0.1.0"},
        "spec": {"edition": cat.edition, "version": cat.version, "digest": cat.digest},
        "profile": {"id": "quick", "digest": d},
        "candidate": {"name": "参考令牌服务 <b>", "vendor": "示例云 & Co", "version": "1",
                      "base_url": "https://127.0.0.1:8443/v1", "models": ["m"],
                      "declaration_digest": d},
        "environment": {}, "started_at": "2026-11-22T10:00:00Z",
        "finished_at": "2026-11-22T10:04:00Z", "status": "complete", "demo": False,
        "transport": {"scheme": "https", "tls_version": "TLSv1.3"}, "requirements": reqs,
        "summary": {"level": level, "certified": level is not None,
                    "per_category": {}, "counts": {}},
    }


def synthetic_record(phase: str, seq: int, rng: random.Random, t0: int) -> RequestRecord:
    sent = t0 + seq * 50_000_000
    ttft = int(rng.uniform(80, 250) * 1e6)
    chunks, t = [], sent + ttft
    for _ in range(50):
        chunks.append((t, "x", 1))
        t += int(rng.uniform(8, 12) * 1e6)
    rec = RequestRecord(request_id=f"{phase}-{seq}", phase=phase, seq=seq,
                        scheduled_ns=sent, sent_ns=sent,
                        first_token_ns=sent + ttft, last_byte_ns=t, status=200,
                        content_chunks=chunks, usage={"completion_tokens": 50})
    if seq % 40 == 39:
        rec.status, rec.error = None, "timeout"
    return rec


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    rng = random.Random(1)
    (tmp_path / "evidence").mkdir()
    doc = with_failures(synthetic_results())
    (tmp_path / "results.json").write_text(json.dumps(doc, ensure_ascii=False))
    with (tmp_path / "evidence" / "sustained.jsonl").open("w") as fh:
        for i in range(200):
            fh.write(json.dumps(synthetic_record("sustained", i, rng, 10**12).to_json()) + "\n")
        fh.write('{"torn": ')  # a killed run's torn last line is tolerated
    with (tmp_path / "evidence" / "scaling.jsonl").open("w") as fh:
        for i in range(10):
            fh.write(json.dumps(synthetic_record("scaling", i, rng, 10**12).to_json())
                     + "\n")
    for level in (2, 4):  # the sweep's segments (conformance.plan.sweep)
        with (tmp_path / "evidence" / f"sweep-{level}.jsonl").open("w") as fh:
            for i in range(8):
                fh.write(json.dumps(synthetic_record(f"sweep-{level}", i, rng, 10**12)
                                    .to_json()) + "\n")
    # the shapes a real run writes: the plan in the run manifest, METER-001's observations
    (tmp_path / "evidence" / "run.json").write_text(json.dumps({"plan": {"phases": {
        "sustained": {"concurrency": 8}, "scaling": {"concurrency": 1}}}}))
    obs = [{"ok": i % 3 != 0, "evidence": [f"metering-corpus-{lang}-{i}"],
            "data": {"field": "prompt_tokens", "reported": 100 + (i % 3 == 0),
                     "reference": 100, "lang": lang}}
           for i, lang in enumerate(["en", "zh", "ja", "code"] * 5)]
    with (tmp_path / "evidence" / "measurements.jsonl").open("w") as fh:
        for metric in ("prompt_exact", "prompt_abs_rel_error"):  # the same requests twice
            fh.write(json.dumps({"type": "measurement", "requirement": "METER-001",
                                 "metric": metric, "shape": "observations",
                                 "observations": obs}) + "\n")
    return tmp_path


def with_failures(doc: dict[str, Any]) -> dict[str, Any]:
    """A MUST failure (API-002, a missing [DONE]) and an inconclusive MUST (PERF-002, too
    few samples) in a quick run, which cannot grant a level."""
    doc["profile"]["eligible"] = False
    doc["summary"].update(level=None, certified=False)
    for r in doc["requirements"]:
        if r["id"] == "API-002":
            r.update(outcome="fail", level=None, reason="threshold_not_met",
                     detail="3 of 3 do not hold; first: stream did not end with data: [DONE]",
                     measurements=[{"metric": "stream_conformant", "stat": "all",
                                    "value": False, "unit": "bool", "n": 3}])
        if r["id"] == "PERF-002":
            r.update(outcome="inconclusive", level=None, reason="insufficient_samples",
                     detail="38 samples < 299 required at L1",
                     measurements=[{"metric": "tpot_ms", "stat": "p99", "value": 9.1384,
                                    "lower": 9.13, "upper": None, "n": 38, "unit": "ms"}])
    return doc


@pytest.fixture
def failing_doc() -> dict[str, Any]:
    return with_failures(synthetic_results(level=None))
