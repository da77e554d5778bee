"""Frozen models of a candidate declaration. Paths are already resolved to absolute."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TokenizerRef:
    kind: str  # hf | tiktoken | sentencepiece
    path: Path
    pattern: str | None = None
    special_tokens: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatTemplateRef:
    path: Path
    bos_token: str | None = None
    eos_token: str | None = None


@dataclass(frozen=True)
class Features:
    prompt_caching: bool = False
    logprobs: bool = False
    one_token_per_chunk: bool = False
    seed: bool = False
    stop_sequences: bool = True
    deterministic: bool = False
    tools: bool = False  # hqts-2026.2: tool calling offered
    structured_output: bool = False  # hqts-2026.2: JSON-schema structured output


@dataclass(frozen=True)
class ModelDecl:
    id: str
    aliases: tuple[str, ...]
    tokenizer: TokenizerRef
    chat_template: ChatTemplateRef
    eos_counted: bool
    context_window: int
    max_output_tokens: int
    features: Features

    def accepts_name(self, name: str) -> bool:
        return name == self.id or name in self.aliases


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    dialect: str
    api_key_env: str
    second_api_key_env: str | None = None
    ca_bundle: Path | None = None
    timeout_s: float = 60.0
    http2: bool = False

    @property
    def scheme(self) -> str:
        return self.base_url.split("://", 1)[0].lower()

    def api_key(self) -> str | None:
        """The primary key, read from the environment now (never stored)."""
        return os.environ.get(self.api_key_env)

    def second_api_key(self) -> str | None:
        return os.environ.get(self.second_api_key_env) if self.second_api_key_env else None


@dataclass(frozen=True)
class Pricing:
    currency: str
    unit: str
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None


@dataclass(frozen=True)
class Limits:
    rpm: int
    tpm: int
    max_concurrency: int


@dataclass(frozen=True)
class Performance:
    declared_concurrency: int
    output_tokens_per_s: float


@dataclass(frozen=True)
class GovernanceStatement:
    statement: str
    documents: tuple[Path, ...] = ()


@dataclass(frozen=True)
class BillingExport:
    path: Path
    format: str


@dataclass(frozen=True)
class Declaration:
    service_name: str
    vendor: str
    service_version: str
    endpoint: Endpoint
    models: tuple[ModelDecl, ...]
    pricing: Pricing
    limits: Limits
    performance: Performance
    data_governance: Mapping[str, GovernanceStatement]
    billing_export: BillingExport | None
    digest: str
    source: Path | None = field(default=None, compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def model(self) -> ModelDecl:
        """The primary (first) declared model."""
        return self.models[0]

    def features(self) -> set[str]:
        """Catalog applicability features this declaration provides."""
        out: set[str] = set()
        m = self.model
        if any(x.features.prompt_caching for x in self.models):
            out.add("prompt_caching")
        if self.billing_export is not None:
            out.add("billing_export")
        if m.features.logprobs:
            out.add("logprobs")
        if m.features.seed:
            out.add("seed")
        if m.features.stop_sequences:
            out.add("stop_sequences")
        if m.features.tools:
            out.add("tools")
        if m.features.structured_output:
            out.add("structured_output")
        if self.endpoint.second_api_key_env:
            out.add("second_tenant")
        if self.endpoint.scheme == "https":
            out.add("tls")
        if m.context_window >= 10000 + 1500:
            out.add("w_long_fits_context")
        return out

    def secret_env_names(self) -> tuple[str, ...]:
        names = [self.endpoint.api_key_env]
        if self.endpoint.second_api_key_env:
            names.append(self.endpoint.second_api_key_env)
        return tuple(names)

    def public_summary(self) -> dict[str, Any]:
        """What results.json and the certificate may say about the candidate."""
        return {
            "name": self.service_name,
            "vendor": self.vendor,
            "version": self.service_version,
            "base_url": self.endpoint.base_url,
            "dialect": self.endpoint.dialect,
            "models": [m.id for m in self.models],
            "declaration_digest": self.digest,
        }
