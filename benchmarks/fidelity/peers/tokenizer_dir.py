"""A local Hugging Face tokenizer directory built from the project's shipped tokenizer.

Both peers load a tokenizer with ``AutoTokenizer.from_pretrained(<dir>)`` to size their
synthetic prompts; nothing may come from the hub at run time, so we write a directory with
``tokenizer.json`` (copied from ``conformance/reference/assets``), a ``tokenizer_config.json``
naming the fast tokenizer class and the chat template, ``special_tokens_map.json`` and a
minimal ``config.json`` (some code paths call ``AutoConfig`` on the same path).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[3] / "conformance" / "reference" / "assets"
TOKENIZER_JSON = ASSETS / "tokenizer.json"
CHAT_TEMPLATE = ASSETS / "chat_template.jinja"
CACHE_ENV = "TOKENCERT_PEERS_CACHE"


def cache_root() -> Path:
    """``$TOKENCERT_PEERS_CACHE`` or ``~/.cache/tokencert``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tokencert"


def _files(context_window: int) -> dict[str, str]:
    template = CHAT_TEMPLATE.read_text(encoding="utf-8")
    vocab = len(json.loads(TOKENIZER_JSON.read_text(encoding="utf-8"))["model"]["vocab"])
    special = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": context_window,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "bos_token": None,
        "chat_template": template,
        **special,
    }
    model_config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
                    "vocab_size": vocab, "n_positions": context_window,
                    "max_position_embeddings": context_window,
                    "eos_token_id": 2, "bos_token_id": 2, "pad_token_id": 0}
    return {
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
        "special_tokens_map.json": json.dumps(special, indent=2) + "\n",
        "config.json": json.dumps(model_config, indent=2) + "\n",
        "chat_template.jinja": template,
    }


def build_tokenizer_dir(dest: Path | None = None, *, context_window: int = 16384) -> Path:
    """Write (idempotently) the tokenizer directory and return its path.

    The default place is ``<cache_root>/peers-tokenizer-<hash>`` where the hash covers the
    shipped tokenizer and template, so a changed tokenizer never reuses a stale directory.
    """
    source = TOKENIZER_JSON.read_bytes()
    files = _files(context_window)
    h = hashlib.sha256(source)
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode())
    if dest is None:
        dest = cache_root() / f"peers-tokenizer-{h.hexdigest()[:12]}"
    if (dest / ".complete").is_file():
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "tokenizer.json").write_bytes(source)
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    (tmp / ".complete").write_text(h.hexdigest() + "\n", encoding="utf-8")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


if __name__ == "__main__":
    print(build_tokenizer_dir())
