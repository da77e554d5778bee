"""Rounds against a real reference service: stored fields, restart without lost or
duplicated rounds, a crashed round re-run, a target that is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_testkit import write_campaign

from conformance.monitor.campaign import load_campaign
from conformance.monitor.prober import Prober
from conformance.monitor.scheduler import Runner
from conformance.monitor.store import open_store, utc_naive


def test_rounds_restart_crash_and_down(tmp_path: Path, ref_target: tuple[Path, dict[str, str]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    decl, env = ref_target
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    campaign = load_campaign(write_campaign(tmp_path / "m.yaml", decl, every_s=60))
    store = open_store(tmp_path / "m.db")
    runner = Runner(Prober(campaign, store))
    t0 = datetime(2026, 12, 5, 10, 0, 30, tzinfo=UTC)

    first = runner.run_due(t0)
    assert [(r.key.scenario, r.status, r.n, r.ok) for r in first] == [
        ("single", "done", 1, 1), ("par", "done", 2, 2)]
    rows = store.requests()
    assert len(rows) == 3 and len({r["request_uid"] for r in rows}) == 3
    r = rows[0]
    assert r["prompt_tokens_audited"] == 40 and r["prompt_tokens_reported"] == 40
    assert r["completion_tokens_audited"] == r["completion_tokens_reported"]
    assert r["ttft_ms"] > 0 and r["e2e_ms"] >= r["ttft_ms"] and r["cost"] > 0
    assert "sk-" not in repr(store.rounds()) + repr(rows)  # keys are never stored

    # the same slot again (a second process, a restart within the slot): nothing runs
    assert {r.status for r in runner.run_due(t0 + timedelta(seconds=20))} == {"skipped"}
    # down for three slots: the latest runs, the two before are recorded as missed
    later = runner.run_due(t0 + timedelta(minutes=3))
    assert {r.status for r in later} == {"done"}
    statuses = [(x["scenario"], x["status"]) for x in store.rounds() if x["scenario"] == "par"]
    assert statuses == [("par", "done"), ("par", "missed"), ("par", "missed"), ("par", "done")]

    # a prober that crashed mid-round left it `running` without requests: re-run once
    key = runner.prober.key("ref", "short", "single", t0 + timedelta(minutes=10))
    rid = store.claim(key, "loopback", utc_naive(t0))
    assert rid is not None
    redo = runner.recover(t0 + timedelta(hours=1))
    assert [(x.key, x.status) for x in redo] == [(key, "done")]
    assert runner.recover(t0 + timedelta(hours=2)) == []
    done = [x for x in store.rounds() if x["status"] == "done"]
    assert sum(x["n_requests"] for x in done) == len(store.requests())

    # a target that is down: rounds are stored as unavailable, with the error class
    down = load_campaign(write_campaign(tmp_path / "down.yaml", _down_decl(tmp_path, decl),
                                        prober="p-down"))
    res = Runner(Prober(down, store)).run_due(t0)
    assert {x.status for x in res} == {"unavailable"}
    errs = {x["error_class"] for x in store.requests(prober="p-down")}
    assert errs == {"connect"}
    store.close()


def _down_decl(tmp_path: Path, decl: Path) -> Path:
    """The same declaration pointing at a closed port."""
    import re

    text = re.sub(r"base_url: \S+", "base_url: http://127.0.0.1:9/v1", decl.read_text())
    out = tmp_path / "down" / "candidate.yaml"
    out.parent.mkdir()
    out.write_text(text)  # (its tokenizer and template paths are absolute)
    return out
