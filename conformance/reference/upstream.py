"""``upstream:URL``: forward to any OpenAI-compatible engine; the gateway still meters.

The gateway renders and counts the prompt with the declared tokenizer and template; the
upstream renders its own. Completion tokens are the upstream's reported count (falling
back to the number of content chunks when it reports none).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from conformance.reference.engine import EngineError, Finish, GenRequest, Token
from conformance.run.tokenize import Tokenizer

UPSTREAM_KEY_ENV = "TOKENCERT_UPSTREAM_API_KEY"


class UpstreamEngine:
    name = "upstream"

    def __init__(self, url: str, tokenizer: Tokenizer, model: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        key = os.environ.get(UPSTREAM_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers,
                                         timeout=httpx.Timeout(300, connect=10),
                                         limits=httpx.Limits(max_connections=512))

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _body(self, req: GenRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model or req.model, "messages": list(map(dict, req.messages)),
            "max_tokens": req.max_tokens, "stream": True,
            "stream_options": {"include_usage": True}, "temperature": req.temperature}
        if req.stop:
            body["stop"] = list(req.stop)
        if req.seed is not None:
            body["seed"] = req.seed
        return body

    async def generate(self, req: GenRequest) -> AsyncGenerator[Token | Finish, None]:
        assert self._client is not None, "start() first"
        chunks, reported, reason = 0, None, "stop"
        try:
            async with self._client.stream("POST", "/chat/completions",
                                           json=self._body(req)) as resp:
                if resp.status_code != 200:
                    raise EngineError(f"upstream answered {resp.status_code}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    obj = json.loads(data)
                    if obj.get("usage"):
                        reported = obj["usage"].get("completion_tokens")
                    for choice in obj.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            chunks += 1
                            yield Token(text)
                        if choice.get("finish_reason"):
                            reason = choice["finish_reason"]
        except httpx.HTTPError as exc:
            raise EngineError(f"upstream failed: {type(exc).__name__}") from None
        yield Finish(reason, int(reported) if isinstance(reported, int) else chunks)
