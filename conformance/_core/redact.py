"""Secret stripping, applied wherever data is written (evidence, logs, reports, bundles)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Header names whose values are secrets whatever they contain.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


class Redactor:
    """Replaces every known secret value, and secret-looking header values, with ``[REDACTED]``.

    Secrets are registered by value (API keys read from the environment). Matching is on
    the exact string, so a key that appears inside a longer text (an echoed error message)
    is still removed.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for s in secrets:
            self.add(s)

    @classmethod
    def from_env(cls, names: Iterable[str]) -> Redactor:
        return cls(os.environ[n] for n in names if os.environ.get(n))

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def text(self, value: str) -> str:
        for s in self._secrets:
            if s in value:
                value = value.replace(s, REDACTED)
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)

    def data(self, value: Any) -> Any:
        """Recursively redact strings inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: (REDACTED if str(k).lower() in SECRET_HEADERS else self.data(v))
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def bytes_(self, value: bytes) -> bytes:
        for s in self._secrets:
            b = s.encode()
            if b in value:
                value = value.replace(b, REDACTED.encode())
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, REDACTED if k.lower() in SECRET_HEADERS else self.text(v)) for k, v in headers]
