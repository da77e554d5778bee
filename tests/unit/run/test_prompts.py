from __future__ import annotations

from collections.abc import Sequence

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from conformance.run.prompts import PromptFactory, PromptSpec


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    text = ["the service measures every token and each request carries a fresh prompt"] * 50
    t.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, show_progress=False,
                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return t


def _factory(tok: Tokenizer, seed: int = 7) -> PromptFactory:
    def count(msgs: Sequence[dict[str, str]]) -> int:
        rendered = "".join(f"<{m['role']}>{m['content']}</s>" for m in msgs) + "<assistant>"
        return len(tok.encode(rendered).ids)

    return PromptFactory(count, lambda s: tok.encode(s).ids, tok.decode, seed)


@pytest.mark.parametrize("n", [100, 1000, 3000])
def test_exact_length_and_unique(tok: Tokenizer, n: int) -> None:
    f = _factory(tok)
    counts, contents = [], set()
    for seq in range(20):
        msgs = f.make(seq, PromptSpec(n))
        rendered = "".join(f"<{m['role']}>{m['content']}</s>" for m in msgs) + "<assistant>"
        counts.append(len(tok.encode(rendered).ids))
        contents.add(msgs[-1]["content"])
    assert len(contents) == 20
    assert all(n - 2 <= c <= n for c in counts)
    assert sum(c == n for c in counts) >= 18


def test_deterministic_per_seed(tok: Tokenizer) -> None:
    a, b, c = _factory(tok, 1), _factory(tok, 1), _factory(tok, 2)
    assert a.make(5, PromptSpec(200)) == b.make(5, PromptSpec(200))
    assert a.make(5, PromptSpec(200)) != c.make(5, PromptSpec(200))
