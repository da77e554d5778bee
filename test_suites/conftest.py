"""Suite infrastructure shared by every requirement test.

The tokencert pytest plugin provides the core fixtures (``record``, ``client``,
``sustained_phase``, ``tokenizer``, ``declaration``, ``catalog``, ``plan``, ...; see
``conformance/pytest_plugin/fixtures.py``). This file adds helpers the suites share and
keeps the suite inert when pytest runs without ``--tokencert-candidate``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.run.client import ChatParams
from conformance.run.prompts import PromptFactory, PromptSpec

PROTOCOL_MAX_TOKENS = 32  # protocol checks need a well-formed answer, not a long one


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("tokencert_candidate", None):
        return
    skip = pytest.mark.skip(reason="conformance tests need --tokencert-candidate "
                            "(run them with `tokencert run`)")
    for it in items:
        it.add_marker(skip)


ParamsFactory = Callable[..., ChatParams]


@pytest.fixture(scope="session")
def protocol_params(tokenizer, plan) -> ParamsFactory:  # type: ignore[no-untyped-def]
    """``protocol_params(seq, stream=..., **extra)``: a fresh W-short prompt (the protocol
    phase's workload) with a small ``max_tokens``; deterministic in ``seq``."""
    ph = plan.phase("protocol")
    seed = ph.seed if ph is not None else 0
    input_tokens = (ph.input_tokens if ph is not None else None) or 100
    factory = PromptFactory(tokenizer.count_messages, tokenizer.tokenizer.encode,
                            tokenizer.tokenizer.decode, seed)

    def make(seq: int, *, stream: bool, max_tokens: int = PROTOCOL_MAX_TOKENS,
             **extra: object) -> ChatParams:
        msgs = factory.make(seq, PromptSpec(input_tokens))
        return ChatParams(messages=tuple(msgs), max_tokens=max_tokens, stream=stream,
                          extra=dict(extra))

    return make


@pytest.fixture(scope="session")
def protocol_count(plan, catalog) -> Callable[[str], int]:  # type: ignore[no-untyped-def]
    """How many probes a protocol requirement sends: enough for its highest level's
    ``min_evidence``, and a share of the profile's protocol requests."""
    ph = plan.phase("protocol")
    budget = ph.requests if ph is not None and ph.requests else 4

    def count(rid: str) -> int:
        req = catalog.get(rid)
        need = max((e.samples or 1 for e in req.min_evidence.values()), default=1)
        return max(need, budget // 4)

    return count
