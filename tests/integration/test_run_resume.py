"""SIGKILL at a random point, then --resume: the same evidence as an uninterrupted run."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from run_e2e_helpers import run, run_args, run_env

from conformance.reference import ReferenceService
from conformance.run.evidence import iter_lines, read_evidence

pytestmark = pytest.mark.slow

# bookkeeping lines that legitimately differ: a resumed phase has two segments, a re-run
# test two attempts, and the run's end line is rewritten
BOOKKEEPING = {"phase_start", "test_start", "run_end"}


def record_ids(out: Path) -> set[str]:
    return {str(x["id"]) for x in iter_lines(out / "evidence") if x["type"] not in BOOKKEEPING}


def counts(out: Path) -> dict[str, int]:
    ev = read_evidence(out / "evidence")
    return {m.id: len(m.samples or m.observations or ()) for m in ev.measurements}


@pytest.fixture(scope="module")
def whole(ref_fast: ReferenceService, tiny_profile: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    p = run(ref_fast, tiny_profile, out)
    assert p.returncode == 0, p.stderr
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_then_resume_gives_the_same_records(
    ref_fast: ReferenceService, tiny_profile: Path, tmp_path: Path, seed: int, whole: Path
) -> None:
    cut = tmp_path / "cut"
    proc = subprocess.Popen(run_args(ref_fast, tiny_profile, cut), env=run_env(ref_fast),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = cut / "evidence" / "run.json"
    deadline = time.monotonic() + 60
    while not manifest.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    delay = random.Random(seed).uniform(0.2, 4.0)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed_early = proc.returncode == -signal.SIGKILL
    partial = record_ids(cut)

    r = run(ref_fast, tiny_profile, cut, "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    assert partial <= record_ids(cut), "a resume lost recorded evidence"
    assert record_ids(cut) == record_ids(whole), f"killed after {delay:.2f} s"
    assert counts(cut) == counts(whole), "a resumed run counted something twice"
    assert read_evidence(cut / "evidence").phase("sustained").seqs() == set(range(24))
    doc = json.loads((cut / "results.json").read_text())
    assert doc["status"] == "complete"
    if killed_early:
        assert len(partial) < len(record_ids(whole))
        print(f"killed after {delay:.2f} s with {len(partial)} records on disk")
