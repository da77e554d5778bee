"""The negotiated TLS version recorded for results.json's transport section."""

from __future__ import annotations

import pytest

from conformance.pytest_plugin.session import tls_version
from conformance.reference import ReferenceService

pytestmark = pytest.mark.slow


def test_tls_version_is_read_with_the_declared_ca() -> None:
    with ReferenceService.start(tls=True) as svc:
        decl = svc.declaration()
        assert tls_version(decl.endpoint.base_url, decl.endpoint.ca_bundle) in (
            "TLSv1.2", "TLSv1.3")
        assert tls_version(decl.endpoint.base_url, None) is None  # untrusted chain
    assert tls_version("http://127.0.0.1:9/v1", None) is None
