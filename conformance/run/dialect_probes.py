"""The raw probes of API-006, SEC-001, SEC-003, SEC-004 and SEC-006 in each wire dialect.

These requirements post hand-made bytes (malformed bodies, wrong keys, wrong paths), not
requests built by a dialect's client, so each dialect says here where its chat endpoint
is, what a minimal request body looks like, in which header its key travels (and which
header is the *wrong* one), the headers it needs on every call, and how the shipped
malformed corpus (written for chat completions) reads in it. The error shape a refusal
must have is the dialect's ``error`` schema (``spec/schemas/dialects/``), judged by the
checks with the declared dialect.

For ``openai-chat`` every probe is byte for byte what the suites sent before the other
dialects were mapped (``tests/unit/run/test_dialect_probes.py`` pins it).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from conformance.run.corpora import MalformedCase, malformed_cases

ANTHROPIC_VERSION = "2023-06-01"
# API-006: the client mistakes the catalog names, taken from the malformed corpus.
CLIENT_ERROR_CASES = ("json-truncated", "json-empty-body", "missing-messages", "messages-string",
                      "unknown-model", "temperature-out-of-range", "max-tokens-negative")
# Corpus kinds whose bodies are not a JSON object to complete (sent as they are).
_RAW_KINDS = ("bad_json", "invalid_utf8", "null_bytes")


@dataclass(frozen=True)
class Credential:
    """How one probe presents (or withholds) a key: the ``Authorization`` header value
    (None: none sent) and any other headers (e.g. ``x-api-key``)."""

    authorization: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DialectProbes:
    """The raw-probe vocabulary of one dialect."""

    dialect: str
    path: str                  # the chat endpoint, relative to the base URL
    messages_key: str          # where the conversation goes in a request body
    max_tokens_key: str        # the output cap's name
    min_max_tokens: int = 1    # the smallest cap the dialect accepts
    x_api_key: bool = False    # the key travels in x-api-key (not Authorization: Bearer)
    headers: Mapping[str, str] = field(default_factory=dict)  # sent with every probe
    # corpus cases whose chat body means something else (or nothing wrong) in the dialect
    replaced: Mapping[str, bytes] = field(default_factory=dict)

    # -- bodies ---------------------------------------------------------------------------
    def body(self, model: str, content: str = "ping", max_tokens: int = 1,
             **extra: object) -> bytes:
        """A minimal well-formed request (one user turn) with a small output cap."""
        return json.dumps({"model": model,
                           self.messages_key: [{"role": "user", "content": content}],
                           self.max_tokens_key: max(max_tokens, self.min_max_tokens),
                           **extra}).encode()

    def wrong_type(self, model: str) -> bytes:
        """A request whose conversation has the wrong JSON type."""
        if self.messages_key == "input":  # a string is a valid input: a number is not
            return json.dumps({"model": model, "input": 42}).encode()
        return json.dumps({"model": model, "messages": "hi"}).encode()

    def unknown_model(self, model: str) -> bytes:
        doc: dict[str, object] = {"model": model,
                                  self.messages_key: [{"role": "user", "content": "hi"}]}
        if self.x_api_key:
            doc[self.max_tokens_key] = 16  # required by the dialect
        return json.dumps(doc).encode()

    # -- keys -----------------------------------------------------------------------------
    def key(self, key: str) -> Credential:
        """``key`` sent the dialect's way."""
        if self.x_api_key:
            return Credential(None, {"x-api-key": key})
        return Credential(f"Bearer {key}")

    def wrong_header(self, key: str) -> Credential:
        """``key`` sent in the header the dialect does not read its key from."""
        if self.x_api_key:
            return Credential(f"Bearer {key}")
        return Credential(None, {"x-api-key": key})

    def auth_variants(self) -> list[tuple[str, Credential]]:
        """(name, credential) of SEC-001: random keys, never derived from a real one."""
        wrong = "sk-" + secrets.token_urlsafe(30)
        basic = base64.b64encode(f"user:{secrets.token_urlsafe(12)}".encode()).decode()
        if not self.x_api_key:
            return [("missing", Credential()), ("empty-bearer", Credential("Bearer")),
                    ("bare-key", Credential(wrong)), ("basic", Credential(f"Basic {basic}")),
                    ("wrong-key", self.key(wrong))]
        return [("missing", Credential()), ("empty-key", Credential(None, {"x-api-key": ""})),
                ("bare-key", Credential(wrong)), ("basic", Credential(f"Basic {basic}")),
                ("wrong-key", self.key(wrong)), ("wrong-header", self.wrong_header(wrong))]

    def send_headers(self, cred: Credential | None = None) -> dict[str, str] | None:
        """The extra headers of a probe (None when there are none)."""
        h = {**self.headers, **(cred.headers if cred is not None else {})}
        return h or None

    # -- the malformed corpus -------------------------------------------------------------
    def adapt(self, case: MalformedCase, model: str) -> MalformedCase:
        """``case`` as it reads in this dialect (the chat body's fields renamed, a required
        cap added); unchanged for chat completions."""
        if self.dialect == "openai-chat":
            return case
        body = self.replaced.get(case.id)
        if body is not None:
            body = body.replace(b"$MODEL", model.encode())
        else:
            body = case.body
            if self.messages_key != "messages":
                body = body.replace(b'"messages"', f'"{self.messages_key}"'.encode())
            if self.max_tokens_key != "max_tokens":
                body = body.replace(b'"max_tokens"', f'"{self.max_tokens_key}"'.encode())
            if (self.x_api_key and case.kind not in _RAW_KINDS and body.startswith(b"{")
                    and f'"{self.max_tokens_key}"'.encode() not in body):
                body = b'{"' + self.max_tokens_key.encode() + b'": 16, ' + body[1:]
        return dataclasses.replace(case, body=body, headers={**case.headers, **self.headers})

    def malformed(self, model: str) -> list[MalformedCase]:
        """SEC-004's corpus in this dialect."""
        return [self.adapt(c, model) for c in malformed_cases(model)]

    def client_errors(self, model: str) -> list[MalformedCase]:
        """API-006's cases in this dialect."""
        cases = {c.id: c for c in malformed_cases(model)}
        return [self.adapt(cases[c], model) for c in CLIENT_ERROR_CASES]


PROBES: Mapping[str, DialectProbes] = {
    "openai-chat": DialectProbes("openai-chat", "chat/completions", "messages", "max_tokens"),
    "anthropic-messages": DialectProbes(
        "anthropic-messages", "messages", "messages", "max_tokens", x_api_key=True,
        headers={"anthropic-version": ANTHROPIC_VERSION}),
    "openai-responses": DialectProbes(
        "openai-responses", "responses", "input", "max_output_tokens", min_max_tokens=16,
        # a string is a valid input (one user turn): its wrong type is a number
        replaced={"messages-string": b'{"model": "$MODEL", "input": 42}'}),
}


def probes_for(dialect: str) -> DialectProbes:
    """The probes of ``dialect`` (a declared dialect name)."""
    return PROBES[dialect]
