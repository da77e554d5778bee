"""The demo: the ranking orders the three targets by their configured speeds and marks the
over-billing one, asserted from the stored data; its signed report verifies."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.monitor.demo import TARGETS, DemoOutcome
from conformance.monitor.figures import compute, last_hours
from conformance.monitor.store import Store


def test_ranking_from_stored_data(demo_run: DemoOutcome, demo_store: Store) -> None:
    assert demo_run.rounds >= 6
    w = compute(demo_store, last_hours(24, campaign="demo"))
    par = next(r for r in w.rankings if r.scenario == "parallel-4")
    by_speed = list(TARGETS)  # configured fastest first
    assert [x.target for x in par.rows] == by_speed
    assert [x.rank for x in par.rows] == [1, 2, 3] and not any(x.tied for x in par.rows)
    honesty = {x.target: x for x in par.rows}
    assert honesty["overbilling"].metering == "over-bills"
    assert honesty["overbilling"].honesty.point == 0.0
    assert honesty["overbilling"].billed_tokens - honesty["overbilling"].audited_tokens == \
        honesty["overbilling"].n  # one token per probe
    assert honesty["fast"].metering == honesty["slow"].metering == "exact"
    assert all(x.availability.point == 1.0 for x in par.rows)
    # the raw rows say the same: every over-billing probe reports audited + 1 prompt tokens
    rows = demo_store.requests(campaign="demo", target="overbilling")
    assert rows and all(r["prompt_tokens_reported"] == r["prompt_tokens_audited"] + 1
                        for r in rows)


def test_single_stream_ranks_share_when_intervals_overlap(demo_store: Store) -> None:
    """With few probes the medians' intervals are wide or missing: no invented order."""
    w = compute(demo_store, last_hours(24, campaign="demo"))
    single = next(r for r in w.rankings if r.scenario == "single")
    for a, b in zip(single.rows, single.rows[1:], strict=False):
        if a.rank is not None and b.rank is not None and a.median["output_tps"].overlaps(
                b.median["output_tps"]):
            assert a.rank == b.rank and a.tied and b.tied


def test_signed_report_verifies(demo_run: DemoOutcome, cli: Callable[..., Any],
                                tmp_path: Path) -> None:
    assert demo_run.report_pdf is not None and demo_run.report_dir is not None
    assert demo_run.verified is not None and demo_run.verified.startswith("VALID")
    pdf = demo_run.report_pdf
    bundle = pdf.with_name(pdf.stem + ".bundle.zip")
    root = demo_run.out / "pki" / "ca.cert.pem"
    # a DEMO report: verifies only with --allow-demo, and the demo sets up no TSA, status
    # signer or CRL, so those facts are accepted unchecked by name
    unchecked = "trusted_time,signer_valid_at_signing,signer_not_revoked,not_withdrawn"
    r = cli("verify", str(pdf), "--bundle", str(bundle), "--trust", str(root), "--json")
    assert r.code != 0, r.out  # without them: not valid
    r = cli("verify", str(pdf), "--bundle", str(bundle), "--trust", str(root), "--json",
            "--allow-demo", "--accept-unchecked", unchecked)
    assert r.code == 0, r.out + r.err
    rep = json.loads(r.out)
    assert rep["kind"] == "monitoring-report" and rep["valid"]
    assert "document_kind" in {f["name"] for f in rep["facts"]}
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        results = json.loads(z.read("results.json"))
    assert {"evidence/requests.jsonl", "manifest.json", "attestation.intoto.jsonl"} <= names
    assert results["kind"] == "monitoring-report" and results["rankings"]
    # a changed figure in the bundle is caught
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(bad, "w") as dst:
        for n in src.namelist():
            data = src.read(n)
            dst.writestr(n, data.replace(b'"rank":1', b'"rank":2') if n == "results.json"
                         else data)
    r = cli("verify", str(pdf), "--bundle", str(bad), "--trust", str(root), "--allow-demo",
            "--accept-unchecked", unchecked)
    assert r.code == 1 and "INVALID" in r.out
    index = (demo_run.report_dir / "index.html").read_text()
    assert "over-bills" in index and (demo_run.report_dir / "target-slow.html").is_file()


def test_cli_examples_of_monitor(demo_run: DemoOutcome, cli: Callable[..., Any],
                                 tmp_path: Path) -> None:
    """`monitor check` and `monitor report` as in their --help, on the demo's store."""
    r = cli("monitor", "check", str(demo_run.campaign_path))
    assert r.code == 0 and "3 targets" in r.out, r.err
    period = demo_run.report_pdf.name.split("-DEMO")[0][4:] if demo_run.report_pdf else ""
    r = cli("monitor", "report", "--period", period, "--out", str(tmp_path / "site"), "--db",
            str(demo_run.db), "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert Path(out["index"]).is_file() and len(out["rows"]) == 6
    r = cli("monitor", "report", "--period", "2026-13", "--out", str(tmp_path / "x"), "--db",
            str(demo_run.db))
    assert r.code == 2 and "YYYY-MM" in r.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaign: x\nprober: {name: p}\ntargets: []\n")
    r = cli("monitor", "check", str(bad))
    assert r.code == 2 and f"{bad}:3" in r.err and "workloads" in r.err, r.err
    r = cli("monitor", "demo", "--out", str(demo_run.out))
    assert r.code == 2 and "not empty" in r.err


def test_no_key_reaches_disk(demo_run: DemoOutcome) -> None:
    """The reference services' keys (sk-ref-…) are in no file the demo wrote (the store,
    the reports, the bundle, the campaign) — only in the services' own environment."""
    for f in demo_run.out.rglob("*"):
        if f.is_file() and "targets" not in f.relative_to(demo_run.out).parts:
            assert b"sk-ref-" not in f.read_bytes(), f
