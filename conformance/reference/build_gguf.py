"""Build a tiny random-weight Llama GGUF that uses the project tokenizer and ChatML.

``python -m conformance.reference.build_gguf [--out PATH]``: 2 layers, hidden 128,
head_dim 64 (2 heads), FFN 256, context 4096, float32 weights drawn from a fixed seed,
vocabulary, merges and chat template from ``assets/``. Built here, never downloaded; the
same inputs give the same bytes. The default path is ``~/.cache/tokencert/`` with the
tokenizer's digest in the file name, so a changed tokenizer gets a fresh model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from conformance.reference.build_tokenizer import TEMPLATE_PATH, TOKENIZER_PATH

N_LAYER, N_EMBD, N_HEAD, N_FF, N_CTX = 2, 128, 2, 256, 4096
SEED = 20261


def default_path() -> Path:
    base = Path(os.environ.get("TOKENCERT_CACHE", Path.home() / ".cache" / "tokencert"))
    digest = hashlib.sha256(TOKENIZER_PATH.read_bytes() + TEMPLATE_PATH.read_bytes()
                            + f"{N_LAYER}/{N_EMBD}/{N_HEAD}/{N_FF}/{N_CTX}/{SEED}".encode())
    return base / f"tokencert-ref-tiny-{digest.hexdigest()[:12]}.gguf"


def build(out: Path) -> Path:
    """Write the GGUF to ``out`` (atomically) and return its path."""
    import gguf
    import numpy as np

    tj = json.loads(TOKENIZER_PATH.read_text(encoding="utf-8"))
    vocab: dict[str, int] = dict(tj["model"]["vocab"])
    special = {t["content"]: t["id"] for t in tj["added_tokens"]}
    vocab.update(special)
    n_vocab = max(vocab.values()) + 1
    tokens = [""] * n_vocab
    for text, tid in vocab.items():
        tokens[tid] = text
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name("tokencert-ref-tiny")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(special["<|endoftext|>"])
    w.add_eos_token_id(special["<|im_end|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(TEMPLATE_PATH.read_text(encoding="utf-8"))

    rng = np.random.default_rng(SEED)

    def mat(rows: int, cols: int) -> Any:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)

    w.add_tensor("token_embd.weight", mat(n_vocab, N_EMBD))
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + name + ".weight", mat(N_EMBD, N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", mat(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", mat(N_EMBD, N_FF))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", mat(n_vocab, N_EMBD))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out


def ensure(path: Path | None = None) -> Path:
    """The GGUF at ``path`` (default cache path), built first if missing."""
    target = path or default_path()
    return target if target.is_file() else build(target)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = build(args.out or default_path())
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
