"""API-001, API-002, API-007: response schema, streaming framing, model listing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conformance.checks import protocol
from conformance.declaration.models import Declaration
from conformance.pytest_plugin.fixtures import ProbeClient
from conformance.pytest_plugin.record import Recorder

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import ParamsFactory, ProtocolCount


@pytest.mark.requirement("API-001")
def test_non_streaming_schema(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                              protocol_count: ProtocolCount) -> None:
    n = protocol_count("API-001")
    recs = client.many([(f"api001-{i}", protocol_params(1000 + i, stream=False))
                        for i in range(n)])
    for rec in recs:
        record.observe(protocol.completion_schema(rec, client.dialect))


@pytest.mark.requirement("API-002")
def test_streaming_framing(client: ProbeClient, record: Recorder, protocol_params: ParamsFactory,
                           protocol_count: ProtocolCount) -> None:
    n = protocol_count("API-002")
    recs = client.many([(f"api002-{i}", protocol_params(2000 + i, stream=True))
                        for i in range(n)])
    for rec in recs:
        record.observe(protocol.stream_conformance(rec, client.dialect))


@pytest.mark.requirement("API-007")
def test_models_listed(client: ProbeClient, record: Recorder, declaration: Declaration) -> None:
    rec = client.get("api007-models", "models")
    record.observe(protocol.models_listed(rec, [m.id for m in declaration.models],
                                            client.dialect))
