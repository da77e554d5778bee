"""SEC-003, SEC-006: scans of every response of the whole run (all phases' evidence).

Both run last (``run_late(2)``) so that they see what every other test recorded; each first
sends a few probes of its own so that a run selecting only it still has evidence."""

from __future__ import annotations

import json
import os
import secrets
from typing import TYPE_CHECKING

import pytest

from conformance.checks import hygiene
from conformance.declaration.models import Declaration
from conformance.pytest_plugin.record import Recorder
from conformance.run.client import Client
from conformance.run.client.client import AUTH
from conformance.run.records import RequestRecord

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import RunRecords, SendRaw

PHASE = "security"


@pytest.mark.run_late(2)
@pytest.mark.requirement("SEC-003")
def test_error_hygiene(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                       run_records: RunRecords) -> None:
    model = declaration.model.id
    ok_body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}],
                          "max_tokens": 1}).encode()
    probes: list[tuple[str, str, bytes | None, object]] = [
        ("bad-json", "chat/completions", b'{"model": "x", "messages": [', None),
        ("wrong-type", "chat/completions", json.dumps(
            {"model": model, "messages": "hi"}).encode(), None),
        ("unknown-model", "chat/completions", json.dumps(
            {"model": "no-such-model-sec003", "messages": [{"role": "user", "content": "hi"}]}
        ).encode(), None),
        ("unknown-path", "no-such-endpoint-sec003", b"{}", None),
        ("wrong-method", "chat/completions", None, None),
        ("no-key", "chat/completions", ok_body, "none"),
    ]

    async def go(c: Client) -> list[RequestRecord]:
        out = []
        for i, (name, path, body, auth) in enumerate(probes):
            rid = f"{PHASE}-sec003-{name}"
            if body is None:
                out.append(await c.get(path, request_id=rid, phase=PHASE, seq=i))
            elif auth == "none":
                out.append(await c.post_raw(path, body, auth=None, request_id=rid,
                                            phase=PHASE, seq=i))
            else:
                out.append(await c.post_raw(path, body, request_id=rid, phase=PHASE, seq=i))
        return out

    send_raw(go)
    obs = hygiene.error_hygiene(run_records())
    record.observations("errors_clean", obs, detail={"error_responses": len(obs),
                                                     "scan": "whole run"})


@pytest.mark.run_late(2)
@pytest.mark.requirement("SEC-006")
def test_key_not_echoed(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                        run_records: RunRecords) -> None:
    """The declared keys (and random wrong keys sent here) must appear in no response. The
    declared keys are redacted as the client records, so their trace is the redaction
    marker; the wrong keys are not secrets and are matched as they are."""
    model = declaration.model.id
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": 2}).encode()
    wrong = [f"sk-{secrets.token_urlsafe(30)}" for _ in range(3)]
    auths: list[tuple[str, object]] = [
        ("valid", ...), ("valid-stream", ...),
        *((f"wrong-{i}", f"Bearer {k}") for i, k in enumerate(wrong)),
        ("wrong-bare", wrong[0]), ("wrong-header-x-api-key", None),
    ]

    async def go(c: Client) -> list[RequestRecord]:
        out = []
        for i, (name, auth) in enumerate(auths):
            rid = f"{PHASE}-sec006-{name}"
            if auth is ...:
                stream = name.endswith("stream")
                b = body if not stream else json.dumps({**json.loads(body),
                                                         "stream": True}).encode()
                out.append(await c.post_raw("chat/completions", b, stream=stream,
                                            request_id=rid, phase=PHASE, seq=i))
            elif auth is None:
                out.append(await c.post_raw("chat/completions", body, auth=None,
                                            headers={"x-api-key": wrong[1]},
                                            request_id=rid, phase=PHASE, seq=i))
            else:
                out.append(await c.post_raw("chat/completions", body, auth=str(auth),
                                            request_id=rid, phase=PHASE, seq=i))
            models_auth = AUTH if auth is ... else auth
            out.append(await c.get("models", auth=models_auth,
                                   headers={"x-api-key": wrong[1]} if auth is None else None,
                                   request_id=f"{rid}-models", phase=PHASE, seq=100 + i))
        return out

    send_raw(go)
    keys = [v for n in declaration.secret_env_names() if (v := os.environ.get(n))]
    obs = hygiene.key_not_echoed(run_records(), [*keys, *wrong], redacted=True)
    record.observations("key_not_echoed", obs, detail={"responses": len(obs),
                                                       "scan": "whole run"})
