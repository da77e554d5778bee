"""The mutation matrix in the Anthropic Messages and OpenAI Responses dialects (issue 17):
each dialect defect (``DIALECT_DEFECTS``) makes its requirement fail against a reference
service declaring that dialect, and the clean service, in each dialect, fails none of the
requirements those defects target (real service over TLS, real `tokencert run --only`,
the mutation profile)."""

from __future__ import annotations

import pytest
from mutation_matrix import (
    CI_GROUPS,
    CLEAN_OK_REASONS,
    DIALECT_GROUPS,
    DIALECT_ONLY,
    ROWS,
    TIMINGS,
    Override,
    RunResult,
    group_run,
    run_clean,
)

from conformance.reference.defects import DIALECT_DEFECTS

DIALECTS = ("anthropic-messages", "openai-responses")
GROUP_OF = {d: g for g in DIALECT_GROUPS for d in g}


def test_every_dialect_defect_is_in_one_dialect_group_of_its_dialect() -> None:
    names = [d for g in DIALECT_GROUPS for d in g]
    assert sorted(names) == sorted(d.name for d in DIALECT_DEFECTS)
    assert all(g in CI_GROUPS for g in DIALECT_GROUPS)
    for g in DIALECT_GROUPS:
        assert len({ROWS[d].override.dialect for d in g}) == 1, g
        assert len({ROWS[d].requirement for d in g}) == len(g), g  # one row per requirement
    for d in DIALECT_DEFECTS:
        assert ROWS[d.name].override.dialect in DIALECTS
        assert d.requirement in DIALECT_ONLY, d


@pytest.mark.slow
@pytest.mark.parametrize("defect", [pytest.param(d.name, id=f"{d.requirement}-{d.name}")
                                    for d in DIALECT_DEFECTS])
def test_dialect_defect_fails_its_requirement(defect: str) -> None:
    row = ROWS[defect]
    res = group_run(GROUP_OF[defect])
    assert res.rc in (0, 1), f"run did not complete (exit {res.rc}):\n{res.output}"
    v = res.verdicts.get(row.requirement)
    assert v is not None, f"{row.requirement} missing from results.json"
    assert v["outcome"] == "fail", (
        f"--defect {row.spec} ({row.override.dialect}): {row.requirement} is "
        f"{res.shown(row.requirement)} ({v.get('detail')}), not fail")


_CLEAN: dict[str, RunResult] = {}


def _clean(dialect: str) -> RunResult:
    if dialect not in _CLEAN:
        res = run_clean(Override(dialect=dialect), only=DIALECT_ONLY)
        _CLEAN[dialect] = res
        TIMINGS.append((f"clean {dialect} ({', '.join(DIALECT_ONLY)})", f"exit {res.rc}",
                        res.seconds))
    return _CLEAN[dialect]


@pytest.mark.slow
@pytest.mark.parametrize("rid", DIALECT_ONLY)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_clean_service_fails_nothing_in_each_dialect(dialect: str, rid: str) -> None:
    res = _clean(dialect)
    assert res.rc in (0, 1), f"run did not complete:\n{res.output}"
    v = res.verdicts.get(rid)
    assert v is not None, f"{rid} missing from results.json"
    assert v["outcome"] != "not_applicable", f"{rid} is not mapped in {dialect}: {v}"
    assert v["outcome"] != "fail", f"clean {dialect} service fails {rid}: {v.get('detail')}"
    if v["outcome"] == "inconclusive":
        assert v["reason"] in CLEAN_OK_REASONS, f"{rid}: {v['reason']}: {v.get('detail')}"
