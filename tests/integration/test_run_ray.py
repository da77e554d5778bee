"""`tokencert run --ray-address`: load phases on a real local Ray cluster (head + workers on
127.0.0.1, started here and stopped at the end) against the reference service over TLS."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from run_e2e_helpers import FAST_SIM, run_env, tokencert_cmd

from conformance._core import resources
from conformance._core.schema import validate_data
from conformance.reference import ReferenceService
from conformance.run.evidence import iter_lines

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")  # the dev extra installs it; CI runs these

ONLY = "PERF-001,PERF-002,STAB-001"
REQUESTS = 40
WARMUP = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, int]]:
    """A Ray head on 127.0.0.1 with 2 CPUs (room for two load workers) and a small object
    store; stopped by killing its own process group (never `ray stop`, which would stop
    every Ray on the machine)."""
    tmp = tempfile.mkdtemp(prefix="tcray", dir="/tmp")  # Ray's socket paths must be short
    port = _free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_USAGE_STATS_ENABLED": "0"}
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [str(ray_bin) if ray_bin.exists() else "ray", "start", "--head",
           "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
           "--object-store-memory", str(80 * 2**20), "--include-dashboard", "false",
           "--disable-usage-stats", "--temp-dir", tmp]
    p = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    pgid = p.pid
    try:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
        yield f"127.0.0.1:{port}", pgid
    finally:
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            procs = _group(pgid)  # only what this cluster started, by pid
            if not procs:
                break
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(sig)
            psutil.wait_procs(procs, timeout=wait_s)
        shutil.rmtree(tmp, ignore_errors=True)


def _group(pgid: int) -> list[psutil.Process]:
    """The cluster's processes: its process group and their descendants (the raylet starts
    workers in sessions of their own)."""
    top = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid:
                top.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    seen = {p.pid: p for p in top}
    for p in top:
        try:
            for c in p.children(recursive=True):
                seen.setdefault(c.pid, c)
        except psutil.Error:
            continue
    return list(seen.values())


def _listening_off_loopback(pgid: int) -> list[str]:
    bad = []
    for proc in _group(pgid):
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN and c.laddr.ip not in (
                    "127.0.0.1", "::ffff:127.0.0.1", "::1"):
                bad.append(f"{proc.pid} {proc.name()} {c.laddr.ip}:{c.laddr.port}")
    return bad


@pytest.fixture(scope="module")
def bounded_quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick profile with its sustained phase bounded by a request count instead of
    45 s, so the plan fixes the number of records (and CI time stays bounded)."""
    prof = yaml.safe_load((resources.spec_dir() / "profiles" / "quick.yaml").read_text())
    prof["id"] = "quick-bounded"
    s = prof["phases"]["sustained"]
    s.pop("duration_s", None)
    s.pop("window_s", None)
    s["requests"] = REQUESTS
    path = tmp_path_factory.mktemp("profile") / "quick-bounded.yaml"
    path.write_text(yaml.safe_dump(prof), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ref_tls() -> Iterator[ReferenceService]:
    with ReferenceService.start(tls=True, sim_config=FAST_SIM) as svc:
        yield svc


def _run(svc: ReferenceService, profile: Path, out: Path, *extra: str
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tokencert_cmd("run", "--candidate", str(svc.declaration_path), "--profile",
                      str(profile), "--out", str(out), "--only", ONLY, *extra),
        env=run_env(svc), capture_output=True, text=True, timeout=240, check=False)


def _lines(out: Path, stream: str = "phases/sustained") -> list[dict[str, Any]]:
    path = out / "evidence" / f"{stream}.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _verdicts(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / "results.json").read_text())
    return {r["id"]: r for r in doc["requirements"]}


def test_ray_run_gives_the_single_process_verdicts(
        ray_cluster: tuple[str, int], ref_tls: ReferenceService, bounded_quick: Path,
        tmp_path: Path) -> None:
    address, pgid = ray_cluster
    single = _run(ref_tls, bounded_quick, tmp_path / "single")
    dist = _run(ref_tls, bounded_quick, tmp_path / "ray", "--ray-address", address,
                "--ray-workers", "2")
    assert single.returncode in (0, 1), single.stdout + single.stderr
    assert dist.returncode == single.returncode, dist.stdout + dist.stderr
    assert _listening_off_loopback(pgid) == []

    a, b = _verdicts(tmp_path / "single"), _verdicts(tmp_path / "ray")
    assert set(a) == set(b) == set(ONLY.split(","))
    undecided = {"insufficient_samples", "client_saturated"}  # both: cannot tell
    for rid in a:
        assert (a[rid]["outcome"], a[rid]["level"]) == (b[rid]["outcome"], b[rid]["level"]), \
            (a[rid], b[rid])
        assert a[rid]["reason"] == b[rid]["reason"] or {a[rid]["reason"],
                                                        b[rid]["reason"]} <= undecided
    # the plan's record count, every sequence number once, from both Ray workers
    recs = [x["record"] for x in _lines(tmp_path / "ray") if x["type"] == "request"]
    assert sorted(r["seq"] for r in recs) == list(range(REQUESTS))
    assert {r["worker"] for r in recs} == {0, 1}
    assert all(r["error"] is None and r["status"] == 200 for r in recs)
    single_recs = [x for x in _lines(tmp_path / "single") if x["type"] == "request"]
    assert len(single_recs) == REQUESTS
    n_measured = REQUESTS - WARMUP
    for rid in ("PERF-001", "STAB-001"):
        assert b[rid]["measurements"][0]["n"] == a[rid]["measurements"][0]["n"] == n_measured

    # clocks: each node's offset measured in min-RTT round trips and recorded; on one
    # machine the true offset is 0, so the measured one must lie within ± RTT/2
    end = next(x for x in _lines(tmp_path / "ray") if x["type"] == "phase_end")
    start = next(x for x in _lines(tmp_path / "ray") if x["type"] == "phase_start")
    nodes = end["load"]["nodes"]
    assert end["load"]["backend"] == "ray" and end["load"]["lost_workers"] == []
    assert [n["worker"] for n in nodes] == [0, 1]
    for n in nodes:
        assert 0 < n["rtt_ns"] < 1_000_000_000 and n["uncertainty_ns"] == n["rtt_ns"] // 2
        assert abs(n["mono_offset_ns"]) <= n["uncertainty_ns"] + 1_000_000, n
        assert abs(n["wall_offset_ns"]) <= n["uncertainty_ns"] + 5_000_000, n
    # timestamps are on the driver's clock: inside the phase as the driver saw it
    assert min(r["sent_ns"] for r in recs) >= start["t0_ns"]
    assert max(r["last_byte_ns"] for r in recs) <= start["t0_ns"] + int(
        (end["duration_s"] + 1.0) * 1e9)
    assert end["health"]["processes"] == 2
    manifest = json.loads((tmp_path / "ray" / "evidence" / "run.json").read_text())
    assert manifest["load_backend"] == {"backend": "ray", "address": address, "workers": 2}


def _load_workers(pgid: int) -> list[psutil.Process]:
    out = []
    for proc in _group(pgid):
        try:
            if proc.cmdline()[:1] and proc.cmdline()[0].startswith("ray::LoadWorker"):
                out.append(proc)
        except psutil.Error:
            continue
    return out


def test_killing_a_ray_worker_mid_phase_loses_no_evidence_and_blames_no_one(
        ray_cluster: tuple[str, int], ref_tls: ReferenceService, bounded_quick: Path,
        tmp_path: Path) -> None:
    address, pgid = ray_cluster
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        tokencert_cmd("run", "--candidate", str(ref_tls.declaration_path), "--profile",
                      str(bounded_quick), "--out", str(out), "--only", ONLY,
                      "--ray-address", address, "--ray-workers", "2"),
        env=run_env(ref_tls), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    phase = out / "evidence" / "phases" / "sustained.jsonl"
    seen_before_kill = 0
    victim: psutil.Process | None = None
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n = phase.read_text().count('"type":"request"') if phase.exists() else 0
            workers = _load_workers(pgid)
            if n >= 8 and len(workers) == 2:
                victim = workers[0]
                seen_before_kill = n
                victim.send_signal(signal.SIGKILL)  # a process this test's cluster started
                break
            time.sleep(0.1)
        stdout, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert victim is not None, "the phase ended before a worker could be killed"

    assert proc.returncode == 3, stdout  # incomplete: a load worker was lost
    lines = _lines(out)
    recs = [x["record"] for x in lines if x["type"] == "request"]
    assert len(recs) >= seen_before_kill  # nothing recorded was lost
    assert len({r["seq"] for r in recs}) == len(recs)
    lost = [r for r in recs if r["error"] == "worker_lost"]
    assert lost, "the killed worker's in-flight requests must be recorded"
    (k,) = {r["worker"] for r in lost}
    end = next(x for x in lines if x["type"] == "phase_end")
    assert end["load"]["lost_workers"] == [k] and end["stop_reason"] == "worker_lost"
    # the other worker finished its whole share
    other = sorted(r["seq"] for r in recs if r["worker"] != k)
    assert other == list(range(1 - k, REQUESTS, 2))
    # nothing counts against the service: every request it answered succeeded, and the
    # lost ones are in no rate
    served = [r for r in recs if r["error"] != "worker_lost"]
    assert all(r["status"] == 200 and r["error"] is None for r in served)
    v = _verdicts(out)
    assert all(x["outcome"] != "fail" for x in v.values()), v
    m = v["STAB-001"]["measurements"][0]
    assert m["n"] == len([r for r in served if r["seq"] >= WARMUP]) and m["value"] == 1.0
    run_end = next(x for x in _lines(out, "tests") if x["type"] == "run_end")
    assert run_end["status"] == "incomplete"
    assert any("worker_lost" in s for s in run_end["incomplete"])
    for line in iter_lines(out / "evidence"):  # worker_lost records and the load section too
        assert validate_data("evidence-record", line) == [], line["id"]
