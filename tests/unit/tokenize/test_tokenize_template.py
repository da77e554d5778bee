"""Chat templates render with Hugging Face ``apply_chat_template`` semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance._core.errors import DeclarationError
from conformance.declaration.models import TokenizerRef
from conformance.reference.build_tokenizer import TEMPLATE_PATH, TOKENIZER_PATH
from conformance.run.tokenize import ChatTemplate, count_prompt_tokens, load_tokenizer
from conformance.run.tokenize.template import TemplateRaised

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好 👋"}]


def test_shipped_chatml_renders_exactly() -> None:
    t = ChatTemplate.from_file(TEMPLATE_PATH)
    assert t.render(MSGS) == ("<|im_start|>system\nBe brief.<|im_end|>\n"
                              "<|im_start|>user\n你好 👋<|im_end|>\n<|im_start|>assistant\n")
    assert t.render(MSGS, add_generation_prompt=False).endswith("👋<|im_end|>\n")
    parts = [{"role": "user", "content": [{"type": "text", "text": "a"},
                                          {"type": "text", "text": "b"}]}]
    assert t.render(parts) == "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n"


def test_trim_and_lstrip_blocks_like_transformers() -> None:
    src = ("{% for m in messages %}\n    {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}\n"
           "{% if add_generation_prompt %}\nassistant:{% endif %}")
    out = ChatTemplate(src).render(MSGS)
    assert out == "    system: Be brief.\n    user: 你好 👋\nassistant:"


def test_bos_eos_tojson_loopcontrols_and_extra_variables() -> None:
    src = ("{{ bos_token }}{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}"
           "{{ m | tojson }}{% endfor %}{{ eos_token }}{{ tools | tojson(indent=None) }}")
    out = ChatTemplate(src, bos_token="<s>", eos_token="</s>").render(MSGS, tools=["t"])
    assert out == '<s>{"role": "system", "content": "Be brief."}</s>["t"]'
    assert "你好" in ChatTemplate("{{ messages | tojson }}").render(MSGS)  # ensure_ascii off


def test_raise_exception_and_sandbox() -> None:
    src = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('user first') }}{% endif %}"
    with pytest.raises(TemplateRaised, match="user first"):
        ChatTemplate(src).render(MSGS)
    with pytest.raises(DeclarationError, match="does not compile"):
        ChatTemplate("{% for %}")
    sandbox = "{{ messages.append(1) }}"  # immutable sandbox: no mutation of inputs
    with pytest.raises(Exception, match=r"unsafe|not safely|access"):
        ChatTemplate(sandbox).render(MSGS)


def test_count_prompt_tokens_is_the_rendered_template(tmp_path: Path) -> None:
    tok = load_tokenizer(TokenizerRef("hf", TOKENIZER_PATH))
    tpl = ChatTemplate.from_file(TEMPLATE_PATH)
    assert count_prompt_tokens(tok, tpl, MSGS) == len(tok.encode(tpl.render(MSGS)))
    # each turn costs its two special tokens plus role and newlines: nothing is hidden
    one = count_prompt_tokens(tok, tpl, MSGS[1:])
    assert count_prompt_tokens(tok, tpl, MSGS) - one == len(
        tok.encode("<|im_start|>system\nBe brief.<|im_end|>\n"))
