"""The API gateway: an ASGI app (Starlette) in front of an engine.

Auth per key (two tenants), per-key token buckets (rpm, tpm) and a concurrency gate,
exact metering with the declared tokenizer and template, prompt-cache accounting, a
billing export, OpenAI-shaped errors, ``x-request-id`` on every response, and no stack
trace ever leaving the process (unless the ``stack_traces`` defect asks for one).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.reference.billing import BillingLedger
from conformance.reference.cache import PromptCache
from conformance.reference.chat import ApiError
from conformance.reference.config import ReferenceConfig
from conformance.reference.defects import ActiveDefects
from conformance.reference.engine import Engine
from conformance.reference.limits import KeyLimits
from conformance.run.tokenize import ChatTemplate, Tokenizer

log = logging.getLogger("tokencert.reference")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
GENERIC_500 = "The server had an error while processing your request. Sorry about that!"


@dataclass
class Tenant:
    name: str
    key: str
    limits: KeyLimits


class Gateway:
    """State shared by the handlers of one service instance."""

    def __init__(self, cfg: ReferenceConfig, engine: Engine, tokenizer: Tokenizer,
                 template: ChatTemplate, api_keys: Mapping[str, str],
                 defects: ActiveDefects, billing: BillingLedger | None = None,
                 prompt_caching: bool = True) -> None:
        g = cfg.gateway
        self.cfg = cfg
        self.engine = engine
        self.tokenizer = tokenizer
        self.template = template
        self.defects = defects
        self.billing = billing
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
        """0, 1, 2, ... per chat request: 'one in N (the first included)' defects use it."""
        n = self._n
        self._n += 1
        return n

    def accepts_model(self, name: str) -> bool:
        g = self.cfg.gateway
        return name == g.model_id or name in g.aliases

    def authenticate(self, request: Request) -> Tenant | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
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

    def app(self) -> ASGIApp:
        from conformance.reference.handler import chat_completions

        async def models(request: Request, tenant: Tenant) -> Response:
            g = self.cfg.gateway
            data = [] if "models_list_incomplete" in self.defects else [
                {"id": g.model_id, "object": "model", "created": 1767225600,
                 "owned_by": "tokencert"}]
            return JSONResponse({"object": "list", "data": data},
                                headers=self.common_headers(tenant))

        async def chat(request: Request, tenant: Tenant) -> Response:
            return await chat_completions(self, request, tenant)

        async def not_found(request: Request, tenant: Tenant) -> Response:
            raise ApiError(404, f"Unknown request URL: {request.method} {request.url.path}.",
                           code="unknown_url")

        routes = [
            Route("/v1/chat/completions", self._endpoint(chat, {"POST"}), methods=ALL_METHODS),
            Route("/v1/models", self._endpoint(models, {"GET"}), methods=ALL_METHODS),
            Route("/{path:path}", self._endpoint(not_found, None), methods=ALL_METHODS),
        ]
        app = Starlette(routes=routes, exception_handlers={Exception: self._crash})
        return Envelope(app, self)

    async def _crash(self, request: Request, exc: Exception) -> Response:
        text = GENERIC_500
        if "stack_traces" in self.defects:
            text += "\n" + "".join(traceback.format_exception(exc))
        return JSONResponse({"error": {"message": text, "type": "server_error", "param": None,
                                       "code": None}}, status_code=500)

    def _endpoint(self, fn: Callable[[Request, Tenant], Awaitable[Response]],
                  methods: set[str] | None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                tenant = self.authenticate(request)
                if tenant is None:
                    raise ApiError(401, "Incorrect or missing API key. Send it as "
                                   "'Authorization: Bearer <key>'.", code="invalid_api_key")
                if methods is not None and request.method not in methods:
                    raise ApiError(405, f"Method {request.method} is not allowed here; use "
                                   f"{', '.join(sorted(methods))}.", code="method_not_allowed")
                return await fn(request, tenant)
            except ApiError as exc:
                return self.error_response(exc)
        return endpoint


class Envelope:
    """Outermost ASGI layer: request id on every response, catch-all generic 500."""

    def __init__(self, app: ASGIApp, gw: Gateway) -> None:
        self.app = app
        self.gw = gw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = rid
        started = False
        tag = "no_request_id" not in self.gw.defects

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if tag:
                    headers = [*message.get("headers", []),
                               (b"x-request-id", f"req_{rid}".encode())]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.error("request %s failed: %s", rid, type(exc).__name__)
            if started:
                return
            text = GENERIC_500
            if "stack_traces" in self.gw.defects:
                text += "\n" + traceback.format_exc()
            body = json.dumps({"error": {"message": text, "type": "server_error",
                                         "param": None, "code": None}}).encode()
            await send_wrapper({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
