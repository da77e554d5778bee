"""Build the reference service's byte-level BPE ``tokenizer.json`` from the shipped corpus.

Run ``python -m conformance.reference.build_tokenizer [--out PATH]``. Same corpus in,
byte-identical ``tokenizer.json`` out: the corpus files are read in a fixed order, the
trainer runs with fixed settings, and a test rebuilds and compares with the shipped file.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
CORPUS = ASSETS / "corpus"
TOKENIZER_PATH = ASSETS / "tokenizer.json"
TEMPLATE_PATH = ASSETS / "chat_template.jinja"
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
VOCAB_SIZE = 8192
# (file, weight): natural-language text is repeated so that CJK and emoji earn merges
# against the much larger code and spec snapshots.
CORPUS_FILES = (("en.txt", 3), ("zh.txt", 3), ("ja.txt", 3), ("emoji.txt", 3),
                ("code.txt", 1), ("spec.txt", 1))


def corpus_lines(corpus_dir: Path = CORPUS) -> Iterator[str]:
    for name, weight in CORPUS_FILES:
        lines = (corpus_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)
        for _ in range(weight):
            yield from lines


def build(corpus_dir: Path = CORPUS) -> str:
    """Train the tokenizer and return its JSON text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=10,
        show_progress=False,
    )
    tok.train_from_iterator(corpus_lines(corpus_dir), trainer)
    return str(tok.to_str(pretty=True)) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TOKENIZER_PATH)
    args = ap.parse_args(argv)
    text = build()
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
