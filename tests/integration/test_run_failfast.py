"""Setup mistakes against the real reference service end in seconds with exit 2 or 3 and a
message that names the fix — never a verdict (no results.json, no evidence)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from run_e2e_helpers import FAST_SIM

from conformance.reference import ReferenceService

BOUND_S = 30.0  # generous: a busy 2-core machine; each case is measured and printed


@pytest.fixture(scope="module")
def ref_https() -> Iterator[ReferenceService]:
    with ReferenceService.start(tls=True, sim_config=FAST_SIM) as svc:
        yield svc


def _variant(svc: ReferenceService, tmp_path: Path, **subs: str) -> Path:
    """A copy of the service's declaration (beside it, so its relative paths hold) with
    ``key: value`` lines replaced."""
    text = svc.declaration_path.read_text(encoding="utf-8")
    for key, value in subs.items():
        text, n = re.subn(rf"(?m)^(\s*-?\s*{key}:) .*$", rf"\1 {value}", text, count=1)
        assert n == 1, key
    p = svc.declaration_path.parent / f"variant-{tmp_path.name}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _timed(cli: Callable[..., object], *args: str) -> tuple[object, float]:
    t0 = time.monotonic()
    res = cli(*args)
    return res, time.monotonic() - t0


def _run(cli, candidate: Path, out: Path) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    return _timed(cli, "run", "--candidate", str(candidate), "--out", str(out),
                  "--only", "API-001")


def _assert_no_verdict(res, out: Path, code: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert res.code == code, res.err
    assert "Traceback" not in res.err
    for n in needles:
        assert n in res.err, res.err
    assert not (out / "results.json").exists() and not (out / "evidence").exists()


def test_doctor_says_ready(cli, ref_https: ReferenceService,  # type: ignore[no-untyped-def]
                           monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ref_https.env.items():
        monkeypatch.setenv(k, v)
    res, secs = _timed(cli, "doctor", "--candidate", str(ref_https.declaration_path))
    assert res.code == 0, res.err
    assert "ready:" in res.out and "certificate trusted" in res.out and "usage present" in res.out
    print(f"doctor (healthy): {secs:.2f} s")


CASES = {
    # the base URL names http, the port speaks TLS
    "http_against_tls": ("https", {"base_url": "http://127.0.0.1:{port}/v1"}, 2,
                         ("speaks TLS", "use base_url: https://127.0.0.1:{port}/v1")),
    # the /v1 prefix forgotten
    "missing_v1": ("https", {"base_url": "https://127.0.0.1:{port}"}, 2,
                   ("404", "use base_url: https://127.0.0.1:{port}/v1")),
    # a model the service does not offer
    "unknown_model": ("https", {"id": "gpt-4o"}, 2,
                      ("does not know model 'gpt-4o'", "set models[0].id")),
    # nothing listens on the port
    "wrong_port": ("https", {"base_url": "https://127.0.0.1:{dead}/v1"}, 3,
                   ("nothing listens on 127.0.0.1:{dead}", "fix the port")),
    # the base URL names https, the port speaks plain http
    "https_against_plain": ("http", {"base_url": "https://127.0.0.1:{port}/v1"}, 2,
                            ("speaks plain http", "use base_url: http://127.0.0.1:{port}/v1")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_setup_mistake_ends_fast_without_a_verdict(  # type: ignore[no-untyped-def]
        cli, case: str, ref_https: ReferenceService, ref_fast: ReferenceService,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scheme, subs, code, needles = CASES[case]
    svc = ref_https if scheme == "https" else ref_fast
    for k, v in svc.env.items():
        monkeypatch.setenv(k, v)
    fmt = {"port": _port(svc.base_url), "dead": _free_port()}
    decl = _variant(svc, tmp_path, **{k: v.format(**fmt) for k, v in subs.items()})
    out = tmp_path / "run"
    res, secs = _run(cli, decl, out)
    _assert_no_verdict(res, out, code, "preflight", *(n.format(**fmt) for n in needles))
    assert f"{decl}:" in res.err  # located in the declaration
    assert secs < BOUND_S
    print(f"{case}: exit {res.code} in {secs:.2f} s")


def test_wrong_key_ends_fast(cli, ref_https: ReferenceService, tmp_path: Path,  # type: ignore[no-untyped-def]
                             monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ref_https.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TOKENCERT_API_KEY", "sk-not-the-key-0000")
    out = tmp_path / "run"
    res, secs = _run(cli, ref_https.declaration_path, out)
    _assert_no_verdict(res, out, 2, "refused the key in $TOKENCERT_API_KEY", "HTTP 401",
                       "export TOKENCERT_API_KEY=")
    assert "sk-not-the-key" not in res.err
    print(f"wrong_key: exit 2 in {secs:.2f} s")


def test_out_naming_a_file_is_exit_2(cli, ref_https: ReferenceService, tmp_path: Path,  # type: ignore[no-untyped-def]
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ref_https.env.items():
        monkeypatch.setenv(k, v)
    f = tmp_path / "afile"
    f.write_text("x", encoding="utf-8")
    res = cli("run", "--candidate", str(ref_https.declaration_path), "--out", str(f))
    assert res.code == 2 and "is not a directory" in res.err and "Traceback" not in res.err
    assert f.read_text(encoding="utf-8") == "x"


def test_results_on_a_truncated_results_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "results.json").write_text('{"schema_version": "1.0.0", "requireme',
                                           encoding="utf-8")
    res = cli("results", str(tmp_path))
    assert res.code == 2, res.err
    assert "results.json is truncated" in res.err and "--resume" in res.err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_service_that_dies_mid_run_ends_it_with_exit_3_and_resume_completes(
        tiny_profile: Path, tmp_path: Path) -> None:
    """The service is killed mid-phase: N requests in a row get no answer, the run stops
    (exit 3) with its evidence kept; the service comes back on the same port and
    `tokencert run --resume --out DIR` (no --candidate: read from the run) completes it,
    counting nothing twice: the requests that never got a connection are superseded and
    sent again; those the service failed as it died stay (STAB-001 judges them)."""
    import json
    import os
    import signal
    import subprocess
    import sys

    from run_e2e_helpers import run_env, tokencert_cmd

    from conformance.reference.server import READY_MARK
    from conformance.run.evidence import read_evidence

    sim = {"tpot_ms": 5.0, "base_ttft_ms": 20.0}
    # the tiny phase has 24 requests on 8 streams: those in flight when the service dies
    # are reset (answers, the service's failures), the rest find no listener; a limit of 4
    # lets the latter end the run
    profile = tmp_path / "tiny-n4.yaml"
    profile.write_text(tiny_profile.read_text(encoding="utf-8")
                       + "\nmax_consecutive_connection_failures: 4\n", encoding="utf-8")
    with ReferenceService.start(sim_config=sim) as svc:
        out = tmp_path / "r"
        cmd = tokencert_cmd("run", "--candidate", str(svc.declaration_path), "--profile",
                            str(profile), "--out", str(out), "--only", "STAB-001")
        proc = subprocess.Popen(cmd, env=run_env(svc), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        phase = out / "evidence" / "phases" / "sustained.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
                phase.exists() and b'"type":"request"' in phase.read_bytes()):
            time.sleep(0.02)
        svc.process.send_signal(signal.SIGKILL)
        svc.process.wait(timeout=10)
        t_dead = time.monotonic()
        stdout, stderr = proc.communicate(timeout=120)
        secs = time.monotonic() - t_dead
        assert proc.returncode == 3, stdout[-3000:] + stderr[-3000:]
        assert "stopped answering" in stdout + stderr, stdout[-3000:] + stderr[-3000:]
        assert f"tokencert run --resume --out {out}" in stderr
        assert "Traceback" not in stderr
        assert json.loads((out / "results.json").read_text())["status"] == "incomplete"
        kept = read_evidence(out / "evidence").phase("sustained").seqs()
        assert kept, "the records made before the service died are kept"
        print(f"service killed: run ended (exit 3) {secs:.2f} s later, {len(kept)} records kept")

        # the service comes back on the same port, with the same keys and settings
        back = subprocess.Popen(
            [sys.executable, "-m", "conformance.reference", "serve", "--port",
             str(_port(svc.base_url)), "--config", str(svc.workdir / "reference.yaml")],
            env={**os.environ, **svc.env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        try:
            assert back.stdout is not None
            for line in back.stdout:
                if line.startswith(READY_MARK):
                    break
            again = subprocess.run(tokencert_cmd("run", "--resume", "--out", str(out)),
                                   env=run_env(svc), capture_output=True, text=True,
                                   timeout=300, check=False, cwd=tmp_path.parent)
        finally:
            back.send_signal(signal.SIGINT)
            back.wait(timeout=20)
            if back.stdout is not None:
                back.stdout.close()
    assert again.returncode in (0, 1), again.stdout[-3000:] + again.stderr[-3000:]
    assert json.loads((out / "results.json").read_text())["status"] == "complete"
    ev = read_evidence(out / "evidence")
    sustained = ev.phase("sustained")
    assert sustained.seqs() == set(range(24)) and len(sustained.requests) == 24
    assert not [r for r in sustained.records() if r.error == "connect"]
    lines = [json.loads(x) for x in (out / "evidence" / "phases" / "sustained.jsonl")
             .read_text().splitlines()]
    superseded = [x for x in lines if x["type"] == "superseded"]
    assert len(superseded) == 1 and superseded[0]["ids"]
