"""SEC-005's rate probe sized from the declared limits, and `tokencert plan`'s probe lines."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from conformance.declaration import load_declaration
from conformance.declaration.models import Limits
from conformance.plan.probes import allowance, probe_loads, rate_probe
from conformance.spec import load_catalog

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


def test_rate_probe_exceeds_the_allowance_of_the_nearer_limit() -> None:
    cat = load_catalog()
    sec5 = cat.get("SEC-005")
    d = load_declaration(DECL)  # rpm 600, tpm 2M, context 32768
    rp = rate_probe(d, sec5)
    window, tol = sec5.param("probe_s"), sec5.param("tolerance")
    assert rp.limit == "tpm" and rp.prompt_tokens == 12_000
    assert rp.requests * rp.prompt_tokens > allowance(d.limits.tpm, window, tol)
    assert (rp.requests - 1) * rp.prompt_tokens <= allowance(d.limits.tpm, window, tol)
    assert rp.rate_rps == round(rp.requests / window, 2)
    # a generous tpm: one-word requests exceed the rpm first
    rpm = dataclasses.replace(d, limits=Limits(rpm=100, tpm=10**9, max_concurrency=4))
    r2 = rate_probe(rpm, sec5)
    assert r2.limit == "rpm" and r2.requests == int(allowance(100, window, tol)) + 1
    assert r2.streams == 4  # never more than the declared concurrency


def test_probe_loads_say_whether_one_process_reaches_the_rate() -> None:
    cat = load_catalog()
    d = dataclasses.replace(load_declaration(DECL),
                            limits=Limits(rpm=100_000, tpm=10**10, max_concurrency=16))
    loads = probe_loads(cat, d, 48, 0.5, ("STAB-003", "SEC-005"))
    burst, rate = loads
    assert burst.requirement == "STAB-003" and burst.one_process and burst.rate_rps is None
    # 240,001 requests in 60 s = 4,000/s: beyond one process's share
    assert rate.requirement == "SEC-005" and rate.rate_rps and rate.rate_rps > 3000
    assert not rate.one_process and rate.processes > 1


def test_plan_command_shows_the_probes() -> None:
    p = subprocess.run([sys.executable, "-m", "conformance", "plan", "--candidate", str(DECL),
                        "--only", "STAB-003,SEC-005", "--json"], capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stderr
    probes = {x["requirement"]: x for x in json.loads(p.stdout)["probes"]}
    assert set(probes) == {"STAB-003", "SEC-005"}
    assert probes["SEC-005"]["rate_rps"] > 0 and probes["STAB-003"]["streams"] == 192
