"""Shared fixtures of the monitoring tests: one compressed demo run (three real reference
services probed on a 2-second schedule), whose store the demo, report and browser tests
read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.monitor.demo import DemoOutcome, run_demo
from conformance.monitor.store import Store, open_store


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoOutcome:
    out = tmp_path_factory.mktemp("mon") / "demo"
    return run_demo(out, every_s=1.5, duration_s=90, min_rounds=3, report=True,
                    serve_port=None)


@pytest.fixture
def demo_store(demo_run: DemoOutcome) -> Iterator[Store]:
    store = open_store(demo_run.db)
    yield store
    store.close()


@pytest.fixture(scope="session")
def ref_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str,
                                                                                      str]]]:
    """One fast reference service: (its declaration, the variables with its key)."""
    from conformance.reference import ReferenceService

    with ReferenceService.start(workdir=tmp_path_factory.mktemp("ref"),
                                sim_config={"tpot_ms": 1.0, "base_ttft_ms": 5.0}) as svc:
        yield svc.declaration_path, {"TOKENCERT_MONITOR_TEST_KEY": svc.api_key}
