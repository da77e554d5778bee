"""Small real-HTTP helpers for the reference-service tests (httpx, monotonic timings)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.declaration.models import TokenizerRef
from conformance.reference.build_tokenizer import TEMPLATE_PATH, TOKENIZER_PATH
from conformance.reference.service import ReferenceService
from conformance.run.client import ChatParams, Client, ClientConfig
from conformance.run.records import RequestRecord
from conformance.run.tokenize import ChatTemplate, Tokenizer, load_tokenizer

MODEL = "tokencert-ref-1"
_TOK: Tokenizer | None = None


def tokenizer() -> Tokenizer:
    global _TOK
    if _TOK is None:
        _TOK = load_tokenizer(TokenizerRef("hf", TOKENIZER_PATH))
    return _TOK


def template() -> ChatTemplate:
    return ChatTemplate.from_file(TEMPLATE_PATH, eos_token="<|im_end|>")


def reference_count(messages: Sequence[Mapping[str, Any]] | Sequence[Any]) -> int:
    return tokenizer().count(template().render(messages))


def client(svc: ReferenceService, tenant: int = 0, **kw: Any) -> httpx.Client:
    return httpx.Client(base_url=svc.base_url, headers=svc.headers(tenant), verify=svc.verify,
                        timeout=60, **kw)


def body(content: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}


def post(svc: ReferenceService, payload: dict[str, Any] | bytes, tenant: int = 0,
         headers: dict[str, str] | None = None) -> httpx.Response:
    with client(svc, tenant) as c:
        if isinstance(payload, bytes):
            return c.post("/chat/completions", content=payload,
                          headers={"content-type": "application/json", **(headers or {})})
        return c.post("/chat/completions", json=payload, headers=headers)


def get(svc: ReferenceService, path: str, tenant: int = 0) -> httpx.Response:
    with client(svc, tenant) as c:
        return c.get(path)


@dataclass
class Stream:
    status: int
    headers: httpx.Headers
    lines: list[str] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    content_times: list[float] = field(default_factory=list)
    sent: float = 0.0
    done: bool = False

    @property
    def texts(self) -> list[str]:
        return [c["choices"][0]["delta"].get("content") or "" for c in self.chunks
                if c.get("choices") and c["choices"][0]["delta"].get("content")]

    @property
    def text(self) -> str:
        return "".join(self.texts)

    @property
    def usage(self) -> dict[str, Any] | None:
        for c in self.chunks:
            if c.get("usage"):
                return dict(c["usage"])
        return None

    @property
    def finish_reason(self) -> str | None:
        for c in self.chunks:
            for ch in c.get("choices") or []:
                if ch.get("finish_reason"):
                    return str(ch["finish_reason"])
        return None

    @property
    def ttft(self) -> float:
        return self.content_times[0] - self.sent

    @property
    def tpot(self) -> float:
        n = len(self.content_times)
        return (self.content_times[-1] - self.content_times[0]) / (n - 1) if n > 1 else 0.0

    @property
    def max_gap(self) -> float:
        t = self.content_times
        return max((b - a for a, b in itertools.pairwise(t)), default=0.0)


def stream(svc: ReferenceService, payload: dict[str, Any], tenant: int = 0,
           http: httpx.Client | None = None) -> Stream:
    payload = {**payload, "stream": True}
    c = http or client(svc, tenant)
    try:
        sent = time.perf_counter()
        with c.stream("POST", "/chat/completions", json=payload) as r:
            s = Stream(r.status_code, r.headers, sent=sent)
            if r.status_code != 200:
                r.read()
                s.lines = [r.text]
                return s
            for line in r.iter_lines():
                now = time.perf_counter()
                if not line:
                    continue
                s.lines.append(line)
                data = line.removeprefix("data:").strip()
                if data == "[DONE]":
                    s.done = True
                    continue
                obj = json.loads(data)
                s.chunks.append(obj)
                choices = obj.get("choices") or []
                if choices and choices[0].get("delta", {}).get("content"):
                    s.content_times.append(now)
            return s
    finally:
        if http is None:
            c.close()


def measured_chat(svc: ReferenceService, dialect: str, params: ChatParams,
                  key: str | None = None) -> RequestRecord:
    """One chat request through tokencert's own measuring client in ``dialect`` (the record
    the suites would judge); ``key`` replaces the service's key."""
    decl = svc.declaration()
    cfg = ClientConfig(base_url=svc.base_url, model=decl.models[0].id,
                       api_key=key if key is not None else svc.api_key, dialect=dialect,
                       ca_bundle=svc.ca_bundle)

    async def go() -> RequestRecord:
        async with Client(cfg) as c:
            rec = await c.chat(params, request_id=f"{dialect}-1")
        await asyncio.sleep(0.05)  # let the TLS transports finish closing before the loop ends
        return rec

    return asyncio.run(go())
