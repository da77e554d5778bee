"""Fresh, unique prompts of an exact token length, for load phases.

Every request of a load phase gets its own prompt (a per-request nonce up front defeats
prompt caches) whose *rendered chat template* has exactly the workload's input token
count under the declared tokenizer — or the closest count below it when the tokenizer
cannot hit it exactly. Generation is seeded per (phase seed, sequence number), so a
resumed run regenerates the same prompts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Message = dict[str, str]

# Plain, common words: they tokenise predictably in every BPE vocabulary, and decode cleanly
# from any token prefix (no split multi-byte characters).
_WORDS = [
    "the",
    "service",
    "measures",
    "every",
    "token",
    "and",
    "each",
    "request",
    "carries",
    "a",
    "fresh",
    "prompt",
    "so",
    "caches",
    "cannot",
    "help",
    "latency",
    "throughput",
    "stability",
    "billing",
    "metering",
    "accuracy",
    "evidence",
    "certificate",
    "level",
    "threshold",
    "window",
    "stream",
    "chunk",
    "record",
    "client",
    "server",
    "gateway",
    "engine",
    "model",
    "output",
    "input",
    "price",
    "limit",
    "burst",
    "recovery",
    "quick",
    "standard",
    "review",
    "vendor",
    "buyer",
    "auditor",
    "region",
    "data",
    "time",
    "first",
    "second",
    "minute",
    "hour",
    "river",
    "mountain",
    "city",
    "garden",
    "library",
    "music",
    "paper",
    "light",
    "water",
    "stone",
    "cloud",
    "forest",
    "harbour",
    "market",
    "bridge",
    "station",
    "window",
    "letter",
    "number",
    "story",
]


@dataclass(frozen=True)
class PromptSpec:
    input_tokens: int
    system: str | None = None


class PromptFactory:
    """Builds unique messages whose prompt token count is exactly ``input_tokens``.

    ``count_messages`` must be the declared tokenizer over the declared chat template
    (with the generation prompt), i.e. what the service must bill as ``prompt_tokens``.
    """

    def __init__(
        self,
        count_messages: Callable[[Sequence[Message]], int],
        encode: Callable[[str], list[int]],
        decode: Callable[[list[int]], str],
        seed: int,
    ) -> None:
        self._count = count_messages
        self._encode = encode
        self._decode = decode
        self._seed = seed

    def _filler(self, rng: random.Random, approx_tokens: int) -> str:
        words = [rng.choice(_WORDS) for _ in range(max(8, approx_tokens * 2))]
        return " ".join(words)

    def make(self, seq: int, spec: PromptSpec) -> list[Message]:
        """Messages for request ``seq``; deterministic in (seed, seq, spec)."""
        rng = random.Random(f"{self._seed}:{seq}:{spec.input_tokens}")
        nonce = f"[req {seq:08d}-{rng.getrandbits(48):012x}]"
        ids = self._encode(self._filler(rng, spec.input_tokens))

        def build(k: int) -> list[Message]:
            content = nonce + " " + self._decode(ids[:k]).strip() if k > 0 else nonce
            msgs: list[Message] = []
            if spec.system is not None:
                msgs.append({"role": "system", "content": spec.system})
            msgs.append({"role": "user", "content": content})
            return msgs

        target = spec.input_tokens
        lo, hi = 0, len(ids)
        best = build(0)
        if self._count(best) > target:
            return best  # template overhead alone exceeds the target: smallest possible
        while lo <= hi:  # largest k whose prompt count is <= target
            mid = (lo + hi) // 2
            msgs = build(mid)
            n = self._count(msgs)
            if n <= target:
                best, lo = msgs, mid + 1
                if n == target:
                    break
            else:
                hi = mid - 1
        return self._top_up(best, target)

    def _top_up(self, msgs: list[Message], target: int) -> list[Message]:
        """Close a gap of a few tokens left by decode/re-encode boundaries."""
        n = self._count(msgs)
        for _ in range(8):
            if n >= target:
                break
            for piece in (" a", ".", " I", ",", " x", "!"):
                trial = [*msgs[:-1], {**msgs[-1], "content": msgs[-1]["content"] + piece}]
                m = self._count(trial)
                if n < m <= target:
                    msgs, n = trial, m
                    break
            else:
                break
        return msgs
