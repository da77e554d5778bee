"""The three tokenizer kinds, each from a real local file (built here for tiktoken and
SentencePiece), with special tokens encoded as special tokens."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from conformance._core.errors import DeclarationError
from conformance.declaration.models import TokenizerRef
from conformance.reference.build_tokenizer import CORPUS, TOKENIZER_PATH
from conformance.run.tokenize import (
    HFTokenizer,
    SentencePieceTokenizer,
    TiktokenTokenizer,
    Tokenizer,
    load_tokenizer,
)

SAMPLES = [
    "Hello, world! The quick brown fox.",
    "令牌服务按令牌计费。",
    "トークンサービスはテキストを販売します。",
    "def f(x):\n    return x ** 2  # square\n",
    "👍🏽 ✅ 🇨🇳 👨‍👩‍👧‍👦",
    "  whitespace\t\truns\n\n\n and digits 1234567890 ",
]
GPT2_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


@pytest.fixture(scope="module")
def hf() -> Tokenizer:
    return load_tokenizer(TokenizerRef("hf", TOKENIZER_PATH))


@pytest.fixture(scope="module")
def tiktoken_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rank file: all 256 bytes, then a few merges learned by hand from a tiny vocabulary."""
    merges = [b"th", b"the", b" the", b"he", b"ll", b"llo", b"hello", b" w", b" wo", b" wor",
              b"or", b"orl", b"orld", b" world"]
    ranks = [bytes([i]) for i in range(256)] + merges
    path = tmp_path_factory.mktemp("tiktoken") / "tiny.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n"
                            for i, t in enumerate(ranks)))
    return path


@pytest.fixture(scope="module")
def sp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import sentencepiece as spm

    text = "\n".join((CORPUS / n).read_text(encoding="utf-8") for n in ("en.txt", "zh.txt"))
    path = tmp_path_factory.mktemp("sp") / "tiny.model"
    with path.open("wb") as fh:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(text.splitlines()), model_writer=fh, vocab_size=1500,
            character_coverage=1.0, byte_fallback=True, model_type="bpe",
            user_defined_symbols=["<|im_start|>", "<|im_end|>"], minloglevel=2,
            num_threads=1)
    return path


@pytest.mark.parametrize("text", SAMPLES)
def test_hf_round_trip(hf: Tokenizer, text: str) -> None:
    ids = hf.encode(text)
    assert hf.decode(ids) == text
    assert hf.count(text) == len(ids) > 0


def test_hf_special_tokens_are_single_ids(hf: Tokenizer) -> None:
    start, end = hf.token_to_id("<|im_start|>"), hf.token_to_id("<|im_end|>")
    assert start is not None and end is not None
    ids = hf.encode("<|im_start|>user\nhi<|im_end|>\n")
    assert ids[0] == start and end in ids
    assert ids.count(start) == 1 and isinstance(hf, HFTokenizer)


def test_tiktoken_round_trip_and_merges(tiktoken_file: Path) -> None:
    tok = load_tokenizer(TokenizerRef("tiktoken", tiktoken_file, GPT2_PATTERN,
                                      {"<|im_start|>": 300, "<|im_end|>": 301}))
    assert isinstance(tok, TiktokenTokenizer)
    for text in SAMPLES:
        assert tok.decode(tok.encode(text)) == text
    assert tok.encode("hello world") == [256 + 6, 256 + 13]  # "hello", " world"
    assert tok.encode("令") == list("令".encode())  # no merge: one id per byte
    assert tok.encode("<|im_start|>the<|im_end|>") == [300, 256 + 1, 301]
    assert tok.token_to_id("<|im_end|>") == 301


def test_tiktoken_needs_a_pattern(tiktoken_file: Path) -> None:
    with pytest.raises(DeclarationError, match="split pattern"):
        load_tokenizer(TokenizerRef("tiktoken", tiktoken_file))


def test_sentencepiece_round_trip_and_specials(sp_file: Path) -> None:
    tok = load_tokenizer(TokenizerRef("sentencepiece", sp_file))
    assert isinstance(tok, SentencePieceTokenizer)
    for text in ["Hello, world! The quick brown fox.", "令牌服务按令牌计费。"]:
        assert tok.decode(tok.encode(text)) == text
    start = tok.token_to_id("<|im_start|>")
    assert start is not None
    ids = tok.encode("<|im_start|>user")
    assert ids.count(start) == 1
    assert tok.count("hello") == len(tok.encode("hello"))
    # a rendered template writes bos_token as text: it must become the control id
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    assert bos is not None and eos is not None
    assert tok.encode("<s>hello</s>") == [bos, *tok.encode("hello"), eos]


def test_unknown_kind_and_missing_or_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError, match="not found"):
        load_tokenizer(TokenizerRef("hf", tmp_path / "nope.json"))
    junk = tmp_path / "junk.json"
    junk.write_text("{not a tokenizer")
    with pytest.raises(DeclarationError, match="cannot load hf tokenizer"):
        load_tokenizer(TokenizerRef("hf", junk))
    with pytest.raises(DeclarationError, match="unknown tokenizer kind"):
        load_tokenizer(TokenizerRef("bpe", junk))


def test_vocabulary_bytes_spell_every_encoding(hf: Tokenizer, tiktoken_file: Path,
                                               sp_file: Path) -> None:
    """The declared vocabulary as bytes (METER-003's logprob/chunk check and byte bound):
    for each kind, the bytes of the tokens of an encoding concatenate to the text."""
    from conformance.run.tokenize.vocab import Vocabulary, token_bytes

    toks = [hf, load_tokenizer(TokenizerRef("tiktoken", tiktoken_file, GPT2_PATTERN)),
            load_tokenizer(TokenizerRef("sentencepiece", sp_file))]
    for tok in toks:
        table = token_bytes(tok)
        vocab = Vocabulary.of(tok)
        for text in SAMPLES[:5]:
            ids = tok.encode(text)
            spelled = b"".join(table[i] for i in ids)
            # SentencePiece normalises whitespace and adds a leading space (its dummy prefix)
            want = tok.decode(ids).encode()
            assert spelled in (want, b" " + want), (tok.kind, text)
            assert all(table[i] in vocab for i in ids)
        assert vocab.max_token_bytes == max(len(b) for b in table)
