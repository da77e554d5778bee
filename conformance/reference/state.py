"""The state one reference service instance shares between its gateway and its handlers:
tenants (key, limits), the engine, tokenizer and template, defects, cache and billing.

Below both ``gateway`` (routes, auth, envelope) and ``handler`` (chat completions), so the
handler needs nothing from the gateway.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from conformance.reference.billing import BillingLedger
from conformance.reference.cache import PromptCache
from conformance.reference.chat import ApiError
from conformance.reference.config import ReferenceConfig
from conformance.reference.defects import ActiveDefects
from conformance.reference.engine import Engine
from conformance.reference.limits import KeyLimits
from conformance.run.tokenize import ChatTemplate, Tokenizer


@dataclass
class Tenant:
    name: str
    key: str
    limits: KeyLimits


def fault_position(seed: int, defect: str, block: int, every: int) -> int:
    """The position (0 .. every-1) of ``defect``'s fault in block ``block``."""
    if every <= 1:
        return 0
    digest = hashlib.blake2b(f"{seed}:{defect}:{block}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % every


class ServiceState:
    """State shared by the gateway and the handlers of one service instance."""

    def __init__(self, cfg: ReferenceConfig, engine: Engine, tokenizer: Tokenizer,
                 template: ChatTemplate, api_keys: Mapping[str, str],
                 defects: ActiveDefects, billing: BillingLedger | None = None,
                 prompt_caching: bool = True, seed: int = 0) -> None:
        g = cfg.gateway
        self.cfg = cfg
        self.engine = engine
        self.tokenizer = tokenizer
        self.template = template
        self.defects = defects
        self.billing = billing
        self.seed = seed  # where the one-in-k defects fall (faulty_at)
        # loose_rate_limit: the buckets hold PARAM x what the declaration (written from
        # cfg.gateway) states
        loose = defects.param("loose_rate_limit") if "loose_rate_limit" in defects else 1.0
        self.tenants = {
            key: Tenant(name, key, KeyLimits(round(g.rpm * loose), round(g.tpm * loose),
                                             g.max_concurrency, g.max_queue))
            for name, key in api_keys.items()
        }
        self.cache = (PromptCache(g.cache_block_tokens, g.cache_min_tokens,
                                  g.cache_max_entries) if prompt_caching else None)
        self.started = time.monotonic()
        self.last_overload = float("-inf")
        self._n = 0

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def next_index(self) -> int:
        """0, 1, 2, ... per chat request: the "one in k" defects use it (faulty_at)."""
        n = self._n
        self._n += 1
        return n

    def faulty_at(self, defect: str, n: int, every: int) -> bool:
        """Is request ``n`` the faulty one of its block for a "one request in ``every``"
        defect? Exactly one per block of ``every`` consecutive requests, at a position drawn
        from (seed, defect, block): realistic (not always the first), reproducible."""
        return n % every == fault_position(self.seed, defect, n // every, every)

    def accepts_model(self, name: str) -> bool:
        g = self.cfg.gateway
        return name == g.model_id or name in g.aliases

    def authenticate(self, request: Request) -> Tenant | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header and request.headers.get("x-api-key"):  # the Anthropic dialect's header
            scheme, token = "bearer", request.headers["x-api-key"]
        tenant = None
        if scheme.lower() == "bearer" and token:
            for key, t in self.tenants.items():
                if secrets.compare_digest(key.encode(), token.strip().encode()):
                    tenant = t
        if tenant is None and "no_auth" in self.defects:
            tenant = next(iter(self.tenants.values()))
        return tenant

    def common_headers(self, tenant: Tenant) -> dict[str, str]:
        out = tenant.limits.headers()
        if "echo_api_key" in self.defects:
            out["x-debug-key"] = tenant.key
        return out

    def error_response(self, exc: ApiError) -> JSONResponse:
        body = exc.body()
        if "stack_traces" in self.defects:
            body["error"]["message"] += "\nTraceback (most recent call last):\n" + "".join(
                traceback.format_stack(limit=6))
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)
