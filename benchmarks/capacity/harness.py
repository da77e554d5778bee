"""What both capacity benchmarks share: the replay server process, a picklable request
factory, and one load phase run through the real engine into a real evidence store."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance._core.redact import Redactor
from conformance.run.client import ChatParams, ClientConfig
from conformance.run.evidence import EvidenceStore, run_phase
from conformance.run.evidence.reader import PhaseEvidence
from conformance.run.load import LoadRunner, PhaseSpec
from conformance.run.records import RequestRecord
from conformance.run.tokenize.adapters import HFTokenizer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOKENIZER = ROOT / "conformance" / "reference" / "assets" / "tokenizer.json"


class ReplayServer:
    """``benchmarks/capacity/replay.py`` in its own process (pinned to ``cpu``)."""

    def __init__(self, chunks: int, cpu: int | None) -> None:
        cmd = [sys.executable, str(HERE / "replay.py"), "--chunks", str(chunks)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "LISTENING":
            raise RuntimeError(f"replay server did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line[1])}/v1"
        self.response_bytes = int(line[2])

    def cpu_s(self) -> float:
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
            f = stat.rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return float("nan")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@dataclass(frozen=True)
class Factory:
    """Picklable: worker processes rebuild requests from (seq, rng)."""

    max_tokens: int

    def __call__(self, seq: int, rng: Any) -> ChatParams:
        return ChatParams([{"role": "user", "content": f"capacity {seq}"}],
                          max_tokens=self.max_tokens)


def pin_client(server_cpu: int | None) -> None:
    if server_cpu is not None and hasattr(os, "sched_setaffinity"):
        cpus = set(range(os.cpu_count() or 1)) - {server_cpu}
        os.sched_setaffinity(0, cpus or {0})


def server_cpu_default() -> int | None:
    n = os.cpu_count() or 1
    return n - 1 if n > 1 and hasattr(os, "sched_setaffinity") else None


def cpu_s() -> float:
    """CPU seconds of this process and its reaped children (the load worker processes)."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def peak_rss_mb() -> float:
    """Peak RSS of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@dataclass
class Tally:
    requests: int = 0
    ok: int = 0
    events: int = 0
    content_chunks: int = 0
    tokens: int = 0
    bad: list[str] = field(default_factory=list)

    def add(self, rec: RequestRecord, expect_chunks: int) -> None:
        self.requests += 1
        self.events += len(rec.events)
        self.content_chunks += len(rec.content_chunks)
        self.tokens += sum(n for _, _, n in rec.content_chunks)
        if rec.ok and len(rec.content_chunks) == expect_chunks and rec.done_seen:
            self.ok += 1
        elif len(self.bad) < 5:
            self.bad.append(f"{rec.request_id}: status={rec.status} error={rec.error} "
                            f"chunks={len(rec.content_chunks)} {rec.error_detail or ''}")


def open_store(root: Path) -> EvidenceStore:
    return EvidenceStore.open(root, {"benchmark": "capacity"}, Redactor())


def make_runner(base_url: str, tokenizer: bool) -> LoadRunner:
    count = HFTokenizer(TOKENIZER).count if tokenizer else None
    return LoadRunner(ClientConfig(base_url=base_url, model="replay", api_key="sk-capacity"),
                      count_tokens=count)


def run(runner: LoadRunner, spec: PhaseSpec, factory: Factory, store: EvidenceStore,
        on_record: Any) -> tuple[Any, float, float]:
    """One phase through ``run_phase``; returns (outcome, wall s, client CPU s)."""
    c0, t0 = cpu_s(), time.perf_counter()
    outcome = asyncio.run(run_phase(runner, spec, factory, store, PhaseEvidence(spec.name),
                                    on_record))
    return outcome, time.perf_counter() - t0, cpu_s() - c0
