"""The preflight's streamed request survives one random fault of the service: it is retried
(up to three attempts) on 5xx, 429 or a dropped connection, and every attempt is recorded.

Against the real reference service with ``random_5xx``: the seed is chosen so that the
preflight's request (the service's first chat request) is the faulty one of its block.
"""

from __future__ import annotations

import pytest

from conformance.reference import ReferenceService
from conformance.reference.state import fault_position
from conformance.run.preflight import STREAM_ATTEMPTS, preflight


def _seed_failing_first(every: int) -> int:
    return next(s for s in range(1000) if fault_position(s, "random_5xx", 0, every) == 0)


def test_one_random_5xx_on_the_preflight_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = _seed_failing_first(2)
    with ReferenceService.start(defects=["random_5xx=2"], seed=seed) as svc:
        for k, v in svc.env.items():
            monkeypatch.setenv(k, v)
        rep = preflight(svc.declaration(), request_timeout_s=30)
    assert rep.attempts == ["attempt 1: HTTP 500, retried", "attempt 2: HTTP 200"]
    stream = next(s for s in rep.steps if s.name == "stream")
    assert stream.ok and stream.detail.startswith("HTTP 200")
    assert any("2 attempts" in n for n in rep.notes)
    assert rep.to_json()["attempts"] == rep.attempts


def test_a_service_failing_every_request_is_tried_three_times_and_left_to_the_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with ReferenceService.start(defects=["random_5xx=1"]) as svc:
        for k, v in svc.env.items():
            monkeypatch.setenv(k, v)
        rep = preflight(svc.declaration(), request_timeout_s=30)
    assert len(rep.attempts) == STREAM_ATTEMPTS
    assert all("HTTP 500" in a for a in rep.attempts)
    assert any("answered HTTP 500: the run judges it" in n for n in rep.notes)


def test_a_healthy_service_needs_one_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    with ReferenceService.start() as svc:
        for k, v in svc.env.items():
            monkeypatch.setenv(k, v)
        rep = preflight(svc.declaration(), request_timeout_s=30)
    assert rep.attempts == ["attempt 1: HTTP 200"]
    assert not any("attempts" in n for n in rep.notes)
