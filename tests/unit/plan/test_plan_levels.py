"""`tokencert plan --levels`: the highest level each profile can demonstrate for a perfect
service, judged by the verdict stage on evidence of the planned size (issue 13: the
certification profile reaches L3 on every automated requirement)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from conformance.declaration import load_declaration
from conformance.declaration.models import Declaration
from conformance.reference.declare import perfect_declaration
from conformance.report.reach import automated, reach
from conformance.run.corpora import metering_schedule
from conformance.spec import load_catalog, load_profile


@pytest.fixture(scope="module")
def perfect(tmp_path_factory: pytest.TempPathFactory) -> Declaration:
    return load_declaration(perfect_declaration(tmp_path_factory.mktemp("perfect")))


def _plain(d: Declaration) -> Declaration:
    """The same service as a plain engine: no logprobs, no one-token-per-chunk streaming
    (its METER-002/003 evidence settles only on answers cut by max_tokens)."""
    m = d.model
    f = dataclasses.replace(m.features, logprobs=False, one_token_per_chunk=False)
    return dataclasses.replace(d, models=(dataclasses.replace(m, features=f), *d.models[1:]))


@pytest.mark.parametrize("plain", [False, True], ids=["logprobs", "plain-engine"])
def test_certification_reaches_l3_on_every_automated_requirement(perfect: Declaration,
                                                                 plain: bool) -> None:
    decl = _plain(perfect) if plain else perfect
    assert decl.model.features.logprobs is not plain
    rows = automated(reach(load_catalog(), load_profile("certification"), decl))
    cat = load_catalog()
    assert {r.id for r in rows} >= {r.id for r in cat if r.automated
                                    and not r.applicability.requires} - {"SAFE-001",
                                                                         "SAFE-002"}
    short = [f"{r.id}: {r.level} ({r.blocker})" for r in rows if r.level != "L3"]
    assert not short, short


def test_the_check_is_not_vacuous(perfect: Declaration) -> None:
    """The quick profile is a smoke run: it cannot show the percentile bounds; sending the
    metering corpus once (56 probes) fell short of METER-003 L1 without logprobs; a
    certification profile with 6 metering repeats fell short of METER-003 L2 for a plain
    engine (the gaps issue 13 reported)."""
    quick_p = load_profile("quick")
    quick = {r.id: r for r in reach(load_catalog(), quick_p, _plain(perfect))}
    assert quick["PERF-001"].level is None and quick["STAB-006"].level is None
    once = dataclasses.replace(quick_p, phases={
        k: dataclasses.replace(p, repeats=1) if k == "metering" else p
        for k, p in quick_p.phases.items()})
    short = {r.id: r for r in reach(load_catalog(), once, _plain(perfect))}
    assert short["METER-003"].level is None and "insufficient_samples" in str(
        short["METER-003"].blocker)
    cert = load_profile("certification")
    fewer = dataclasses.replace(cert, phases={
        k: dataclasses.replace(p, repeats=6) if k == "metering" else p
        for k, p in cert.phases.items()})
    rows = {r.id: r for r in reach(load_catalog(), fewer, _plain(perfect))}
    assert rows["METER-003"].level == "L1", rows["METER-003"]
    assert sum(s.cut for s in metering_schedule(6)) < 268 <= sum(
        s.cut for s in metering_schedule(8))


@pytest.mark.parametrize("plain", [False, True], ids=["logprobs", "plain-engine"])
def test_quick_reaches_metering_l1(perfect: Declaration, plain: bool) -> None:
    """The quick profile sends the metering corpus twice (112 probes): METER-001 and
    METER-003 can show L1 (59 samples) on a smoke run, with or without logprobs."""
    quick = load_profile("quick")
    assert quick.phases["metering"].repeats == 2
    assert len(metering_schedule(2)) == 112
    rows = {r.id: r for r in reach(load_catalog(), quick, _plain(perfect) if plain
                                   else perfect)}
    for rid in ("METER-001", "METER-003"):
        assert rows[rid].level == "L1", rows[rid]


def test_repeats_are_fresh_variants_and_mostly_cut() -> None:
    sched = metering_schedule(3)
    assert len(sched) == 3 * len(metering_schedule(1))
    assert {s.repeat for s in sched} == {0, 1, 2}
    assert sum(s.cut for s in sched) / len(sched) > 0.7
    # every case is sent open at least once over four repeats (EOS billing is exercised)
    four = metering_schedule(4)
    opened = {s.case.id for s in four if not s.cut}
    assert opened == {s.case.id for s in four if s.case.lang != "long"}


def test_plan_levels_command(capsys: pytest.CaptureFixture[str]) -> None:
    from conformance.cli.app import main

    with pytest.raises(SystemExit) as ok:
        main(["plan", "--profile", "certification", "--levels", "--json"])
    assert ok.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["service"] == "a perfect service"
    levels = {r["id"]: r["level"] for r in doc["requirements"]
              if r["outcome"] not in ("manual", "not_applicable")}
    assert levels and set(levels.values()) == {"L3"}
    with pytest.raises(SystemExit) as bad:
        main(["plan"])
    assert bad.value.code == 2 and "--candidate" in "".join(capsys.readouterr())
