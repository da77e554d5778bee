"""Tokenizer adapters: one small interface over HF tokenizers, tiktoken and SentencePiece.

Every adapter reads a local file only (no network, no hub). Special tokens that appear
in text (a rendered chat template contains ``<|im_start|>`` and friends) are encoded as
the special token, exactly as a serving stack does after rendering its template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from conformance._core.errors import DeclarationError, Problem
from conformance.declaration.models import TokenizerRef


@runtime_checkable
class Tokenizer(Protocol):
    """What metering needs from a tokenizer."""

    kind: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def count(self, text: str) -> int: ...

    @property
    def vocab_size(self) -> int: ...

    def token_to_id(self, token: str) -> int | None: ...


class HFTokenizer:
    """A Hugging Face ``tokenizer.json`` (``tokenizers`` library)."""

    kind = "hf"

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as _HF

        self.path = path
        self._tok = _HF.from_file(str(path))

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tok.decode(list(ids), skip_special_tokens=False))

    def count(self, text: str) -> int:
        return len(self.encode(text))

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def token_to_id(self, token: str) -> int | None:
        tid = self._tok.token_to_id(token)
        return None if tid is None else int(tid)

    def id_to_token(self, tid: int) -> str | None:
        tok = self._tok.id_to_token(tid)
        return None if tok is None else str(tok)


class TiktokenTokenizer:
    """A tiktoken BPE rank file plus the declared split pattern and special tokens."""

    kind = "tiktoken"

    def __init__(self, path: Path, pattern: str, special_tokens: Mapping[str, int]) -> None:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        self.path = path
        ranks = load_tiktoken_bpe(str(path))
        self._enc = tiktoken.Encoding(
            name=f"declared:{path.name}",
            pat_str=pattern,
            mergeable_ranks=ranks,
            special_tokens=dict(special_tokens),
        )
        self._special = dict(special_tokens)

    def encode(self, text: str) -> list[int]:
        return list(self._enc.encode(text, allowed_special="all"))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._enc.decode(list(ids)))

    def count(self, text: str) -> int:
        return len(self.encode(text))

    @property
    def vocab_size(self) -> int:
        return int(self._enc.n_vocab)

    def token_to_id(self, token: str) -> int | None:
        if token in self._special:
            return self._special[token]
        try:
            return int(self._enc.encode_single_token(token.encode()))
        except KeyError:
            return None


class SentencePieceTokenizer:
    """A SentencePiece ``.model`` file.

    SentencePiece itself never matches control pieces (``<s>``, ``</s>``) in text, but a
    serving stack does after rendering a template that writes ``bos_token``: control pieces
    and declared special tokens are split out and encoded as their ids, and the text
    between them is encoded segment by segment (what HF's Llama-style tokenizers do).
    """

    kind = "sentencepiece"

    def __init__(self, path: Path, special_tokens: Mapping[str, int] | None = None) -> None:
        import sentencepiece as spm

        self.path = path
        self._sp = spm.SentencePieceProcessor(model_file=str(path))
        specials = {
            str(self._sp.id_to_piece(i)): i
            for i in range(self._sp.get_piece_size())
            if self._sp.is_control(i)
        }
        specials.update(special_tokens or {})
        self._special = {k: v for k, v in specials.items() if k}
        self._split = (
            re.compile(
                "("
                + "|".join(re.escape(k) for k in sorted(self._special, key=len, reverse=True))
                + ")"
            )
            if self._special
            else None
        )

    def encode(self, text: str) -> list[int]:
        if self._split is None:
            return [int(i) for i in self._sp.encode(text)]
        out: list[int] = []
        for part in self._split.split(text):
            if part in self._special:
                out.append(self._special[part])
            elif part:
                out.extend(int(i) for i in self._sp.encode(part))
        return out

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._sp.decode(list(ids)))

    def count(self, text: str) -> int:
        return len(self.encode(text))

    @property
    def vocab_size(self) -> int:
        return int(self._sp.get_piece_size())

    def token_to_id(self, token: str) -> int | None:
        if token in self._special:
            return self._special[token]
        tid = int(self._sp.piece_to_id(token))
        return None if tid == self._sp.unk_id() and token != self._sp.id_to_piece(tid) else tid


def load_tokenizer(ref: TokenizerRef) -> Tokenizer:
    """Open the declared tokenizer. Errors say which file and why, never a traceback."""
    path = Path(ref.path)
    if not path.is_file():
        raise DeclarationError(
            f"tokenizer file not found: {path}",
            [Problem(f"no such file: {path}", hint="check tokenizer.path")],
        )
    try:
        if ref.kind == "hf":
            return HFTokenizer(path)
        if ref.kind == "tiktoken":
            if not ref.pattern:
                raise DeclarationError(
                    "a tiktoken tokenizer needs its split pattern",
                    [
                        Problem(
                            "tokenizer.pattern is missing",
                            hint="copy pat_str of the encoding into tokenizer.pattern",
                        )
                    ],
                )
            return TiktokenTokenizer(path, ref.pattern, ref.special_tokens)
        if ref.kind == "sentencepiece":
            return SentencePieceTokenizer(path, ref.special_tokens)
    except DeclarationError:
        raise
    except Exception as exc:  # the libraries raise assorted types for unreadable files
        raise DeclarationError(
            f"cannot load {ref.kind} tokenizer from {path}: {type(exc).__name__}: {exc}",
            [
                Problem(
                    f"{path} is not a valid {ref.kind} tokenizer file",
                    hint="tokenizer.kind must match the file (hf: tokenizer.json, "
                    "tiktoken: .tiktoken rank file, sentencepiece: .model)",
                )
            ],
        ) from None
    raise DeclarationError(
        f"unknown tokenizer kind {ref.kind!r}",
        [Problem(f"kind {ref.kind!r}", hint="use hf, tiktoken or sentencepiece")],
    )
