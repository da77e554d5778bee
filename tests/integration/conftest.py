"""End-to-end runs of `tokencert run` against a real reference service on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from run_e2e_helpers import FAST_SIM, TINY_PROFILE

from conformance.reference import ReferenceService


@pytest.fixture(scope="session")
def tiny_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("profile") / "tiny.yaml"
    p.write_text(TINY_PROFILE, encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def ref_fast() -> Iterator[ReferenceService]:
    with ReferenceService.start(sim_config=FAST_SIM) as svc:
        yield svc
