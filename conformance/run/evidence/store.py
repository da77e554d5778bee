"""Append-only evidence on disk: JSONL streams, content-addressed blobs, resume.

Layout under ``<run>/evidence/``::

    run.json                 manifest: tool, spec, profile, candidate, plan (written once)
    phases/<phase>.jsonl     request records and phase_start/phase_end of one load phase
    measurements.jsonl       measurements and flags recorded by the tests
    tests.jsonl              test_start / test_end of each test attempt
    blobs/<sha256 hex>       large raw bodies and event lists, named by their digest

Every line passes through the :class:`~conformance._core.redact.Redactor` before it is
written. Lines are flushed at once and fsynced at checkpoints (every ``sync_every``
records, at every phase/test boundary and on close). A killed run leaves at most one torn
last line per file; :meth:`EvidenceStore.open` repairs it (truncates to the last complete
line) before appending again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from conformance import __version__
from conformance._core.canonical import sha256_hex
from conformance._core.errors import EvidenceError, InputError, Problem
from conformance._core.redact import Redactor
from conformance.run.evidence.records import EVIDENCE_RECORD_VERSION, Flag, Measurement
from conformance.run.records import RequestRecord

BLOB_MIN_BYTES = 8 * 1024  # raw events/bodies at least this large go to blobs/
MANIFEST = "run.json"
RESUME_KEYS = ("spec", "profile", "candidate", "only", "plan_digest")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every filesystem syncs directories
    finally:
        os.close(fd)


def _first_missing_blob(data: bytes, blobs: Path) -> int | None:
    """Offset of the first line that references a blob not on disk (None: none does)."""
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        if b'"blobs"' in data[pos:end]:
            try:
                refs = json.loads(data[pos:end]).get("blobs", {})
            except (ValueError, AttributeError):
                refs = {}
            for ref in refs.values() if isinstance(refs, dict) else ():
                if not (blobs / str(ref).removeprefix("sha256:")).is_file():
                    return pos
        pos = end
    return None


def _repair(path: Path, blobs: Path | None = None) -> int:
    """Drop a torn tail: a last line without newline or not JSON, and (``blobs`` given)
    everything from the first line whose blob is missing; returns the bytes removed."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    end = len(data)
    good = data.rfind(b"\n") + 1 if not data.endswith(b"\n") else end
    if good == end and end:
        last_start = data.rfind(b"\n", 0, end - 1) + 1
        try:
            json.loads(data[last_start:end])
        except ValueError:
            good = last_start
    if blobs is not None:
        missing = _first_missing_blob(data[:good], blobs)
        if missing is not None:
            good = missing
    if good < end:
        with path.open("r+b") as fh:
            fh.truncate(good)
            fh.flush()
            os.fsync(fh.fileno())
    return end - good


class EvidenceStore:
    """Writes evidence for one run directory. Thread-safe appends; one writer process."""

    def __init__(self, root: Path, redactor: Redactor, *, sync_every: int = 50) -> None:
        self.root = root
        self.redactor = redactor
        self.sync_every = sync_every
        self._files: dict[str, IO[bytes]] = {}
        self._unsynced = 0
        self._blobs_unsynced: list[Path] = []
        self._lock = threading.Lock()
        self.repaired: dict[str, int] = {}
        # called with every request record once it is written (the session counts requests
        # that got no answer); an exception raised there ends the caller's phase or probe
        self.observers: list[Callable[[RequestRecord], None]] = []
        # the test attempt now running ({"test", "attempt"}), stamped on every probe record
        # (a record outside a load phase): a resume that re-runs the test supersedes them
        self.context: dict[str, Any] = {}

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        root: Path,
        manifest: Mapping[str, Any],
        redactor: Redactor,
        *,
        resume: bool = False,
    ) -> EvidenceStore:
        """Create ``root`` with ``manifest``, or (``resume``) continue the evidence there.

        Resuming checks that the run is the same one (spec, profile, candidate, selection,
        plan); starting afresh refuses a directory that already holds evidence."""
        path = root / MANIFEST
        if path.exists():
            if not resume:
                raise InputError(
                    f"{root} already holds evidence of a run",
                    [
                        Problem(
                            "evidence exists",
                            file=str(path),
                            hint="pass --resume to continue it, or choose a new --out",
                        )
                    ],
                )
            old = json.loads(path.read_text(encoding="utf-8"))
            diff = [k for k in RESUME_KEYS if old.get(k) != manifest.get(k)]
            if diff:
                raise InputError(
                    f"cannot resume the run in {root}: {', '.join(diff)} changed",
                    [
                        Problem(
                            f"{k} differs from the recorded run",
                            file=str(path),
                            hint="resume with the same candidate, profile and --only",
                        )
                        for k in diff
                    ],
                )
        else:
            root.mkdir(parents=True, exist_ok=True)
            data = redactor.data(dict(manifest))
            data.setdefault("record_version", EVIDENCE_RECORD_VERSION)
            data.setdefault("tool_version", __version__)
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
        store = cls(root, redactor)
        for f in root.rglob("*.jsonl"):
            removed = _repair(f, root / "blobs")
            if removed:
                store.repaired[str(f.relative_to(root))] = removed
        return store

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        return data

    # -- writing -----------------------------------------------------------------------
    def _file(self, stream: str) -> IO[bytes]:
        fh = self._files.get(stream)
        if fh is None:
            path = self.root / f"{stream}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = path.open("ab")
            self._files[stream] = fh
        return fh

    def append(self, stream: str, rtype: str, rid: str, payload: Mapping[str, Any]) -> None:
        """Append one record (redacted) to ``<stream>.jsonl``."""
        self._write(stream, rtype, rid, self.redactor.data(dict(payload)))

    def _write(self, stream: str, rtype: str, rid: str, redacted: Mapping[str, Any]) -> None:
        line = {
            "record_version": EVIDENCE_RECORD_VERSION,
            "tool_version": __version__,
            "type": rtype,
            "id": rid,
            **redacted,
        }
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fh = self._file(stream)
            fh.write(data)
            fh.flush()
            self._unsynced += 1
            if self._unsynced >= self.sync_every:
                self._sync_locked()

    def blob(self, data: bytes) -> str:
        """Store ``data`` (already redacted) under its digest; returns ``sha256:<hex>``.

        Group commit: the blob is written (to a temporary name, then renamed, so a reader
        never sees half of one) but fsynced at the next sync point, before the JSONL lines
        are, so every line that is durable has durable blobs. A line that reached the disk
        before its blob (a power cut between sync points) starts the torn tail that
        :func:`_repair` drops on resume. (One fsync per blob had made the evidence writer,
        not the client, the limit at tens of thousands of chunks per second.)"""
        hexd = sha256_hex(data)
        path = self.root / "blobs" / hexd
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(hexd + ".tmp")
            with tmp.open("wb") as fh:
                fh.write(data)
            tmp.replace(path)
            with self._lock:
                self._blobs_unsynced.append(path)
        return "sha256:" + hexd

    def request(self, rec: RequestRecord, **extra: Any) -> None:
        """Persist a request record of phase ``rec.phase``; big raw parts go to blobs."""
        d = record_json(rec)
        blobs: dict[str, str] = {}
        # the per-chunk lists are redacted apart from the rest of the line (one check of
        # their joined text, item by item only when it finds something): walking them
        # item by item through the redactor cost more than everything else per chunk
        events: list[list[Any]] = d.pop("events")
        chunks: list[list[Any]] = d.pop("content_chunks")
        raw = json.dumps(events, ensure_ascii=False).encode()
        if len(raw) >= BLOB_MIN_BYTES:
            blobs["events"] = self.blob(self.redactor.bytes_(raw))
            events = []
        body = d.get("body")
        if isinstance(body, str) and len(body) >= BLOB_MIN_BYTES:
            blobs["body"] = self.blob(self.redactor.bytes_(body.encode()))
            d["body"] = None
        context = self.context if "segment" not in extra else {}
        payload: dict[str, Any] = {"phase": rec.phase, **context, **extra, "record": d}
        if blobs:
            payload["blobs"] = blobs
        # what the candidate said is redacted of the secrets only (Redactor.exact): a
        # credential-shaped pattern in an answer is model output, and evidence stays as sent
        said = {k: d.pop(k) for k in _SAID if k in d}
        redacted = self.redactor.data(payload)
        redacted["record"].update({k: self.redactor.exact(v) if isinstance(v, str) else v
                                   for k, v in said.items()})
        redacted["record"]["events"] = _redact_pairs(self.redactor, events, 1)
        redacted["record"]["content_chunks"] = _redact_pairs(self.redactor, chunks, 1)
        self._write(f"phases/{rec.phase}", "request", rec.request_id, redacted)
        for observe in self.observers:
            observe(rec)

    def measurement(self, m: Measurement, *, test: str, attempt: int) -> None:
        self.append(
            "measurements", "measurement", m.id, {**m.to_json(), "test": test, "attempt": attempt}
        )

    def flag(self, f: Flag, *, test: str = "", attempt: int = 0) -> None:
        self.append("measurements", "flag", f.id, {**f.to_json(), "test": test, "attempt": attempt})

    def checkpoint(self) -> None:
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._blobs_unsynced:
            for path in self._blobs_unsynced:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            _fsync_dir(self.root / "blobs")  # the renames
            self._blobs_unsynced.clear()
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
        self._unsynced = 0

    def close(self) -> None:
        with self._lock:
            self._sync_locked()
            for fh in self._files.values():
                fh.close()
            self._files.clear()


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(RequestRecord))


def record_json(rec: RequestRecord) -> dict[str, Any]:
    """``rec.to_json()`` without ``dataclasses.asdict``'s deep copy of every chunk (the
    evidence writer serialises the result at once and never mutates it)."""
    d = {name: getattr(rec, name) for name in _RECORD_FIELDS}
    d["request"] = dict(rec.request)
    d["headers"] = dict(rec.headers)
    d["usage"] = dict(rec.usage) if rec.usage is not None else None
    d["decode_errors"] = list(rec.decode_errors)
    d["secrets_echoed"] = list(rec.secrets_echoed)
    d["events"] = [[e.t_ns, e.data.decode("utf-8", "replace")] for e in rec.events]
    d["body"] = rec.body.decode("utf-8", "replace") if rec.body is not None else None
    d["content_chunks"] = [list(c) for c in rec.content_chunks]
    return d


# record fields that hold what the candidate said (redacted of the secrets only)
_SAID = ("body", "text", "reasoning_text")


def _redact_pairs(redactor: Redactor, items: list[list[Any]], at: int) -> list[list[Any]]:
    """``redactor.exact`` over item ``at`` (the only string) of each item: a secret inside
    any item also shows in the items' joined text (joined with a newline), so when the
    joined text is clean every item is."""
    if not items:
        return items
    joined = "\n".join(str(x[at]) for x in items)
    if redactor.exact(joined) == joined:
        return items
    return [[redactor.exact(v) if i == at and isinstance(v, str) else v
             for i, v in enumerate(x)] for x in items]


def iter_lines(root: Path, stream: str | None = None) -> Iterator[dict[str, Any]]:
    """Every parseable line of ``<stream>.jsonl`` (all streams when None), in file order.
    A torn last line is skipped."""
    files = [root / f"{stream}.jsonl"] if stream else sorted(root.rglob("*.jsonl"))
    for path in files:
        if not path.exists():
            continue
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                try:
                    obj = json.loads(raw)
                except ValueError as exc:
                    raise EvidenceError(
                        f"evidence file {path} holds a corrupt line",
                        [Problem(str(exc), file=str(path))],
                    ) from None
                if isinstance(obj, dict):
                    yield obj
