"""A shared healthy reference service (sim engine, https) for the reference tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.reference import ReferenceService


@pytest.fixture(scope="session")
def ref_tls() -> Iterator[ReferenceService]:
    with ReferenceService.start(tls=True, billing_export=True) as svc:
        yield svc


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The llama.cpp model, built here (never downloaded, never in the user's cache)."""
    from conformance.reference.build_gguf import build

    return build(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
