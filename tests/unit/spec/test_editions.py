"""Catalog editions: hqts-2026.2 is hqts-2026.1 plus three requirements, 2026.1 is untouched
(its digest is the one its certificates carry), an edition is chosen by name, and a resumed
run keeps the edition it started on."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from conformance._core import resources
from conformance._core.errors import InputError
from conformance.cli.run_inputs import run_edition
from conformance.spec import load_catalog, load_edition

# the digest of hqts-2026.1 as published (certificates issued on it name it)
# requirements whose check text 2026.2 clarifies (METER-002 names its excess bound)
CLARIFIED = {"METER-002"}
DIGEST_2026_1 = "sha256:0a1143cdffc49a7566f087661ee1b0c89251a10e1efd1684fddee075054aecd1"
NEW = {"API-011", "API-012", "METER-009"}


def test_2026_1_is_untouched_and_stays_the_default() -> None:
    assert resources.DEFAULT_EDITION == "hqts-2026.1"
    assert load_edition(None).digest == load_catalog().digest == DIGEST_2026_1


def test_2026_2_adds_three_requirements_and_changes_none() -> None:
    old, new = load_edition("hqts-2026.1"), load_edition("hqts-2026.2")
    assert new.edition == "hqts-2026.2" and new.version == "2026.2.0"
    assert set(new.ids) - set(old.ids) == NEW and set(old.ids) <= set(new.ids)
    for r in old:
        now = new.get(r.id)
        if r.id in CLARIFIED:  # the check text only: it now names a rule that is code
            assert now.check != r.check and dataclasses.replace(now, check=r.check) == r
        else:
            assert now == r, r.id
    for rid in NEW:
        req = new.get(rid)
        assert req.obligation == "MUST" and req.automated
        assert set(req.applicability.requires) <= {"tools", "structured_output"}
    assert resources.editions() == ("hqts-2026.1", "hqts-2026.2")


def test_an_unknown_edition_names_the_shipped_ones() -> None:
    with pytest.raises(InputError) as e:
        load_edition("hqts-2099.1")
    assert "hqts-2026.2" in e.value.render()


def _run_dir(tmp_path: Path, edition: str) -> Path:
    (tmp_path / "evidence").mkdir(parents=True)
    (tmp_path / "evidence" / "run.json").write_text(
        json.dumps({"spec": {"edition": edition}}), encoding="utf-8")
    return tmp_path


def test_resume_keeps_the_runs_edition(tmp_path: Path) -> None:
    out = _run_dir(tmp_path, "hqts-2026.2")
    assert run_edition(out, None, None, resume=True) == "hqts-2026.2"
    assert run_edition(out, "hqts-2026.2", None, resume=True) == "hqts-2026.2"
    with pytest.raises(InputError, match=r"on edition hqts-2026\.2"):
        run_edition(out, "hqts-2026.1", None, resume=True)
    assert run_edition(out, "hqts-2026.1", None, resume=False) == "hqts-2026.1"
    with pytest.raises(InputError, match="exclude each other"):
        run_edition(out, "hqts-2026.2", Path("cat"), resume=False)


def test_without_the_features_the_new_requirements_are_not_applicable() -> None:
    """A declaration without ``tools``/``structured_output`` (every declaration written
    before hqts-2026.2, and the llama.cpp reference's) plans them not applicable."""
    from conformance.declaration.loader import load_declaration
    from conformance.plan import build_plan
    from conformance.spec import load_profile

    decl = load_declaration(Path(__file__).parents[2] / "fixtures" / "declarations" / "valid"
                            / "candidate.yaml")
    plan = build_plan(load_edition("hqts-2026.2"), load_profile("quick"), decl,
                      only=",".join(sorted(NEW)))
    by_id = {p.id: p for p in plan.requirements}
    assert not any(by_id[r].applicable for r in NEW)
    assert "not offered" in str(by_id["API-011"].reason)
