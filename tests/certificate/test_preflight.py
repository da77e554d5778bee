"""certify refuses, with a clear reason, every run it must not certify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tokencert_testkit import decide_manual, make_results, make_run_dir

from conformance._core.errors import CertificateError
from conformance.certificate.preflight import check_run
from conformance.certificate.review import load_results


def _decided(tmp_path: Path, profile: str = "certification", **over: Any) -> dict[str, Any]:
    run = make_run_dir(tmp_path, make_results(profile, **over))
    decide_manual(run)
    return load_results(run)[0]


def test_a_good_run_passes(tmp_path: Path) -> None:
    pre = check_run(_decided(tmp_path), tmp_path / "results.json")
    assert pre.problems == () and pre.waived == ()


def _messages(results: dict[str, Any]) -> tuple[str, str]:
    pre = check_run(results, Path("results.json"))
    return (" | ".join(p.message for p in pre.problems),
            " | ".join(p.message for p in pre.waived))


def test_incomplete_run(tmp_path: Path) -> None:
    hard, _ = _messages(_decided(tmp_path, status="incomplete"))
    assert "incomplete" in hard


def test_foreign_catalog(tmp_path: Path) -> None:
    r = _decided(tmp_path)
    r["spec"]["digest"] = "sha256:" + "f" * 64
    assert "not the shipped edition" in _messages(r)[0]


def test_an_earlier_profile_version_is_not_certified(tmp_path: Path) -> None:
    """Old runs re-judge against their profile's kept history (their certificates still
    verify), but a new certificate needs the profile as published now."""
    r = _decided(tmp_path, "quick")
    r["profile"]["digest"] = ("sha256:9729cb42c1434a682a039e26731fd3d3c0b34b31459e6bcda4ad0fb"
                              "38434e36e")  # quick as published until 2026-12-05
    assert "earlier version of profile 'quick'" in _messages(r)[0]


def test_plain_http(tmp_path: Path) -> None:
    hard, _ = _messages(_decided(tmp_path, transport={"scheme": "http"}))
    assert "plain http" in hard


def test_client_saturated_on_a_must(tmp_path: Path) -> None:
    r = _decided(tmp_path)
    perf = next(x for x in r["requirements"] if x["id"] == "PERF-001")
    perf["levels"]["L2"] = {"outcome": "inconclusive", "reason": "client_saturated"}
    hard, soft = _messages(r)
    # a real certificate is refused; a DEMO one (which says so in its signed data) proceeds,
    # listing the reason as waived
    assert hard == "" and "PERF-001: the load generator was saturated" in soft


def test_schema_failure(tmp_path: Path) -> None:
    r = _decided(tmp_path)
    r["status"] = "done"
    pre = check_run(r, Path("results.json"))
    assert pre.problems and "$.status" in pre.problems[0].render()


def test_undecided_manual(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path)
    hard, _ = _messages(load_results(run)[0])
    for rid in ("DATA-001", "DATA-002", "DATA-003", "DATA-004"):
        assert f"{rid}: manual requirement not yet decided" in hard
    assert "DATA-005" not in hard  # SHOULD never blocks


def test_inconclusive_must_is_waivable_only_for_a_demo(tmp_path: Path) -> None:
    r = _decided(tmp_path)
    perf = next(x for x in r["requirements"] if x["id"] == "PERF-002")
    perf.update(outcome="inconclusive", level=None, reason="insufficient_samples")
    r["summary"].update(level=None, certified=False, reason="must_inconclusive: PERF-002")
    hard, soft = _messages(r)
    assert hard == ""
    assert "PERF-002: inconclusive at L1" in soft and "not certified" in soft


def test_ineligible_profile_is_waivable_only_for_a_demo(tmp_path: Path) -> None:
    _, soft = _messages(_decided(tmp_path, "quick"))
    assert "not eligible" in soft


def test_certify_lists_every_reason(tmp_path: Path) -> None:
    from tokencert_testkit import make_pki

    from conformance.certificate import Registry, certify

    run = make_run_dir(tmp_path, make_results(status="incomplete",
                                              transport={"scheme": "http"}))
    with pytest.raises(CertificateError) as exc:
        certify(run, make_pki(tmp_path).signing, tmp_path / "out",
                Registry(tmp_path / "reg.json"))
    text = exc.value.render()
    assert "incomplete" in text and "plain http" in text and "DATA-001" in text
    assert not (tmp_path / "out").exists() and not (tmp_path / "reg.json").exists()
