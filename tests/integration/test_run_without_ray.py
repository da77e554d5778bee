"""The default install and path never need Ray: no core dependency on it, and a
`tokencert run` without --ray-address does not import it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from run_e2e_helpers import run_env

from conformance.reference import ReferenceService

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()


def test_ray_is_only_in_the_distributed_extra() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "ray" not in {_name(d).lower() for d in meta["dependencies"]}
    extras = meta["optional-dependencies"]
    assert [d for d in extras["distributed"] if _name(d) == "ray"] == ["ray>=2.9"]
    for name, reqs in extras.items():
        if name != "distributed":
            assert "ray" not in {_name(d).lower() for d in reqs}, name
    assert any("distributed" in d for d in extras["dev"] if d.startswith("tokencert["))


SCRIPT = """
import json, sys
from conformance.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("MODULES " + json.dumps({"code": code, "ray": sorted(
    m for m in sys.modules if m == "ray" or m.startswith("ray."))}))
"""


@pytest.mark.slow
def test_run_without_ray_address_never_imports_ray(ref_fast: ReferenceService,
                                                    tiny_profile: Path, tmp_path: Path) -> None:
    # STAB-001 runs the shared load phase through the LoadRunner
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, "run", "--candidate", str(ref_fast.declaration_path),
         "--profile", str(tiny_profile), "--out", str(tmp_path / "run"), "--only", "STAB-001"],
        env=run_env(ref_fast), capture_output=True, text=True, timeout=240, check=False)
    line = next(x for x in p.stdout.splitlines() if x.startswith("MODULES "))
    got = json.loads(line.removeprefix("MODULES "))
    assert got["code"] in (0, 1), p.stdout + p.stderr
    recs = (tmp_path / "run" / "evidence" / "phases" / "sustained.jsonl").read_text()
    assert recs.count('"type":"request"') == 24  # the load phase did run
    assert got["ray"] == []
