"""Evidence on disk: redaction, blobs, torn lines, idempotent ids, attempts, resume checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance._core.errors import InputError
from conformance._core.redact import Redactor
from conformance.run.evidence import (
    BLOB_MIN_BYTES,
    EvidenceStore,
    Flag,
    Measurement,
    Obs,
    read_evidence,
)
from conformance.run.records import ChunkEvent, RequestRecord

KEY = "sk-test-" + "x" * 30
MANIFEST = {"spec": {"digest": "a"}, "profile": {"id": "p"}, "candidate": {"n": 1},
            "only": None, "plan_digest": "d", "note": f"Bearer {KEY}"}


def store(tmp_path: Path, resume: bool = False) -> EvidenceStore:
    return EvidenceStore.open(tmp_path / "ev", MANIFEST, Redactor([KEY]), resume=resume)


def rec(seq: int, big: bool = False) -> RequestRecord:
    n = 400 if big else 2
    return RequestRecord(
        request_id=f"sustained-{seq}", phase="sustained", seq=seq,
        request={"headers": {"authorization": f"Bearer {KEY}"}, "echo": KEY},
        events=[ChunkEvent(i, f'{{"i": {i}, "pad": "{"y" * 20}"}}'.encode()) for i in range(n)],
        headers={"x-echo": KEY}, text=f"the key is {KEY}")


def test_nothing_secret_reaches_disk(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.request(rec(0))
    s.request(rec(1, big=True))
    s.measurement(Measurement("API-001", "m", detail={"k": KEY},
                              observations=(Obs(True, KEY),)), test="t", attempt=1)
    s.close()
    files = [p for p in (tmp_path / "ev").rglob("*") if p.is_file()]
    assert any(p.parent.name == "blobs" for p in files)
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p


def test_what_the_candidate_said_is_kept_as_sent(tmp_path: Path) -> None:
    """Credential-shaped words in an answer are model output, not secrets: rewriting them
    ("Basic averages" → "Basic [REDACTED]") falsified the text the audits read and made
    SEC-006 see an echoed key on a clean service. Only the registered key is removed."""
    said = "just Basic averages event, a Bearer instrument12 and "
    s = store(tmp_path)
    r = RequestRecord(request_id="sustained-9", phase="sustained", seq=9,
                      body=json.dumps({"content": said + KEY}).encode(),
                      events=[ChunkEvent(1, json.dumps({"delta": said}).encode())],
                      content_chunks=[(1, said, 2), (2, KEY, 1)], text=said + KEY,
                      headers={"x-note": "Bearer abcdefgh12345678"}, secrets_echoed=["text"])
    s.request(r)
    s.close()
    raw = (tmp_path / "ev" / "phases" / "sustained.jsonl").read_bytes()
    assert KEY.encode() not in raw
    back = read_evidence(tmp_path / "ev").phase("sustained").records(tmp_path / "ev")[0]
    assert back.text == said + "[REDACTED]"
    assert back.content_chunks[0][1] == said and back.content_chunks[1][1] == "[REDACTED]"
    assert said in (back.body or b"").decode() and said in back.events[0].data.decode()
    assert back.headers["x-note"] == "Bearer [REDACTED]"  # headers keep the pattern
    assert back.secrets_echoed == ["text"]  # where the client found the key (SEC-006)


def test_big_events_go_to_blobs_and_come_back(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.request(rec(3, big=True))
    s.close()
    line = json.loads((tmp_path / "ev" / "phases" / "sustained.jsonl").read_text())
    assert line["record"]["events"] == [] and line["blobs"]["events"].startswith("sha256:")
    assert line["record_version"] == 1 and line["tool_version"]
    blob = tmp_path / "ev" / "blobs" / line["blobs"]["events"].removeprefix("sha256:")
    assert blob.stat().st_size >= BLOB_MIN_BYTES
    back = read_evidence(tmp_path / "ev").phase("sustained").records(tmp_path / "ev")
    assert len(back[0].events) == 400 and back[0].events[5].t_ns == 5


def test_torn_last_line_is_repaired_and_ids_deduplicate(tmp_path: Path) -> None:
    s = store(tmp_path)
    for i in range(3):
        s.request(rec(i))
    s.close()
    path = tmp_path / "ev" / "phases" / "sustained.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"record_version": 1, "type": "request", "id": "sustained-9", "rec')
    assert read_evidence(tmp_path / "ev").phase("sustained").seqs() == {0, 1, 2}
    s2 = store(tmp_path, resume=True)
    assert list(s2.repaired) == ["phases/sustained.jsonl"]
    s2.request(rec(2))  # written again by a resumed run: counted once
    s2.request(rec(3))
    s2.close()
    assert all(json.loads(x) for x in path.read_text().splitlines())
    assert read_evidence(tmp_path / "ev").phase("sustained").seqs() == {0, 1, 2, 3}


def test_only_the_latest_attempt_of_a_test_counts(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.append("tests", "test_start", "t:a:start:1", {"test": "a", "attempt": 1})
    s.measurement(Measurement("API-001", "m", key="0", value=1.0), test="a", attempt=1)
    s.measurement(Measurement("API-001", "m", key="1", value=2.0), test="a", attempt=1)
    s.append("tests", "test_start", "t:a:start:2", {"test": "a", "attempt": 2})
    s.measurement(Measurement("API-001", "m", key="0", value=3.0), test="a", attempt=2)
    s.append("tests", "test_end", "t:a:end", {"test": "a", "attempt": 2, "outcome": "passed"})
    s.flag(Flag("API-002", "no_test"))
    s.close()
    ev = read_evidence(tmp_path / "ev")
    assert [m.value for m in ev.measurements] == [3.0]
    assert "a" in ev.tests_done and ev.attempts == {"a": 2}
    assert [f.name for f in ev.flags] == ["no_test"]


def test_resume_refuses_a_different_run(tmp_path: Path) -> None:
    store(tmp_path).close()
    with pytest.raises(InputError, match="already holds evidence"):
        store(tmp_path)
    other = {**MANIFEST, "plan_digest": "changed"}
    with pytest.raises(InputError, match="plan_digest"):
        EvidenceStore.open(tmp_path / "ev", other, Redactor(), resume=True)
