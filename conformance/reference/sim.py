"""The simulated engine: deterministic text from the tokenizer vocabulary and a latency
model that behaves like continuous batching (see :class:`~.config.SimConfig`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections import deque
from collections.abc import AsyncGenerator

from conformance.reference.config import SimConfig
from conformance.reference.engine import Finish, GenRequest, Token
from conformance.run.tokenize import Tokenizer

_WORD = re.compile(r" [^\W\d_]{2,}")


def word_tokens(tokenizer: Tokenizer) -> list[tuple[int, str]]:
    """Vocabulary entries that are a space plus letters and re-encode to themselves.

    Text made of such tokens re-tokenizes to exactly the generated sequence, so the
    delivered text and the billed count agree however the client checks them.
    """
    out: list[tuple[int, str]] = []
    for tid in range(tokenizer.vocab_size):
        text = tokenizer.decode([tid])
        if _WORD.fullmatch(text) and tokenizer.encode(text) == [tid]:
            out.append((tid, text))
    if len(out) < 16:
        raise ValueError("the tokenizer has too few word tokens to simulate text")
    return out


def _text_seed(req: GenRequest) -> int:
    basis: dict[str, object] = {"messages": list(map(dict, req.messages)), "seed": req.seed}
    if req.seed is None and req.temperature > 0:
        basis["request"] = req.request_id  # sampling without a seed is not reproducible
    blob = json.dumps(basis, sort_keys=True, ensure_ascii=False, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


class SimEngine:
    """Continuous-batching simulator: ``capacity`` slots, FIFO queue, seeded jitter."""

    name = "sim"

    def __init__(self, cfg: SimConfig, tokenizer: Tokenizer, seed: int = 0) -> None:
        self.cfg = cfg
        self._words = word_tokens(tokenizer)
        self._seed = seed
        self._counter = 0
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def _acquire(self) -> None:
        if self.active < self.cfg.capacity and not self._waiters:
            self.active += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # the releasing request hands its slot over (active unchanged)
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()
            else:
                self._waiters.remove(fut)
            raise

    def _release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.active -= 1

    async def generate(self, req: GenRequest) -> AsyncGenerator[Token | Finish, None]:
        cfg, p = self.cfg, req.perturb
        self._counter += 1
        jit = random.Random(f"{self._seed}:{self._counter}")
        rng = random.Random(_text_seed(req))
        if req.max_tokens_requested:
            n, reason = req.max_tokens, "length"
        else:
            n = min(rng.randint(cfg.natural_min_tokens, cfg.natural_max_tokens), req.max_tokens)
            reason = "stop" if n < req.max_tokens else "length"
        growth = cfg.tpot_growth if p.tpot_growth is None else p.tpot_growth
        loop = asyncio.get_running_loop()
        await self._acquire()
        try:
            uncached = max(len(req.prompt_ids) - req.cached_tokens, 0)
            ttft = cfg.base_ttft_ms + cfg.prefill_ms_per_token * uncached
            deadline = loop.time() + (ttft * self._jitter(jit) + p.extra_ttft_ms) / 1000.0
            text = ""
            thinking = min(cfg.reasoning_tokens, max(n - 1, 0))
            for i in range(1, n + 1):
                if i > 1:
                    tpot = cfg.tpot_ms * (1.0 + growth * (self.active - 1)) * p.tpot_factor
                    deadline += tpot * self._jitter(jit) / 1000.0
                    if p.stall_at_token and i == p.stall_at_token:
                        deadline += p.stall_ms / 1000.0
                delay = deadline - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tid, piece = self._words[rng.randrange(len(self._words))]
                logprob = -round(rng.random() * 2.0, 4)
                if i <= thinking:  # reasoning: never the answer, never stopped by `stop`
                    yield Token(piece, tid, logprob if req.logprobs else None, reasoning=True)
                    continue
                hit = _stop_hit(text, piece, req.stop)
                if hit:
                    yield Finish("stop", i - 1)
                    return
                text += piece
                yield Token(piece, tid, logprob if req.logprobs else None)
            eos = 1 if (reason == "stop" and cfg.eos_counted) else 0
            yield Finish(reason, n + eos)
        finally:
            self._release()

    def _jitter(self, rng: random.Random) -> float:
        j = self.cfg.jitter
        return 1.0 + (rng.uniform(-j, j) if j > 0 else 0.0)


def _stop_hit(text: str, piece: str, stops: tuple[str, ...]) -> bool:
    """Would emitting ``piece`` complete a stop string? (Checked at token boundaries.)"""
    if not stops:
        return False
    joined = text + piece
    tail_from = max(len(text) - max(len(s) for s in stops), 0)
    return any(s and s in joined[tail_from:] for s in stops)
