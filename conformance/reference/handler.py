"""``POST /v1/chat/completions``: validate, meter, limit, generate, answer (JSON or SSE)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import time
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from conformance.reference.chat import (
    SSE_DONE,
    ApiError,
    ChatParams,
    Usage,
    chunk,
    completion_body,
    logprob_entry,
    parse_chat,
    parse_json,
    sse,
    usage_chunk,
)
from conformance.reference.engine import (
    EngineError,
    Finish,
    GenRequest,
    Perturb,
    Token,
    perturbed,
)
from conformance.reference.limits import Refusal, retry_after_header
from conformance.reference.state import ServiceState, Tenant
from conformance.run.tokenize.template import TemplateRaised

HIDDEN_SYSTEM_PROMPT = ("You are a helpful assistant operated by the reference service. "
                        "Answer concisely and politely.")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WS = re.compile(r"\s+")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The request body exceeds the {limit}-byte limit.",
                       code="request_too_large")
    chunks, size = [], 0
    try:
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise ApiError(413, f"The request body exceeds the {limit}-byte limit.",
                               code="request_too_large")
            chunks.append(part)
    except ClientDisconnect:
        raise ApiError(400, "The request body was incomplete.", code="incomplete_body") from None
    return b"".join(chunks)


class Slot:
    """A held concurrency slot; releasing twice is harmless."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._held = True

    async def release(self) -> None:
        if self._held:
            self._held = False
            await self._tenant.limits.leave()


def too_many(gw: ServiceState, tenant: Tenant, refusal: Refusal) -> ApiError:
    gw.last_overload = time.monotonic()
    headers: dict[str, str] = {}
    rate = refusal.code == "rate_limit_exceeded"  # rpm/tpm, not the concurrency gate
    if "no_retry_after" not in gw.defects and not (
            rate and "no_retry_after_rate_limit" in gw.defects):
        headers = {"retry-after": retry_after_header(refusal.retry_after_s),
                   **tenant.limits.headers()}
    return ApiError(429, refusal.message, "rate_limit_error", refusal.code, headers=headers)


# html_200: what a misrouted proxy or a login wall sends instead of an answer
HTML_PAGE = ("<!doctype html><html><head><title>Service</title></head><body><h1>Welcome"
             "</h1><p>Please sign in to continue.</p></body></html>")
EPISODE_EXTRA_MS = 2000.0  # latency_episode: TTFT added during a degraded span
SLOW_MINORITY_TPOT_MS = 300.0  # slow_minority: per-token time of its slow requests


TTFT_SPIKE_MS = 5500.0  # ttft_spikes: the wait added before a spiked request's first token


def _every(k: float) -> int:
    """A "one request in PARAM" defect's period, rounded (PARAM below 1 is every request)."""
    return max(1, round(k))


def _hit(gw: ServiceState, defect: str, n: int, every: float | None = None) -> bool:
    """Is ``defect`` on and request ``n`` its faulty one (one in ``every``, default its
    PARAM) at the seeded position of its block?"""
    if defect not in gw.defects:
        return False
    k = _every(gw.defects.param(defect) if every is None else every)
    return gw.faulty_at(defect, n, k)


def perturbation(gw: ServiceState, n: int, prompt_len: int) -> Perturb:
    d, extra, factor, stall_ms, growth = gw.defects, 0.0, 1.0, 0.0, None
    if _hit(gw, "ttft_spikes", n):
        extra += TTFT_SPIKE_MS
    if "slow_tokens" in d:
        factor = d.param("slow_tokens")
    if "midstream_stall" in d:
        stall_ms = d.param("midstream_stall")
    if _hit(gw, "slow_minority", n):
        factor = SLOW_MINORITY_TPOT_MS / gw.cfg.sim.tpot_ms
    if "poor_scaling" in d:
        growth = d.param("poor_scaling")
    if "slow_long_prefill" in d and prompt_len > 4096:
        extra += d.param("slow_long_prefill") * (prompt_len - 4096)
    if "slow_recovery" in d and time.monotonic() - gw.last_overload < 120:
        extra += d.param("slow_recovery")
    if "latency_episode" in d and int(gw.uptime() // d.param("latency_episode")) % 3 == 1:
        extra += EPISODE_EXTRA_MS
    return Perturb(extra, factor, 10 if stall_ms else 0, stall_ms, growth)


def billed_prompt(gw: ServiceState, rendered: str, ids: list[int]) -> int:
    d, count = gw.defects, len(ids)
    if "cjk_overcount" in d and _CJK.search(rendered):
        count = math.ceil(count * 1.1)
    if "cjk_off_by_one" in d and _CJK.search(rendered):
        count += int(d.param("cjk_off_by_one"))
    if "tokenizer_substitution" in d:
        count = gw.tokenizer.count(_WS.sub(" ", unicodedata.normalize("NFKC", rendered)))
    return count


def refuse_probe(gw: ServiceState, tenant: Tenant, p: ChatParams, share: float) -> None:
    """refused_audit_probes: a gaming vendor refuses the probes that would expose it, the
    same prompt always the same way (retrying does not help): a 429 with Retry-After that
    looks like rate limiting, or a 500."""
    h = int(hashlib.sha256(json.dumps(p.messages, sort_keys=True).encode()).hexdigest(), 16)
    if (h % 1000) / 1000.0 >= share:
        return
    if h % 2:
        raise ApiError(500, "The server had an error while processing your request.",
                       "server_error")
    raise too_many(gw, tenant, Refusal("Rate limit reached for requests.",
                                       "rate_limit_exceeded", 1.0))


def hidden_tokens(gw: ServiceState, n: int) -> list[int]:
    """``n`` token ids of the hidden system prompt (repeated as needed): a hidden prefix of
    an exact length, evaluated by the engine and billed."""
    base = gw.tokenizer.encode(HIDDEN_SYSTEM_PROMPT)
    return (base * (n // len(base) + 1))[:n]


def usage_for(gw: ServiceState, p: ChatParams, prompt: int, cached: int, finish: Finish,
              stream: bool, reasoning: int = 0) -> Usage:
    d, completion = gw.defects, finish.completion_tokens
    if "completion_inflated" in d:
        completion += int(d.param("completion_inflated"))
    if "bill_beyond_cap" in d and finish.reason == "length" and p.max_tokens is not None:
        completion = p.max_tokens + 1
    if "inflated_length_cut" in d and finish.reason == "length" and p.max_tokens is not None:
        completion = p.max_tokens + int(d.param("inflated_length_cut"))
    if "padded_logprobs" in d and p.logprobs:
        completion += int(d.param("padded_logprobs"))
    if "stream_usage_differs" in d and stream:
        completion += 1
    return Usage(prompt, completion, cached, 1 if "inconsistent_usage" in d else 0, reasoning)


async def chat_completions(gw: ServiceState, request: Request, tenant: Tenant) -> Response:
    d, g = gw.defects, gw.cfg.gateway
    rid = request.scope["state"]["request_id"]
    n = gw.next_index()
    if "html_200" in d:
        return Response(HTML_PAGE, status_code=200, media_type="text/html")
    if "dies_after" in d and gw.uptime() > d.param("dies_after"):
        raise ApiError(503, "The service is temporarily unavailable.", "server_error",
                       "service_unavailable")
    raw = await read_body(request, g.max_body_bytes)
    if "crash_on_nul_byte" in d and b"\x00" in raw:
        raise RuntimeError("NUL byte in the request body")
    try:
        body = parse_json(raw)
    except ApiError:
        if "server_error_on_bad_json" in d:
            raise RuntimeError("JSON decoding failed") from None
        raise
    if ("crash_on_bad_input" in d and isinstance(body, dict)
            and not isinstance(body.get("messages"), list)):
        raise TypeError("messages is not a list")
    p = parse_chat(body, g.max_output_tokens)
    if not gw.accepts_model(p.model):
        raise ApiError(404, f"The model '{p.model}' does not exist or you do not have access "
                       "to it.", code="model_not_found", param="model")
    if "refused_audit_probes" in d and p.max_tokens == 1:
        refuse_probe(gw, tenant, p, d.param("refused_audit_probes"))
    msgs: list[dict[str, Any]] = p.messages
    if "hidden_system_prompt" in d:
        msgs = [{"role": "system", "content": HIDDEN_SYSTEM_PROMPT}, *msgs]
    try:
        rendered = gw.template.render(msgs)
    except TemplateRaised as exc:
        raise ApiError(400, exc.message, param="messages") from None
    ids = gw.tokenizer.encode(rendered)
    if "hidden_token" in d:
        ids = hidden_tokens(gw, int(d.param("hidden_token"))) + ids
    need = len(ids) + (p.max_tokens or 1)
    if need > g.context_window:
        if "silent_truncation" not in d:
            raise ApiError(400, f"This model's maximum context length is {g.context_window} "
                           f"tokens. However, your messages resulted in {len(ids)} tokens"
                           + (f" and {p.max_tokens} in the completion" if p.max_tokens else "")
                           + ". Please reduce the length of the messages.",
                           code="context_length_exceeded", param="messages")
        ids = ids[len(ids) - (g.context_window - (p.max_tokens or 1)):]
        rendered = gw.tokenizer.decode(ids)
    prompt = billed_prompt(gw, rendered, ids)
    max_tokens = p.max_tokens or min(g.max_output_tokens, g.context_window - len(ids))
    lim = tenant.limits
    if "no_rate_limit" not in d:
        refusal = lim.admit(prompt + (p.max_tokens or 0))
        if refusal:
            raise too_many(gw, tenant, refusal)
        refusal = await lim.enter(g.queue_timeout_s)
        if refusal:
            if "5xx_under_load" in d:
                gw.last_overload = time.monotonic()
                raise ApiError(503, "The server is overloaded.", "server_error", "overloaded")
            raise too_many(gw, tenant, refusal)
    else:
        lim.in_flight += 1
    slot = Slot(tenant)
    try:
        return await _answer(gw, slot, tenant, p, rid, n, rendered, ids, prompt, max_tokens)
    except BaseException:
        await slot.release()
        raise


async def _answer(gw: ServiceState, slot: Slot, tenant: Tenant, p: ChatParams, rid: str,
                  n: int, rendered: str, ids: list[int], prompt: int,
                  max_tokens: int) -> Response:
    d = gw.defects
    cached = 0
    if gw.cache is not None and "cache_never_hits" not in d:
        namespace = "shared" if "shared_prompt_cache" in d else tenant.name
        cached = gw.cache.lookup_and_store(namespace, ids)
    extra = int(d.param("ignore_max_tokens")) if "ignore_max_tokens" in d and p.max_tokens else 0
    req = GenRequest(
        request_id=rid, model=p.model, prompt_text=rendered, prompt_ids=ids,
        messages=p.messages, max_tokens=max_tokens + extra,
        max_tokens_requested=p.max_tokens is not None,
        stop=() if "ignore_stop" in d else p.stop, seed=p.seed, temperature=p.temperature,
        cached_tokens=cached, logprobs=p.logprobs, top_logprobs=p.top_logprobs,
        perturb=perturbation(gw, n, len(ids)))
    model_out = "tokencert-other-model" if "wrong_model_field" in d else p.model
    body_id = "chatcmpl-ref" if "no_request_id" in d else f"chatcmpl-{rid}"
    if _hit(gw, "random_5xx", n):
        raise ApiError(500, "The server had an error while processing your request.",
                       "server_error")
    if _hit(gw, "bills_5xx", n, 20):
        if gw.billing is not None:
            gw.billing.record(body_id, tenant.name, p.model, prompt, cached, 0, 503,
                              x_request_id=f"req_{rid}")
        raise ApiError(503, "The engine is unavailable.", "server_error", "engine_unavailable")
    headers = gw.common_headers(tenant)
    if p.stream:
        return StreamingResponse(
            _stream(gw, slot, tenant, p, req, body_id, model_out, n, prompt, cached),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"})
    texts, lps, finish, thought = [], [], Finish("stop", 0), []
    try:
        async with contextlib.aclosing(_events(gw, req)) as events:
            async for ev in events:
                if isinstance(ev, Token) and ev.reasoning:
                    thought.append(ev.text)
                elif isinstance(ev, Token):
                    texts.append(ev.text)
                    if ev.logprob is not None:
                        lps.append(logprob_entry(ev.text, ev.logprob))
                else:
                    finish = ev
    except EngineError:
        raise ApiError(502, "The inference engine failed; please retry.", "server_error",
                       "engine_error") from None
    finally:
        await slot.release()
    if "padded_logprobs" in d and lps:
        lps += [lps[-1]] * int(d.param("padded_logprobs"))
    usage = usage_for(gw, p, prompt, cached, finish, stream=False, reasoning=len(thought))
    _settle(gw, tenant, body_id, p.model, usage, rid)
    out = completion_body(body_id, model_out, "".join(texts), finish.reason,
                          None if _hit(gw, "no_usage", n, 10) else usage,
                          lps if p.logprobs else None)
    if thought:
        out["choices"][0]["message"]["reasoning_content"] = "".join(thought)
    if "malformed_response" in d:
        out.pop("object")
        out.pop("created")
        out["choices"][0]["message"].pop("role")
    return JSONResponse(out, headers=headers)


def _events(gw: ServiceState, req: GenRequest) -> AsyncGenerator[Token | Finish, None]:
    events = gw.engine.generate(req)
    return events if gw.engine.name == "sim" else perturbed(events, req.perturb)


def _settle(gw: ServiceState, tenant: Tenant, body_id: str, model: str, usage: Usage,
            rid: str) -> None:
    tenant.limits.tokens.charge(usage.completion_tokens)
    if gw.billing is not None:
        gw.billing.record(body_id, tenant.name, model, usage.prompt_tokens, usage.cached_tokens,
                          usage.completion_tokens, 200,
                          times=2 if "double_billing" in gw.defects else 1,
                          x_request_id=f"req_{rid}")


async def _stream(gw: ServiceState, slot: Slot, tenant: Tenant, p: ChatParams, req: GenRequest,
                  body_id: str, model_out: str, n: int, prompt: int,
                  cached: int) -> AsyncIterator[bytes]:
    d = gw.defects
    created = int(time.time())
    cut = _hit(gw, "truncated_streams", n)
    cut_after = max(req.max_tokens // 2, 1) if cut else 0
    finish, count, last_lp, thought = Finish("stop", 0), 0, None, 0
    try:
        yield sse(chunk(body_id, model_out, created, {"role": "assistant", "content": ""}))
        async with contextlib.aclosing(_events(gw, req)) as events:
            async for ev in events:
                if isinstance(ev, Finish):
                    finish = ev
                    continue
                count += 1
                if ev.reasoning:
                    thought += 1
                    yield sse(chunk(body_id, model_out, created, {"reasoning_content": ev.text}))
                    continue
                lp = ({"content": [logprob_entry(ev.text, ev.logprob)]}
                      if p.logprobs and ev.logprob is not None else None)
                last_lp = lp or last_lp
                yield sse(chunk(body_id, model_out, created, {"content": ev.text}, None, lp))
                if cut_after and count >= cut_after:
                    return
        if "padded_logprobs" in d and last_lp is not None:
            pad = last_lp["content"] * int(d.param("padded_logprobs"))
            yield sse(chunk(body_id, model_out, created, {"content": ""}, None,
                            {"content": pad}))
        yield sse(chunk(body_id, model_out, created, {}, finish.reason))
        usage = usage_for(gw, p, prompt, cached, finish, stream=True, reasoning=thought)
        if p.include_usage and "no_stream_usage" not in d:
            yield sse(usage_chunk(body_id, model_out, created, usage))
        if "missing_done" not in d:
            yield SSE_DONE
        _settle(gw, tenant, body_id, p.model, usage, req.request_id)
    except EngineError:
        yield sse({"error": {"message": "The inference engine failed mid-stream.",
                             "type": "server_error", "param": None, "code": "engine_error"}})
    finally:
        await slot.release()
