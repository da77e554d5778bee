"""A shared healthy reference service (sim engine, https) for the reference tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.reference import ReferenceService


@pytest.fixture(scope="session")
def ref_tls() -> Iterator[ReferenceService]:
    with ReferenceService.start(tls=True, billing_export=True) as svc:
        yield svc
