"""Declared tokenizer adapters and chat-template rendering.

The conformance suite and the reference service count tokens with exactly this code:
``load_tokenizer(ref)`` opens the declared tokenizer file (HF ``tokenizer.json``, tiktoken
BPE rank file, or SentencePiece model) and ``ChatTemplate`` renders the declared jinja2
chat template with Hugging Face semantics. There is no calibration anywhere: a prompt's
reference count is the token count of the rendered template, nothing more.
"""

from conformance.run.tokenize.adapters import (
    HFTokenizer,
    SentencePieceTokenizer,
    TiktokenTokenizer,
    Tokenizer,
    load_tokenizer,
)
from conformance.run.tokenize.template import ChatTemplate, count_prompt_tokens

__all__ = [
    "ChatTemplate",
    "HFTokenizer",
    "SentencePieceTokenizer",
    "TiktokenTokenizer",
    "Tokenizer",
    "count_prompt_tokens",
    "load_tokenizer",
]
