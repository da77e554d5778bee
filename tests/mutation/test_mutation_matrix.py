"""The mutation matrix in CI: each reference defect makes its requirement fail, and the clean
reference service fails no automated requirement (real service over TLS, real `tokencert run`).

Rows whose requirement has no suite yet come out `inconclusive: no_test` and are xfail
(strict=False): the matrix fills in as suites land. The full matrix with collateral is
``python benchmarks/mutation/matrix.py`` (docs/mutation-matrix.md).
"""

from __future__ import annotations

import pytest
from mutation_matrix import (
    CI_GROUPS,
    CLEAN_OK_REASONS,
    NEVER_PASS,
    NEW_IN_2026_2,
    OVERRIDES,
    ROWS,
    TIMINGS,
    RunResult,
    automated_requirements,
    group_run,
    group_settings,
    run_clean,
    run_clean_2026_2,
)

from conformance.reference.defects import ALL_DEFECTS, REGISTRY
from conformance.spec import load_edition

GROUP_OF = {d: g for g in CI_GROUPS for d in g}


def test_every_defect_is_in_one_ci_group_and_names_an_automated_requirement() -> None:
    names = [d for g in CI_GROUPS for d in g]
    assert sorted(names) == sorted(d.name for d in ALL_DEFECTS)
    assert len(names) == len(set(names))
    for g in CI_GROUPS:  # a group shares one service: its members' settings must agree
        group_settings([ROWS[d] for d in g])
    for d, o in OVERRIDES.items():
        assert d in ROWS, f"override for unknown defect {d}"
        assert o.ci or o.known_gap, f"{d}: only a known gap may stay out of CI"
    for d in ALL_DEFECTS:
        assert load_edition(ROWS[d.name].override.edition).get(d.requirement).automated, d


def _defect_params() -> list[object]:
    out: list[object] = []
    for d in REGISTRY:
        row = ROWS[d.name]
        marks = [pytest.mark.slow]
        if row.override.known_gap:
            marks.append(pytest.mark.xfail(strict=True, run=row.override.ci,
                                           reason=row.override.known_gap))
        out.append(pytest.param(d.name, id=f"{d.requirement}-{d.name}", marks=marks))
    return out


@pytest.mark.parametrize("defect", _defect_params())
def test_defect_fails_its_requirement(defect: str) -> None:
    row = ROWS[defect]
    res = group_run(GROUP_OF[defect])
    assert res.rc in (0, 1), f"run did not complete (exit {res.rc}):\n{res.output}"
    rid = row.requirement
    if res.reason(rid) == "no_test":
        pytest.xfail("no suite yet")
    v = res.verdicts.get(rid)
    assert v is not None, f"{rid} missing from results.json"
    assert v["outcome"] == "fail", (
        f"--defect {row.spec}: {rid} is {res.shown(rid)} ({v.get('detail')}), not fail")


@pytest.mark.slow
@pytest.mark.parametrize(("defect", "rid"), [(d, r) for d, rs in NEVER_PASS.items() for r in rs])
def test_a_probe_that_provoked_nothing_never_passes(defect: str, rid: str) -> None:
    res = group_run(GROUP_OF[defect])
    assert res.rc in (0, 1), f"run did not complete (exit {res.rc}):\n{res.output}"
    v = res.verdicts.get(rid)
    assert v is not None, f"{rid} missing from results.json"
    assert v["outcome"] != "pass", f"--defect {defect}: {rid} passes ({v.get('detail')})"
    for lvl in ("L1", "L2", "L3"):
        assert v["levels"][lvl]["outcome"] != "pass", f"{rid} {lvl} passes: {v['levels']}"


@pytest.fixture(scope="module")
def clean_run() -> RunResult:
    res = run_clean()
    TIMINGS.append(("clean (all requirements)", f"exit {res.rc}", res.seconds))
    return res


@pytest.mark.slow
@pytest.mark.parametrize("rid", automated_requirements())
def test_clean_service_fails_nothing(rid: str, clean_run: RunResult) -> None:
    assert clean_run.rc in (0, 1), f"run did not complete:\n{clean_run.output}"
    v = clean_run.verdicts.get(rid)
    assert v is not None, f"{rid} missing from results.json"
    if v["reason"] == "no_test":
        pytest.xfail("no suite yet")
    assert v["outcome"] != "fail", f"clean service fails {rid}: {v.get('detail')}"
    if v["outcome"] == "inconclusive":
        assert v["reason"] in CLEAN_OK_REASONS, f"{rid}: {v['reason']}: {v.get('detail')}"
    else:
        assert v["outcome"] in ("pass", "not_applicable"), v


@pytest.fixture(scope="module")
def clean_run_2026_2() -> RunResult:
    res = run_clean_2026_2()
    TIMINGS.append(("clean hqts-2026.2 (its new requirements)", f"exit {res.rc}", res.seconds))
    return res


@pytest.mark.slow
@pytest.mark.parametrize("rid", NEW_IN_2026_2)
def test_clean_service_fails_nothing_on_2026_2(rid: str, clean_run_2026_2: RunResult) -> None:
    """hqts-2026.2's requirements pass on the clean service (the rest of the edition is
    hqts-2026.1's, whose clean control is above)."""
    assert clean_run_2026_2.rc in (0, 1), f"run did not complete:\n{clean_run_2026_2.output}"
    v = clean_run_2026_2.verdicts.get(rid)
    assert v is not None, f"{rid} missing from results.json"
    assert v["outcome"] == "pass", f"clean service: {rid} {v['outcome']}: {v.get('detail')}"
