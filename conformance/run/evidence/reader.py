"""Read a run's evidence back: the one view used by resume, verdicts and reports.

Duplicates collapse by record id (the last line wins), so a fact written twice by a
resumed run counts once; a ``superseded`` line drops the request records it names (a
resume sends them again, after it), and a probe record stamped with a test attempt that is
not the test's latest is dropped (the re-run test sends its own). Measurements and flags
count only from the latest attempt of the test that recorded them: a test killed half-way
and re-run on resume replaces what its first attempt wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance._core.errors import EvidenceError, InputError, Problem
from conformance.run.evidence.records import Flag, Measurement
from conformance.run.evidence.store import MANIFEST, iter_lines
from conformance.run.records import RequestRecord


@dataclass
class PhaseEvidence:
    name: str
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> line
    segments: list[dict[str, Any]] = field(default_factory=list)  # phase_start lines
    end: dict[str, Any] | None = None  # phase_end line, when complete

    @property
    def complete(self) -> bool:
        return self.end is not None

    def seqs(self) -> set[int]:
        return {int(line["record"]["seq"]) for line in self.requests.values()}

    def records(self, root: Path | None = None) -> list[RequestRecord]:
        """Request records in sequence order (raw events/bodies restored from blobs when
        ``root`` is given)."""
        out = []
        for line in sorted(self.requests.values(), key=lambda x: int(x["record"]["seq"])):
            d = dict(line["record"])
            if root is not None:
                for part, ref in line.get("blobs", {}).items():
                    d[part] = _blob(root, ref, part)
            out.append(RequestRecord.from_json(d))
        return out


def _blob(root: Path, ref: str, part: str) -> Any:
    path = root / "blobs" / ref.removeprefix("sha256:")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(
            f"evidence blob {ref} is missing",
            [Problem("referenced by a request record", file=str(path))],
        ) from None
    return json.loads(raw) if part == "events" else raw.decode("utf-8", "replace")


@dataclass
class Evidence:
    root: Path
    manifest: dict[str, Any]
    phases: dict[str, PhaseEvidence]
    measurements: list[Measurement]
    flags: list[Flag]
    tests_done: dict[str, dict[str, Any]]  # test nodeid -> test_end line
    attempts: dict[str, int]  # test nodeid -> latest attempt number
    measurement_lines: dict[str, dict[str, Any]]  # measurement id -> line (current)

    def phase(self, name: str) -> PhaseEvidence:
        return self.phases.get(name) or PhaseEvidence(name)

    def record_ids(self) -> set[str]:
        """Every distinct record id on disk (requests, phases, measurements, tests)."""
        return {str(x["id"]) for x in iter_lines(self.root) if "id" in x}

    def health(self) -> dict[str, dict[str, Any]]:
        """Client health per completed phase (``phase_end`` records)."""
        return {
            n: dict(p.end.get("health", {})) for n, p in self.phases.items() if p.end is not None
        }


def read_evidence(root: Path) -> Evidence:
    """Load ``<run>/evidence`` (the directory holding ``run.json``)."""
    mpath = root / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"no evidence in {root}",
            [
                Problem(
                    "run.json not found",
                    file=str(mpath),
                    hint="pass the --out directory of a `tokencert run`",
                )
            ],
        ) from None
    except ValueError as exc:
        raise EvidenceError(f"{mpath} is not JSON", [Problem(str(exc), file=str(mpath))]) from None
    attempts: dict[str, int] = {}
    done: dict[str, dict[str, Any]] = {}
    for line in iter_lines(root, "tests"):
        test = str(line.get("test", ""))
        if line.get("type") == "test_start":
            attempts[test] = max(attempts.get(test, 0), int(line.get("attempt", 0)))
            done.pop(test, None)
        elif line.get("type") == "test_end" and int(line.get("attempt", 0)) == attempts.get(
            test, 0
        ):
            done[test] = line
    phases: dict[str, PhaseEvidence] = {}
    pdir = root / "phases"
    for path in sorted(pdir.glob("*.jsonl")) if pdir.is_dir() else []:
        ph = phases.setdefault(path.stem, PhaseEvidence(path.stem))
        for line in iter_lines(root, f"phases/{path.stem}"):
            t = line.get("type")
            if t == "request":
                if _superseded_attempt(line, attempts):
                    continue  # a probe of an earlier attempt of a test re-run on resume
                ph.requests[str(line["id"])] = line
            elif t == "phase_start":
                ph.segments.append(line)
            elif t == "phase_end":
                ph.end = line
            elif t == "superseded":  # sent again later in the file (resume)
                for rid in line.get("ids", ()):
                    ph.requests.pop(str(rid), None)
    current: dict[str, dict[str, Any]] = {}
    for line in iter_lines(root, "measurements"):
        test = str(line.get("test", ""))
        if test and int(line.get("attempt", 0)) != attempts.get(test, 0):
            continue  # an earlier, superseded attempt of this test
        current[str(line["id"])] = line
    meas = [Measurement.from_json(x) for x in current.values() if x.get("type") == "measurement"]
    flags = [Flag.from_json(x) for x in current.values() if x.get("type") == "flag"]
    return Evidence(root, manifest, phases, meas, flags, done, attempts, current)


def _superseded_attempt(line: dict[str, Any], attempts: dict[str, int]) -> bool:
    """A probe record (not a load phase's: those carry ``segment`` and are resumed, never
    re-sent) written by an attempt of a test that is not its latest."""
    test = str(line.get("test", ""))
    return ("segment" not in line and bool(test)
            and int(line.get("attempt", 0)) != attempts.get(test, 0))


def iter_request_lines(root: Path) -> Iterator[dict[str, Any]]:
    """Request lines of every phase (deduplicated by id, last wins)."""
    ev = read_evidence(root)
    for ph in ev.phases.values():
        yield from ph.requests.values()
