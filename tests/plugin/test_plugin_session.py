"""The pytest plugin in a pytest subprocess: inert without options; markers checked at
collection; crashed checks become check_error; untested requirements are reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DECL = Path(__file__).parents[1] / "fixtures" / "declarations" / "valid" / "candidate.yaml"
KEY = "sk-plugin-test-" + "k" * 24

SUITE = '''
import pytest

@pytest.mark.requirement("API-001")
def test_schema(record, thresholds):
    assert thresholds["L1"][0].metric == "schema_valid"   # from the catalog, not the test
    for i in range(3):
        record.check("schema_valid", True, evidence=[f"protocol-x{i}"])

@pytest.mark.requirement("API-007")
def test_crashes(record):
    raise RuntimeError("boom with key ''' + KEY + '''")

@pytest.mark.requirement("SEC-007")
def test_not_applicable(record):
    raise AssertionError("must not run: prompt caching is not declared")
'''


def pytest_run(tmp_path: Path, *args: str, suite: str = SUITE) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(suite, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    env = {**os.environ, "TOKENCERT_API_KEY": KEY}
    return subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "-c",
                           str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def active(tmp_path: Path, only: str) -> list[str]:
    # the fixture declaration names no live service: skip the preflight (these suites send
    # nothing; tests/integration/test_run_failfast.py covers the preflight)
    return ["--tokencert-candidate", str(DECL), "--tokencert-profile", "quick",
            "--tokencert-out", str(tmp_path / "out"), "--tokencert-only", only,
            "--tokencert-no-preflight"]


def test_inert_without_options(tmp_path: Path) -> None:
    p = pytest_run(tmp_path, "--strict-markers")
    assert "fixture 'record' not found" in p.stdout
    assert not (tmp_path / "out").exists()
    plain = pytest_run(tmp_path, "--strict-markers", suite=(
        "import pytest\n@pytest.mark.requirement('API-001')\ndef test_x():\n    pass\n"))
    assert plain.returncode == 0, plain.stdout


def test_unknown_requirement_fails_collection(tmp_path: Path) -> None:
    p = pytest_run(tmp_path, *active(tmp_path, "API-*"), suite=(
        "import pytest\n@pytest.mark.requirement('API-999')\ndef test_x(record):\n    pass\n"))
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, p.stdout + p.stderr
    assert "API-999" in p.stderr


def test_session_records_and_judges(tmp_path: Path) -> None:
    p = pytest_run(tmp_path, *active(tmp_path, "API-001,API-002,API-007,SEC-007"))
    out = p.stdout
    assert "automated requirements with no test" in out and "API-002" in out
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    v = {r["id"]: r for r in doc["requirements"]}
    assert (v["API-001"]["outcome"], v["API-001"]["level"]) == ("pass", "L3")
    assert (v["API-002"]["outcome"], v["API-002"]["reason"]) == ("inconclusive", "no_test")
    assert (v["API-007"]["outcome"], v["API-007"]["reason"]) == ("inconclusive", "check_error")
    assert "RuntimeError: boom" in v["API-007"]["detail"]
    assert v["SEC-007"]["outcome"] == "not_applicable"
    assert doc["summary"]["reason"].startswith("must_inconclusive")
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f



def test_session_start_runs_the_preflight(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin's session opens only after the preflight (unless tokencert run has done
    it): nothing listening is a RunError (pytest exits 3 with it) before any evidence."""
    import shutil
    import socket

    from conformance._core.errors import RunError
    from conformance.pytest_plugin.session import Options, Session

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    decl = tmp_path / "decl" / "candidate.yaml"
    shutil.copytree(DECL.parent, decl.parent)
    decl.write_text(DECL.read_text().replace("https://api.example.com/v1",
                                             f"http://127.0.0.1:{dead}/v1"))
    monkeypatch.setenv("TOKENCERT_API_KEY", KEY)
    with pytest.raises(RunError) as exc:
        Session.open(Options(decl, "quick", tmp_path / "out", "API-001"))
    assert exc.value.exit_code == 3
    assert f"nothing listens on 127.0.0.1:{dead}" in exc.value.render()
    assert not (tmp_path / "out").exists()
