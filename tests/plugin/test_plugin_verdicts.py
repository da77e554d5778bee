"""CI truth: pytest's own summary, exit status and the JUnit file follow the verdicts (one
test case per requirement), not whether the recording tests crashed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DECL = Path(__file__).parents[1] / "fixtures" / "declarations" / "valid" / "candidate.yaml"

SUITE = '''
import pytest

@pytest.mark.requirement("API-001")
def test_schema(record):
    record.check("schema_valid", True, evidence=["p-1"])
    record.check("schema_valid", False, evidence=["p-2"], detail="no `object` field")

@pytest.mark.requirement("API-005")
def test_stop(record):
    record.check("stop_honoured", False, evidence=["p-3"], detail="stop ignored")

@pytest.mark.requirement("API-007")
def test_models(record):
    record.check("models_listed", True, evidence=["p-4"])
'''


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, only: str,
        suite: str = SUITE) -> tuple[pytest.RunResult, Path]:
    monkeypatch.setenv("TOKENCERT_API_KEY", "sk-plugin-verdicts-" + "k" * 24)
    pytester.makepyfile(test_suite=suite)
    junit = pytester.path / "req.xml"
    res = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--tokencert-candidate", str(DECL),
        "--tokencert-out", str(pytester.path / "out"), "--tokencert-only", only,
        "--tokencert-junit", str(junit), "--tokencert-no-preflight")
    return res, junit


def cases(junit: Path) -> dict[str, tuple[str, ET.Element]]:
    root = ET.parse(junit).getroot()
    return {c.get("name", ""): (s.get("name", ""), c)
            for s in root.iter("testsuite") for c in s.iter("testcase")}


def test_must_fail_fails_pytest_and_junit(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    res, junit = run(pytester, monkeypatch, "API-001,API-002,API-005,API-007")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    # 3 recording tests ran; 4 requirements judged: a MUST fail, a SHOULD fail, a pass and
    # an inconclusive (API-002 has no test here)
    res.assert_outcomes(failed=1, passed=1, skipped=1)
    tail = res.stdout.lines[-1]
    assert "1 failed" in tail and "1 SHOULD failed" in tail and "3 recorded" in tail
    text = res.stdout.str()
    assert "tokencert::API-001 - fail: threshold_not" in text and "no `object` field" in text
    assert "MUST FAILED API-001" in text and "SHOULD FAILED API-005" in text
    c = cases(junit)
    assert sorted(c) == ["API-001", "API-002", "API-005", "API-007"]
    suite, case = c["API-001"]
    assert suite == "MUST" and case.find("failure") is not None
    assert "no `object` field" in case.find("failure").get("message", "")  # type: ignore[union-attr]
    suite, case = c["API-005"]
    assert suite == "SHOULD" and case.find("failure") is not None
    suite, case = c["API-002"]
    skipped = case.find("skipped")
    assert skipped is not None and "no_test" in skipped.get("message", "")
    assert c["API-007"][1].find("failure") is None and c["API-007"][1].find("skipped") is None
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "2", "1")


def test_all_pass_exits_0(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    res, junit = run(pytester, monkeypatch, "API-007")
    assert res.ret == pytest.ExitCode.OK
    res.assert_outcomes(passed=1)
    assert list(cases(junit)) == ["API-007"]


def test_crashed_check_is_skipped_requirement(pytester: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    suite = ('import pytest\n@pytest.mark.requirement("API-007")\n'
             'def test_models(record):\n    raise RuntimeError("boom")\n')
    res, junit = run(pytester, monkeypatch, "API-007", suite)
    # the recording test's crash is pytest's failure; the requirement is inconclusive
    assert "tokencert::API-007" not in "\n".join(
        ln for ln in res.stdout.lines if ln.startswith("FAILED"))
    skipped = cases(junit)["API-007"][1].find("skipped")
    assert skipped is not None and "check_error" in skipped.get("message", "")
