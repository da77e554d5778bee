"""The evidence writer's fast path: same lines, same redaction, blobs group-committed."""

from __future__ import annotations

import json
from pathlib import Path

from conformance._core.redact import Redactor
from conformance.run.evidence import EvidenceStore, read_evidence
from conformance.run.evidence.store import record_json
from conformance.run.records import ChunkEvent, RequestRecord

KEY = "sk-group-" + "z" * 24
MANIFEST = {"spec": {"digest": "a"}, "profile": {"id": "p"}, "candidate": {"n": 1},
            "only": None, "plan_digest": "d"}


def rec(seq: int, n: int, text: str = " word") -> RequestRecord:
    return RequestRecord(
        request_id=f"ph-{seq}", phase="ph", seq=seq, status=200, sent_ns=1, last_byte_ns=9,
        request={"json": {"messages": [{"role": "user", "content": "hi"}]}},
        headers={"x-request-id": "r"}, usage={"completion_tokens": n},
        events=[ChunkEvent(i, b'{"choices":[{"delta":{"content":"w"}}]}') for i in range(n)],
        content_chunks=[(i, text if i == n // 2 else " w", 1) for i in range(n)],
        decode_errors=["e"], body=None, text="t")


def test_record_json_is_to_json() -> None:
    r = rec(0, 5)
    assert record_json(r) == r.to_json()
    r.body, r.events = b"\xffbody", []
    assert record_json(r) == r.to_json()


def test_secret_in_one_chunk_is_redacted(tmp_path: Path) -> None:
    s = EvidenceStore.open(tmp_path / "ev", MANIFEST, Redactor([KEY]))
    s.request(rec(0, 6, text=f" {KEY}"))  # small: events inline
    s.request(rec(1, 6, text=" Bearer abcdefghijklmnop"))
    s.request(rec(2, 400, text=f" {KEY}"))  # big: events in a blob
    s.close()
    for p in (tmp_path / "ev").rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), p
    recs = read_evidence(tmp_path / "ev").phase("ph").records(tmp_path / "ev")
    assert [len(r.content_chunks) for r in recs] == [6, 6, 400]
    assert recs[0].content_chunks[3][1] == " [REDACTED]"
    # a bearer-shaped word the candidate wrote is not one of our secrets: kept as sent
    assert recs[1].content_chunks[3][1] == " Bearer abcdefghijklmnop"
    assert recs[0].content_chunks[0][1] == " w" and len(recs[2].events) == 400


def test_line_whose_blob_never_reached_disk_starts_the_torn_tail(tmp_path: Path) -> None:
    s = EvidenceStore.open(tmp_path / "ev", MANIFEST, Redactor())
    for seq in range(4):
        s.request(rec(seq, 400 + seq))  # every one has an events blob
    s.close()
    lines = [json.loads(x) for x in (tmp_path / "ev/phases/ph.jsonl").read_text().splitlines()]
    # a power cut before the sync point: the line of seq 2 is on disk, its blob is not
    (tmp_path / "ev/blobs" / lines[2]["blobs"]["events"].removeprefix("sha256:")).unlink()
    s = EvidenceStore.open(tmp_path / "ev", MANIFEST, Redactor(), resume=True)
    assert s.repaired.get("phases/ph.jsonl", 0) > 0
    s.close()
    ph = read_evidence(tmp_path / "ev").phase("ph")
    assert ph.seqs() == {0, 1}  # 2 and everything after it are re-sent on resume
    assert [len(r.events) for r in ph.records(tmp_path / "ev")] == [400, 401]
