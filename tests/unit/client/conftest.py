"""Fixtures: see ``client_servers.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_servers import RawServer


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawServer]:
    srv = RawServer().start()
    yield srv
    srv.stop()
