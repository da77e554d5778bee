"""`tokencert demo` through the real CLI, against the real reference service over TLS.

The README command runs the whole quick profile (measured in the docs); here `--only`
keeps CI fast while every stage still runs for real: service, run, PKI, DEMO reviews,
certify --demo, report, verify.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conformance.bundle import read_zip

pytestmark = pytest.mark.slow
ONLY = "API-001,API-002,DATA-*"
# ReferenceService keys: "sk-ref-a-"/"sk-ref-b-" + token_urlsafe(24) (32 characters)
API_KEY = re.compile(rb"sk-ref-[ab]-[A-Za-z0-9_-]{20,}")


def _demo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCERT_API_KEY")}
    return subprocess.run([sys.executable, "-m", "conformance", "demo", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def _left_running(out: Path) -> list[str]:
    left = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(out) in cmd and p.pid != os.getpid():
            left.append(f"{p.pid}: {cmd}")
    return left


def _no_secret_anywhere(out: Path) -> None:
    files = [f for f in out.rglob("*") if f.is_file()]
    assert files
    for f in files:
        data = f.read_bytes()
        assert not API_KEY.search(data), f"API key in {f}"
        if f.suffix == ".zip":
            for name, content in read_zip(data).items():
                assert not API_KEY.search(content), f"API key in {f}!{name}"
        if f.name.endswith(".key.pem"):
            assert b"ENCRYPTED PRIVATE KEY" in data, f"{f} is not encrypted"


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    t0 = time.monotonic()
    p = _demo("--out", str(out), "--only", ONLY)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    printed = dict(re.findall(r"^(certificate|bundle|report|trust root) +(\S+)$", p.stdout,
                              re.M))
    assert set(printed) == {"certificate", "bundle", "report", "trust root"}, p.stdout
    for path in printed.values():
        assert Path(path).is_file(), path
    assert (out / "run" / "report.pdf").is_file()
    assert "verification: VALID DEMO certificate — not a certification" in p.stdout
    # no live progress line (rewritten in place): stdout is not a terminal; plain
    # "progress: ..." lines (every 15 s) are what a pipe gets
    assert "\x1b[2K" not in p.stderr and "\r" not in p.stderr
    assert all(ln.startswith("progress: phase ") for ln in p.stderr.splitlines()
               if "progress:" in ln)
    assert "waived for the demo: profile 'quick' is not eligible" in p.stderr
    assert not _left_running(out)
    _no_secret_anywhere(out)

    # the manual items carry DEMO decisions, marked as such
    results = json.loads((out / "run" / "results.json").read_text(encoding="utf-8"))
    manual = [r for r in results["requirements"] if r["method"] == "manual"]
    assert manual and all(r["review"]["reviewer"].startswith("tokencert demo") and
                          r["review"]["note"].startswith("DEMO") for r in manual)

    # an independent verification of what it printed, with the public tool
    root = Path(printed["trust root"])
    verify = [sys.executable, "-m", "conformance", "verify", printed["certificate"],
              "--bundle", printed["bundle"], "--trust", str(root), "--crl",
              str(root.parent / "crl.pem"), "--status", str(root.parent / "status.json"),
              "--json"]
    v = subprocess.run(verify, capture_output=True, text=True, timeout=120, check=False)
    assert v.returncode == 1 and "DEMO certificate" in json.loads(v.stdout)["bottom_line"]
    v = subprocess.run([*verify, "--allow-demo"], capture_output=True, text=True,
                       timeout=120, check=False)
    assert v.returncode == 0, v.stdout
    report = json.loads(v.stdout)
    assert report["valid"] and report["demo"] and report["kind"] == "certificate"

    # a non-empty --out is refused; --force replaces the earlier demo; --json is clean JSON
    refused = _demo("--out", str(out), "--only", ONLY)
    assert refused.returncode == 2 and "not empty" in refused.stderr
    (out / "notes.txt").write_text("mine")
    again = _demo("--out", str(out), "--only", ONLY, "--force", "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert summary["verification"]["valid"] is True
    assert summary["certificate"]["demo"] is True
    assert Path(summary["certificate"]["pdf"]).is_file()
    assert (out / "notes.txt").read_text() == "mine"  # --force removes only its own output
    assert not _left_running(out)
    print(f"demo --only {ONLY}: {elapsed:.1f} s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_interrupted_stops_everything(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCERT_API_KEY")}
    err = tmp_path / "stderr.txt"
    with err.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "conformance", "demo", "--out",
                                 str(out)], env=env, stdout=subprocess.DEVNULL, stderr=fh,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while "running the 'quick' profile" not in err.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
        time.sleep(3.0)  # inside the run
        assert _left_running(out), "the reference service should be running now"
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code in (3, 130), (code, err.read_text()[-2000:])
    time.sleep(0.5)
    assert not _left_running(out), _left_running(out)
    _no_secret_anywhere(out)
