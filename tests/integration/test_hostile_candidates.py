"""Hostile candidates: every misbehaviour ends by itself, within its stated bound, as an
error class in the evidence — never a hang, a crash or unbounded memory.

Each behaviour of ``hostile_servers.py`` goes through both client engines (the fast path
and httpx); then one ``tokencert run`` against two of them ends on its own, with a verdict
or exit 3 and no traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_servers import HostileServer

import conformance.reference
from conformance.run.client import ChatParams, Client, ClientConfig
from conformance.run.records import RequestRecord

TOTAL_S, IDLE_S = 1.0, 0.4  # the request's stated bounds in these tests
CAP = 64 * 1024  # evidence kept per response
SLACK_S = 10.0  # a busy machine's scheduling; an unbounded request would run for minutes
FIXTURES = Path(__file__).parents[1] / "fixtures" / "declarations" / "valid"
ASSETS = Path(conformance.reference.__file__).parent / "assets"  # a loadable tokenizer

# behaviour → error class, the same through both engines (None: a valid response)
EXPECTED: dict[str, str | None] = {
    "hang": "timeout",  # idle deadline
    "reset": "reset",
    "garbage": "protocol",
    "endless": "timeout",  # total deadline; evidence capped
    "slow-bytes": "timeout",  # total deadline (never idle long enough for the idle one)
    "huge-event": "too_large",  # one event past the evidence cap
    "headers-then-silence": "timeout",
    "lying-chunks": "protocol",
    "lying-length": "reset",  # the connection closed before the promised length
    "invalid-utf8": "garbage",
    "html": "garbage",
    "json-bomb": "garbage",
    "obs-fold-trailers": None,
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    srv = HostileServer().start()
    yield srv
    srv.stop()


def ask(srv: HostileServer, behaviour: str, engine: str, *, stream: bool = True
        ) -> RequestRecord:
    cfg = ClientConfig(base_url=srv.url(behaviour), model="m", api_key="sk-hostile-test",
                       engine=engine, connect_timeout_s=TOTAL_S, max_stream_record_bytes=CAP,
                       max_body_record_bytes=CAP)

    async def go() -> RequestRecord:
        async with Client(cfg) as c:  # the bounds are passed per request
            return await c.chat(ChatParams([{"role": "user", "content": "hi"}], max_tokens=4,
                                           stream=stream),
                                request_id="h-1", timeout_s=TOTAL_S, idle_timeout_s=IDLE_S)

    return asyncio.run(go())


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize("behaviour", sorted(EXPECTED))
def test_misbehaviour_ends_bounded_as_evidence(hostile: HostileServer, behaviour: str,
                                               engine: str) -> None:
    t0 = time.monotonic()
    rec = ask(hostile, behaviour, engine)
    took = time.monotonic() - t0
    assert took < TOTAL_S + SLACK_S, f"{behaviour}: {took:.1f} s"
    assert rec.error == EXPECTED[behaviour], (behaviour, engine, rec.error, rec.error_detail)
    if rec.error is not None:
        assert rec.error_detail and "Traceback" not in rec.error_detail
        assert not rec.instrument_failed  # the service's fault, not the instrument's
    else:
        assert rec.ok and rec.text == "fine" and rec.done_seen
    kept = sum(len(e.data) for e in rec.events) + len(rec.body or b"")
    assert kept <= CAP
    assert rec.received_bytes >= kept
    json.dumps(rec.to_json())  # the record is evidence: it serialises
    EXTRA.get(behaviour, lambda r: None)(rec)


def _endless(rec: RequestRecord) -> None:
    """Kept up to the cap, the rest counted; the complete events before it are evidence."""
    assert rec.truncated and rec.evidence_cap_bytes == CAP and rec.received_bytes > CAP
    assert rec.events and rec.text


def _huge_event(rec: RequestRecord) -> None:
    assert rec.evidence_cap_bytes == CAP and rec.received_bytes > 2 << 20
    assert rec.error_detail is not None and str(CAP) in rec.error_detail


def _hang(rec: RequestRecord) -> None:
    """The idle deadline: nothing came after the send."""
    assert rec.first_byte_ns is None and rec.error_detail is not None
    assert f"{IDLE_S:g} s" in rec.error_detail


def _slow_bytes(rec: RequestRecord) -> None:
    """The total deadline: bytes kept coming until it."""
    assert rec.first_byte_ns is not None and rec.sent_ns is not None
    assert rec.last_byte_ns is not None and rec.last_byte_ns - rec.sent_ns >= TOTAL_S * 0.5e9
    assert rec.error_detail is not None and f"{TOTAL_S:g} s" in rec.error_detail


EXTRA = {"endless": _endless, "huge-event": _huge_event, "hang": _hang,
         "slow-bytes": _slow_bytes}


TINY = """\
schema_version: "1.0.0"
id: hostile
title: Hostile-candidate test profile
description: half-second request deadline, four protocol requests
request_timeout_s: 0.5
seed: 7
phases:
  protocol: {strategy: sequential, requests: 4}
certificate:
  validity_months: 12
  eligible: false
"""


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", ["hang", "endless"])  # the idle and the total deadline
def test_a_run_against_a_hostile_candidate_ends_by_itself(hostile: HostileServer,
                                                          behaviour: str, tmp_path: Path) -> None:
    decl_dir = tmp_path / "decl"
    shutil.copytree(FIXTURES, decl_dir)
    for name in ("tokenizer.json", "chat_template.jinja"):
        shutil.copy(ASSETS / name, decl_dir / name)
    decl = decl_dir / "candidate.yaml"
    text = decl.read_text(encoding="utf-8")
    text = text.replace("https://api.example.com/v1", hostile.url(behaviour))
    decl.write_text(text.replace("timeout_s: 120", "timeout_s: 0.5"), encoding="utf-8")
    profile = tmp_path / "hostile.yaml"
    profile.write_text(TINY, encoding="utf-8")
    out = tmp_path / "run"
    env = {**os.environ, "TOKENCERT_API_KEY": "sk-hostile-a", "TOKENCERT_API_KEY_B": "sk-b",
           "COLUMNS": "200"}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "conformance", "run", "--candidate", str(decl),
                        "--profile", str(profile), "--out", str(out),
                        "--only", "API-001,API-002"],
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    took = time.monotonic() - t0
    # 6 probes × 0.5 s deadline, plus start-up and report; unbounded, this ran for minutes
    assert took < 60, took
    assert p.returncode in (1, 3), p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    if p.returncode == 1:
        doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
        outcomes = {r["id"]: r["outcome"] for r in doc["requirements"]}
        assert set(outcomes.values()) <= {"fail", "inconclusive"}, outcomes
