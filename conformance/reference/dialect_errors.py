"""Errors and authentication per dialect: the error body each endpoint answers with, the
hint a refused key gets, and the dialect defects that act there (issue 17).

``/v1/messages`` answers Anthropic errors (``{"type": "error", "error": {type, message}}``)
and reads its key from ``x-api-key``; ``/v1/responses`` and ``/v1/chat/completions`` answer
OpenAI errors and read ``Authorization: Bearer``.
"""

from __future__ import annotations

import traceback
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from conformance.reference.chat import ApiError
from conformance.reference.state import ServiceState, Tenant

MESSAGES = "/v1/messages"
RESPONSES = "/v1/responses"
GENERIC_500 = "The server had an error while processing your request. Sorry about that!"


def anthropic_error(exc: ApiError) -> dict[str, Any]:
    kind = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
            413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}
    t = kind.get(exc.status, "api_error" if exc.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": t, "message": exc.message}}


def error_response(gw: ServiceState, request: Request, exc: ApiError) -> Response:
    """``exc`` in the error shape of the endpoint ``request`` was sent to."""
    path, d = request.url.path, gw.defects
    if path == MESSAGES and "anthropic_error_shape" not in d:
        body = anthropic_error(exc)
        if "anthropic_stack_traces" in d:
            body["error"]["message"] += "\nTraceback (most recent call last):\n" + "".join(
                traceback.format_stack(limit=6))
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)
    if path == RESPONSES and "responses_error_shape" in d:  # a bare string, no object
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)
    return gw.error_response(exc)


def crash_body(path: str, text: str = GENERIC_500) -> dict[str, Any]:
    """The body of an unexpected 500 at ``path``."""
    if path == MESSAGES:
        return {"type": "error", "error": {"type": "api_error", "message": text}}
    return {"error": {"message": text, "type": "server_error", "param": None, "code": None}}


def refused(gw: ServiceState, request: Request) -> ApiError:
    """The 401 of a missing or wrong key, with the hint of the endpoint's key header."""
    path, d = request.url.path, gw.defects
    if path == MESSAGES:
        msg = "Invalid or missing API key. Send it in the 'x-api-key' header."
        if "anthropic_echo_key" in d:
            msg += f" Received x-api-key: {request.headers.get('x-api-key', '')!r}."
    else:
        msg = "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'."
        if path == RESPONSES and "responses_echo_key" in d:
            msg += f" Received: {request.headers.get('authorization', '')!r}."
    return ApiError(401, msg, code="invalid_api_key")


def bypass(gw: ServiceState, request: Request) -> Tenant | None:
    """The tenant a dialect defect lets in without a valid key (None: nobody)."""
    path, d = request.url.path, gw.defects
    first = next(iter(gw.tenants.values()))
    if path == RESPONSES and "responses_no_auth" in d:
        return first
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if (path == MESSAGES and "anthropic_bearer_bypass" in d and scheme.lower() == "bearer"
            and token.strip()):
        return first  # only x-api-key is checked: any bearer token passes
    return None


def crash_on_bad_input(gw: ServiceState, path: str, body: Any) -> None:
    """The dialect defects that crash (500) on a wrongly typed part of a valid request."""
    if not isinstance(body, dict):
        return
    d = gw.defects
    if path == MESSAGES and "anthropic_crash_on_bad_input" in d:
        for m in body.get("messages") or []:
            if isinstance(m, dict) and isinstance(m.get("content"), dict):
                raise TypeError("content block is not a list")
    if path == RESPONSES and "responses_crash_on_bad_input" in d:
        inp = body.get("input")
        if isinstance(inp, list) and any(not isinstance(m, dict) for m in inp):
            raise AttributeError("input item has no attribute 'get'")
