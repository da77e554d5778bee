"""The ``llama.cpp`` engine: llama.cpp's server in a child process, fed token ids.

The gateway renders and tokenizes the prompt with the declared tokenizer and sends the
token ids to llama.cpp's ``/completion`` endpoint, so the engine evaluates exactly the
tokens that are billed. Completion tokens are the engine's own generated-token count
(``tokens_predicted``, which includes the end-of-sequence token: declared ``eos_counted``);
re-encoding the text of a random model would not give that count back (METER-003).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx

from conformance._core.errors import RunError
from conformance.reference.config import ReferenceConfig
from conformance.reference.engine import EngineError, Finish, GenRequest, Token
from conformance.run.tokenize import Tokenizer

LLAMA_CONTEXT = 4096
_REASON = {"eos": "stop", "word": "stop", "limit": "length"}


class LlamaCppEngine:
    name = "llama.cpp"

    def __init__(self, tokenizer: Tokenizer, cfg: ReferenceConfig, gguf: Path | None = None,
                 seed: int = 0, parallel: int | None = None) -> None:
        self.gguf = gguf
        self.seed = seed
        self.parallel = parallel or max(cfg.gateway.max_concurrency, 1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.AsyncClient | None = None
        self._log_dir = Path(tempfile.mkdtemp(prefix="tokencert-llama-"))

    def _launch(self) -> str:
        from conformance.reference.build_gguf import ensure

        model = ensure(self.gguf)
        with (self._log_dir / "llama.log").open("wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "conformance.reference.llama_worker", "--model",
                 str(model), "--parallel", str(self.parallel), "--ctx", str(LLAMA_CONTEXT)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self._wait_url(120.0)

    def _shutdown(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self._log_dir, ignore_errors=True)

    async def start(self) -> None:
        url = await asyncio.to_thread(self._launch)
        self._client = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(300, connect=10),
                                         limits=httpx.Limits(max_connections=256))

    def _wait_url(self, timeout_s: float) -> str:
        assert self._proc is not None
        path = self._log_dir / "llama.log"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("LLAMA_LISTENING "):
                    return line.split(" ", 1)[1].strip()
            if self._proc.poll() is not None:
                raise RunError("llama.cpp server exited during start:\n"
                               + path.read_text(errors="replace")[-1500:])
            time.sleep(0.05)
        raise RunError("llama.cpp server did not start in time")

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await asyncio.to_thread(self._shutdown)

    def _body(self, req: GenRequest) -> dict[str, Any]:
        return {"prompt": list(req.prompt_ids), "n_predict": req.max_tokens, "stream": True,
                "stop": list(req.stop), "temperature": req.temperature,
                "seed": req.seed if req.seed is not None else self.seed,
                "cache_prompt": False, "return_tokens": True}

    async def generate(self, req: GenRequest) -> AsyncGenerator[Token | Finish, None]:
        if self._client is None:
            raise EngineError("engine not started")
        final: dict[str, Any] | None = None
        try:
            async with self._client.stream("POST", "/completion", json=self._body(req)) as r:
                if r.status_code != 200:
                    raise EngineError(f"llama.cpp answered {r.status_code}")
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    obj = json.loads(line[5:])
                    if obj.get("stop"):
                        final = obj
                        break
                    if obj.get("content"):
                        yield Token(obj["content"], n_tokens=len(obj.get("tokens") or [1]))
        except httpx.HTTPError as exc:
            raise EngineError(f"llama.cpp failed: {type(exc).__name__}") from None
        if final is None:
            raise EngineError("llama.cpp stream ended without a final message")
        yield Finish(_REASON.get(str(final.get("stop_type")), "stop"),
                     int(final.get("tokens_predicted", 0)))
