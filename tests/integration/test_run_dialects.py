"""`tokencert run` against the reference service in the Anthropic Messages and OpenAI
Responses dialects: the protocol and metering checks pass on the clean service (no MUST
fails) and the chat stream's defects, carried into each dialect, fail them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_e2e_helpers import FAST_SIM, tokencert_cmd

from conformance.reference import ReferenceService

ONLY = "API-001,API-002,API-003,API-007,METER-001,METER-003"
DIALECTS = ("anthropic-messages", "openai-responses")


@pytest.fixture(scope="module")
def defective() -> Iterator[ReferenceService]:
    # --dialect: the written declaration names anthropic-messages (every dialect is served)
    with ReferenceService.start(sim_config=FAST_SIM, dialect="anthropic-messages",
                                defects=["missing_done", "no_stream_usage"]) as svc:
        assert svc.declaration().endpoint.dialect == "anthropic-messages"
        yield svc


def _run(svc: ReferenceService, dialect: str, profile: Path, out: Path
         ) -> tuple[dict[str, str], str]:
    decl = svc.declaration_path.with_name(f"candidate-{dialect}.yaml")
    text = svc.declaration_path.read_text(encoding="utf-8")
    decl.write_text(re.sub(r"(?m)^(  dialect: )[a-z-]+$", rf"\g<1>{dialect}", text),
                    encoding="utf-8")
    proc = subprocess.run(
        tokencert_cmd("run", "--candidate", str(decl), "--profile", str(profile), "--out",
                      str(out), "--only", ONLY),
        env={**os.environ, **svc.env, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=300, check=False)
    assert (out / "results.json").exists(), proc.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["candidate"]["dialect"] == dialect  # the report and certificate name it
    return {r["id"]: r["outcome"] for r in doc["requirements"]}, proc.stdout + proc.stderr


@pytest.mark.parametrize("dialect", DIALECTS)
def test_clean_service_fails_no_must(ref_fast: ReferenceService, tiny_profile: Path,
                                     tmp_path: Path, dialect: str) -> None:
    got, said = _run(ref_fast, dialect, tiny_profile, tmp_path / "run")
    # the preflight probe speaks the dialect too: its terminator and usage were seen
    assert "terminator" not in said and "carried no usage" not in said, said[-2000:]
    assert got["API-001"] == got["API-002"] == got["API-003"] == got["API-007"] == "pass", got
    assert got["METER-001"] in ("pass", "inconclusive"), got  # tiny profile: few samples
    assert got["METER-003"] == "not_applicable", got  # no logprobs: spec/dialects/mapping.yaml


@pytest.mark.parametrize("dialect", DIALECTS)
def test_stream_defects_fail_in_each_dialect(defective: ReferenceService, tiny_profile: Path,
                                             tmp_path: Path, dialect: str) -> None:
    got, said = _run(defective, dialect, tiny_profile, tmp_path / "run")
    assert "terminator" in said, said[-2000:]  # preflight saw the withheld message_stop
    assert got["API-002"] == "fail" and got["API-003"] == "fail", got
    assert got["API-001"] == "pass", got  # non-streaming answers are untouched
