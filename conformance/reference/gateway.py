"""The API gateway: an ASGI app (Starlette) in front of an engine.

Auth per key (two tenants), per-key token buckets (rpm, tpm) and a concurrency gate,
exact metering with the declared tokenizer and template, prompt-cache accounting, a
billing export, errors in each endpoint's dialect (OpenAI or Anthropic shape, see
``dialect_errors``), ``x-request-id`` on every response, and no stack trace ever leaving
the process (unless the ``stack_traces`` defect asks for one).
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.reference import dialect_errors, dialects
from conformance.reference.chat import ApiError
from conformance.reference.handler import chat_completions
from conformance.reference.state import ServiceState, Tenant

log = logging.getLogger("tokencert.reference")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
GENERIC_500 = dialect_errors.GENERIC_500


class Gateway(ServiceState):
    """The ASGI app of one service instance: routes, per-key auth, the envelope."""

    def app(self) -> ASGIApp:
        async def models(request: Request, tenant: Tenant) -> Response:
            g = self.cfg.gateway
            data = [] if "models_list_incomplete" in self.defects else [
                {"id": g.model_id, "object": "model", "created": 1767225600,
                 "owned_by": "tokencert"}]
            if "anthropic-version" in request.headers:  # an Anthropic client: its list shape
                listed = [{"type": "model", "id": m["id"], "display_name": m["id"],
                           "created_at": "2026-01-01T00:00:00Z"} for m in data]
                return JSONResponse({"data": listed, "has_more": False,
                                     "first_id": listed[0]["id"] if listed else None,
                                     "last_id": listed[-1]["id"] if listed else None},
                                    headers=self.common_headers(tenant))
            return JSONResponse({"object": "list", "data": data},
                                headers=self.common_headers(tenant))

        async def chat(request: Request, tenant: Tenant) -> Response:
            return await chat_completions(self, request, tenant)

        async def anthropic(request: Request, tenant: Tenant) -> Response:
            return await dialects.messages(self, request, tenant)

        async def responses(request: Request, tenant: Tenant) -> Response:
            return await dialects.responses(self, request, tenant)

        async def not_found(request: Request, tenant: Tenant) -> Response:
            raise ApiError(404, f"Unknown request URL: {request.method} {request.url.path}.",
                           code="unknown_url")

        routes = [
            Route("/v1/chat/completions", self._endpoint(chat, {"POST"}), methods=ALL_METHODS),
            Route("/v1/messages", self._endpoint(anthropic, {"POST"}), methods=ALL_METHODS),
            Route("/v1/responses", self._endpoint(responses, {"POST"}), methods=ALL_METHODS),
            Route("/v1/models", self._endpoint(models, {"GET"}), methods=ALL_METHODS),
            Route("/{path:path}", self._endpoint(not_found, None), methods=ALL_METHODS),
        ]
        app = Starlette(routes=routes, exception_handlers={Exception: self._crash})
        return Envelope(app, self)

    async def _crash(self, request: Request, exc: Exception) -> Response:
        text = GENERIC_500
        if "stack_traces" in self.defects:
            text += "\n" + "".join(traceback.format_exception(exc))
        return JSONResponse(dialect_errors.crash_body(request.url.path, text), status_code=500)

    def _endpoint(self, fn: Callable[[Request, Tenant], Awaitable[Response]],
                  methods: set[str] | None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                tenant = self.authenticate(request) or dialect_errors.bypass(self, request)
                if tenant is None:
                    raise dialect_errors.refused(self, request)
                if methods is not None and request.method not in methods:
                    raise ApiError(405, f"Method {request.method} is not allowed here; use "
                                   f"{', '.join(sorted(methods))}.", code="method_not_allowed")
                return await fn(request, tenant)
            except ApiError as exc:  # in the error shape of the endpoint's dialect
                return dialect_errors.error_response(self, request, exc)
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
            body = json.dumps(dialect_errors.crash_body(scope.get("path", ""), text)).encode()
            await send_wrapper({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
