"""SEC-003, SEC-006: scans of every response of the whole run (all phases' evidence).

Both run last (``run_late(2)``) so that they see what every other test recorded; each first
sends a few probes of its own so that a run selecting only it still has evidence."""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

import pytest

from conformance.checks import hygiene
from conformance.declaration.models import Declaration
from conformance.pytest_plugin.record import Recorder
from conformance.run.client import Client
from conformance.run.client.client import AUTH
from conformance.run.dialect_probes import Credential, probes_for
from conformance.run.records import RequestRecord

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import RunRecords, SendRaw

PHASE = "security"


@pytest.mark.run_late(2)
@pytest.mark.requirement("SEC-003")
def test_error_hygiene(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                       run_records: RunRecords) -> None:
    """Error-provoking probes at the declared dialect's chat endpoint, then every error
    answer of the run is scanned."""
    model = declaration.model.id
    probes = probes_for(declaration.endpoint.dialect)
    path = probes.path
    plan: list[tuple[str, str, bytes | None, bool]] = [  # name, path, body (None: GET), key
        ("bad-json", path, f'{{"model": "x", "{probes.messages_key}": ['.encode(), True),
        ("wrong-type", path, probes.wrong_type(model), True),
        ("unknown-model", path, probes.unknown_model("no-such-model-sec003"), True),
        ("unknown-path", "no-such-endpoint-sec003", b"{}", True),
        ("wrong-method", path, None, True),
        ("no-key", path, probes.body(model, content="hi"), False),
    ]
    hdrs = probes.send_headers()

    async def go(c: Client) -> list[RequestRecord]:
        out = []
        for i, (name, where, body, keyed) in enumerate(plan):
            rid = f"{PHASE}-sec003-{name}"
            if body is None:
                out.append(await c.get(where, headers=hdrs, request_id=rid, phase=PHASE,
                                       seq=i))
            elif not keyed:
                out.append(await c.post_raw(where, body, auth=None, headers=hdrs,
                                            request_id=rid, phase=PHASE, seq=i))
            else:
                out.append(await c.post_raw(where, body, headers=hdrs, request_id=rid,
                                            phase=PHASE, seq=i))
        return out

    send_raw(go)
    obs = hygiene.error_hygiene(run_records())
    record.observations("errors_clean", obs, detail={"error_responses": len(obs),
                                                     "scan": "whole run"})


@pytest.mark.run_late(2)
@pytest.mark.requirement("SEC-006")
def test_key_not_echoed(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                        run_records: RunRecords) -> None:
    """The declared keys (and random wrong keys sent here, the dialect's way, bare and in
    the header the dialect does not read) must appear in no response. The declared keys
    are redacted as the client records, so their trace is the redaction marker; the wrong
    keys are not secrets and are matched as they are."""
    model = declaration.model.id
    probes = probes_for(declaration.endpoint.dialect)
    body = probes.body(model, content="hi", max_tokens=2)
    wrong = [f"sk-{secrets.token_urlsafe(30)}" for _ in range(3)]
    creds: list[tuple[str, Credential | None]] = [  # None: the configured key
        ("valid", None), ("valid-stream", None),
        *((f"wrong-{i}", probes.key(k)) for i, k in enumerate(wrong)),
        ("wrong-bare", Credential(wrong[0])),
        ("wrong-header-x-api-key" if not probes.x_api_key else "wrong-header-bearer",
         probes.wrong_header(wrong[1])),
    ]

    async def go(c: Client) -> list[RequestRecord]:
        out = []
        for i, (name, cred) in enumerate(creds):
            rid = f"{PHASE}-sec006-{name}"
            hdrs = probes.send_headers(cred)
            auth: object = AUTH if cred is None else cred.authorization
            if cred is None:
                stream = name.endswith("stream")
                b = body if not stream else probes.body(model, content="hi", max_tokens=2,
                                                        stream=True)
                out.append(await c.post_raw(probes.path, b, stream=stream, headers=hdrs,
                                            request_id=rid, phase=PHASE, seq=i))
            else:
                out.append(await c.post_raw(probes.path, body, auth=auth, headers=hdrs,
                                            request_id=rid, phase=PHASE, seq=i))
            out.append(await c.get("models", auth=auth, headers=hdrs,
                                   request_id=f"{rid}-models", phase=PHASE, seq=100 + i))
        return out

    send_raw(go)
    keys = [v for n in declaration.secret_env_names() if (v := os.environ.get(n))]
    obs = hygiene.key_not_echoed(run_records(), [*keys, *wrong], redacted=True)
    record.observations("key_not_echoed", obs, detail={"responses": len(obs),
                                                       "scan": "whole run"})
