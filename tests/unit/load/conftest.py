"""Fixtures: see ``gt_server.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gt_server import GT


@pytest.fixture(scope="module")
def gt() -> Iterator[GT]:
    server = GT(ttft_ms=20, itl_ms=2, tokens=5)
    yield server
    server.close()
