"""The declared vocabulary as bytes: what one token can decode to.

Metering audits delivered text against it (METER-003): a logprob entry must be the bytes of
one token of the declared vocabulary, and no token decodes to more bytes than the longest
one — the bound per token that re-tokenisation uses — so both come from the declared
tokenizer file, never from a hard-coded guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from conformance.run.tokenize.adapters import (
    HFTokenizer,
    SentencePieceTokenizer,
    TiktokenTokenizer,
    Tokenizer,
)

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@cache
def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's printable stand-in character of each byte, inverted (char → byte)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}


def _hf_byte_level(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    dec = doc.get("decoder") or {}
    kinds = {dec.get("type")} | {d.get("type") for d in dec.get("decoders") or []
                                 if isinstance(d, dict)}
    return "ByteLevel" in kinds


def _piece_bytes(piece: str, byte_level: bool) -> bytes:
    m = _BYTE_PIECE.match(piece)
    if m:
        return bytes([int(m.group(1), 16)])
    if byte_level:
        inv = _byte_level_decoder()
        if all(ch in inv for ch in piece):
            return bytes(inv[ch] for ch in piece)
    return piece.replace("\u2581", " ").encode("utf-8")


def token_bytes(tok: Tokenizer) -> list[bytes]:
    """The bytes each token id of ``tok`` decodes to (special tokens as their text)."""
    n = tok.vocab_size
    if isinstance(tok, TiktokenTokenizer):
        out: list[bytes] = []
        specials = {v: k.encode() for k, v in tok._special.items()}
        for i in range(n):
            try:
                out.append(tok._enc.decode_single_token_bytes(i))
            except KeyError:
                out.append(specials.get(i, b""))
        return out
    if isinstance(tok, HFTokenizer):
        bl = _hf_byte_level(tok.path)
        return [_piece_bytes(tok.id_to_token(i) or "", bl) for i in range(n)]
    if isinstance(tok, SentencePieceTokenizer):
        return [_piece_bytes(str(tok._sp.id_to_piece(i)), False) for i in range(n)]
    return [tok.decode([i]).encode("utf-8") for i in range(n)]


@dataclass(frozen=True)
class Vocabulary:
    """The declared vocabulary's byte strings and the longest one."""

    tokens: frozenset[bytes]
    max_token_bytes: int

    def __contains__(self, item: object) -> bool:
        return item in self.tokens

    @classmethod
    def of(cls, tok: Tokenizer) -> Vocabulary:
        bs = [b for b in token_bytes(tok) if b]
        return cls(frozenset(bs), max((len(b) for b in bs), default=1))
