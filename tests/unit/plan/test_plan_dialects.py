"""The per-dialect mapping names every dialect and only catalog requirements, and a plan for
a declaration in a dialect marks what has no meaning there not applicable, with the reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conformance._core import resources
from conformance.declaration.loader import load_declaration
from conformance.plan import build_plan
from conformance.plan.dialects import dialect_names, maps, not_applicable
from conformance.run.client import DIALECTS
from conformance.spec import load_catalog, load_edition, load_profile

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


def test_mapping_covers_every_dialect_and_names_real_requirements() -> None:
    assert set(dialect_names()) == set(DIALECTS)
    ids = {r.id for e in resources.editions() for r in load_edition(e)}  # every edition's
    for d in DIALECTS:
        assert set(not_applicable(d)) <= ids and set(maps(d)) <= ids
        assert not set(not_applicable(d)) & set(maps(d))  # either mapped or not applicable
    assert not_applicable("openai-chat") == {}


@pytest.mark.parametrize("dialect", ["anthropic-messages", "openai-responses"])
def test_plan_marks_requirements_without_meaning_not_applicable(dialect: str) -> None:
    decl = load_declaration(DECL)
    decl = dataclasses.replace(decl, endpoint=dataclasses.replace(decl.endpoint,
                                                                  dialect=dialect))
    plan = build_plan(load_catalog(), load_profile("quick"), decl, only="API-00[1-3],METER-003")
    by_id = {p.id: p for p in plan.requirements}
    assert all(by_id[r].applicable for r in ("API-001", "API-002", "API-003"))
    assert not by_id["METER-003"].applicable
    assert by_id["METER-003"].reason == not_applicable(dialect)["METER-003"]
    assert f"dialect {dialect}" in by_id["METER-003"].missing
