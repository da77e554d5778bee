"""Prompt cache accounting: block-granular prefix hashes, per tenant, bounded LRU."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence


class PromptCache:
    """Remembers prompt prefixes in blocks of ``block`` tokens.

    ``lookup_and_store`` returns how many leading tokens of the prompt were already cached
    for this namespace (a multiple of ``block``, 0 below ``min_tokens``), then records the
    prompt's own blocks. The namespace is the tenant, so tenants never share hits.
    """

    def __init__(self, block: int, min_tokens: int, max_entries: int) -> None:
        self.block = block
        self.min_tokens = min_tokens
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, None] = OrderedDict()

    def _keys(self, namespace: str, ids: Sequence[int]) -> list[bytes]:
        h = hashlib.sha256(namespace.encode())
        keys = []
        full = len(ids) // self.block
        for b in range(full):
            chunk = ids[b * self.block:(b + 1) * self.block]
            h.update(b"".join(int(t).to_bytes(4, "little") for t in chunk))
            keys.append(h.copy().digest())
        return keys

    def lookup_and_store(self, namespace: str, ids: Sequence[int]) -> int:
        if len(ids) < self.min_tokens:
            return 0
        keys = self._keys(namespace, ids)
        hit = 0
        for k in keys:
            if k not in self._entries:
                break
            hit += 1
        # never report the whole prompt as cached: the last token is always computed
        cached = min(hit * self.block, ((len(ids) - 1) // self.block) * self.block)
        for k in keys:
            self._entries[k] = None
            self._entries.move_to_end(k)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return cached if cached >= self.min_tokens else 0
