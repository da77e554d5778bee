"""Shipped assets are reproducible: tokenizer.json and the tiny GGUF rebuild identically."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.reference import build_gguf, build_tokenizer
from conformance.reference.build_tokenizer import SPECIAL_TOKENS, TOKENIZER_PATH
from conformance.run.tokenize import HFTokenizer


def test_tokenizer_rebuilds_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "tokenizer.json"
    assert build_tokenizer.main(["--out", str(out)]) == 0
    assert out.read_bytes() == TOKENIZER_PATH.read_bytes()


def test_tokenizer_shape() -> None:
    tok = HFTokenizer(TOKENIZER_PATH)
    assert 6000 <= tok.vocab_size <= 8192
    assert [tok.token_to_id(s) for s in SPECIAL_TOKENS] == [0, 1, 2]
    for text in ["令牌服务", "トークン", "def main():", "👍🏽"]:
        assert tok.decode(tok.encode(text)) == text
    assert tok.count("令牌服务按令牌计费") < len("令牌服务按令牌计费".encode())  # learned CJK


def test_gguf_is_deterministic(tmp_path: Path) -> None:
    a = build_gguf.build(tmp_path / "a.gguf")
    b = build_gguf.build(tmp_path / "b.gguf")
    assert a.read_bytes() == b.read_bytes()
    gguf = pytest.importorskip("gguf")
    reader = gguf.GGUFReader(str(a))
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "blk.1.ffn_down.weight", "output.weight"} <= names
    ctx = reader.fields["llama.context_length"]
    assert int(ctx.parts[ctx.data[0]][0]) == 4096
    heads = reader.fields["llama.attention.head_count"]
    assert 128 // int(heads.parts[heads.data[0]][0]) == 64  # head_dim 64
