"""Chat templates rendered with Hugging Face ``apply_chat_template`` semantics.

Same environment as ``transformers``: jinja2 ``ImmutableSandboxedEnvironment`` with
``trim_blocks`` and ``lstrip_blocks``, the ``loopcontrols`` extension, a ``tojson`` filter
that keeps non-ASCII text, and the ``raise_exception`` and ``strftime_now`` globals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conformance._core.errors import DeclarationError, InputError, Problem
from conformance.run.tokenize.adapters import Tokenizer


class TemplateRaised(InputError):
    """The template itself called ``raise_exception`` (e.g. roles out of order)."""


def _raise_exception(message: str) -> NoReturn:
    raise TemplateRaised(f"chat template refused the conversation: {message}")


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now(UTC).strftime(fmt)


class ChatTemplate:
    """A compiled chat template plus the special-token strings it may reference."""

    def __init__(
        self,
        source: str,
        bos_token: str | None = None,
        eos_token: str | None = None,
        name: str = "<template>",
    ) -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(source)
        except TemplateError as exc:
            raise DeclarationError(
                f"chat template {name} does not compile: {exc}",
                [Problem(str(exc), file=name, line=getattr(exc, "lineno", None))],
            ) from None
        self.source = source
        self.bos_token = bos_token or ""
        self.eos_token = eos_token or ""
        self.name = name

    @classmethod
    def from_file(
        cls, path: Path | str, bos_token: str | None = None, eos_token: str | None = None
    ) -> ChatTemplate:
        p = Path(path)
        try:
            source = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DeclarationError(f"cannot read chat template {p}: {exc.strerror}") from None
        return cls(source, bos_token, eos_token, name=str(p))

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        add_generation_prompt: bool = True,
        **extra: Any,
    ) -> str:
        ctx: dict[str, Any] = {"bos_token": self.bos_token, "eos_token": self.eos_token}
        ctx.update(extra)
        try:
            return str(
                self._template.render(
                    messages=[dict(m) for m in messages],
                    add_generation_prompt=add_generation_prompt,
                    **ctx,
                )
            )
        except TemplateRaised:
            raise
        except TemplateError as exc:
            raise InputError(f"chat template {self.name} failed to render: {exc}") from None


def count_prompt_tokens(
    tokenizer: Tokenizer,
    template: ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    **extra: Any,
) -> int:
    """Reference prompt count: tokens of the rendered template (generation prompt added)."""
    return tokenizer.count(template.render(messages, add_generation_prompt=True, **extra))
