"""The dialect interface: how a chat request is built and how its answer is decoded.

The engine knows nothing about any API's JSON: it asks the dialect for the path and body of
a request, moves bytes, and afterwards hands the raw record back to the dialect to fill the
decoded fields. A new dialect is one class implementing :class:`Dialect`, passed to the
client (or listed in :data:`DIALECTS`, a plain mapping, for lookup by declared name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.run.records import RequestRecord

CountTokens = Callable[[str], int]
Message = Mapping[str, Any]


@dataclass(frozen=True)
class ChatParams:
    """What one chat request asks for. ``extra`` is merged into the body last (e.g.
    ``temperature``, ``seed``, ``stop``, ``logprobs``, ``stream_options``)."""

    messages: tuple[Message, ...] | list[Message]
    max_tokens: int | None = None
    stream: bool = True
    model: str | None = None  # None: the client's configured model
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltRequest:
    method: str
    path: str  # relative to the endpoint's base URL, e.g. "chat/completions"
    json: dict[str, Any]


class Dialect(Protocol):
    """One wire dialect (``openai-chat``, ``anthropic-messages``, ``openai-responses``)."""

    name: str
    models_path: str

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """The headers that carry ``api_key`` (and any the dialect requires on every call)."""
        ...

    def build(self, params: ChatParams, model: str) -> BuiltRequest:
        """The request for ``params`` (the engine adds auth and sends it)."""
        ...

    def decode(self, record: RequestRecord, count_tokens: CountTokens | None = None) -> None:
        """Fill the decoded fields of ``record`` from its raw events/body (in place).

        Runs after the request completed, never on the hot path. Must not raise on any
        input: malformed data becomes ``decode_errors`` and ``error="garbage"``."""
        ...
