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
# what API keys look like: a vendor prefix (sk-, sk_ant-, xai-, ghp_, AKIA...), or a long
# token mixing lower case, upper case and digits (hex digests have no upper case)
_KEY_PREFIX = re.compile(r"^(sk|pk|rk|xai|gsk|ghp|gho|glpat|hf|sess)[-_]|^AKIA[0-9A-Z]{8}|^AIza")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_~+=-]{19,}")
# variables whose values are secrets whatever the declaration says
_SECRET_VAR = re.compile(r"(?i)(key|token|secret|passw(or)?d|credential)s?$")


def looks_like_secret(value: str) -> bool:
    """True for a string that looks like an API key or token rather than a name: a vendor
    key prefix, or 20+ characters mixing lower case, upper case and digits."""
    v = value.strip()
    if len(v) >= 8 and _KEY_PREFIX.search(v):
        return True
    return bool(_TOKEN.fullmatch(v)) and (
        any(c.islower() for c in v) and any(c.isupper() for c in v)
        and any(c.isdigit() for c in v))


def scrub(text: str) -> str:
    """Redact, from text about to be shown (an error message), the values of environment
    variables named like secrets and every word that looks like a key."""
    values = (os.environ[n] for n in os.environ if _SECRET_VAR.search(n))
    text = Redactor(v for v in values if len(v) >= 8).text(text)
    return _TOKEN.sub(lambda m: REDACTED if looks_like_secret(m.group(0)) else m.group(0),
                      text)


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

    def exact(self, value: str) -> str:
        """Only the registered secrets. For what the candidate said (bodies, stream events,
        answer text): a credential-shaped pattern there is model output ("Basic averages"),
        and rewriting it would falsify the evidence the audits and SEC-006 read."""
        for s in self._secrets:
            if s in value:
                value = value.replace(s, REDACTED)
        return value

    def text(self, value: str) -> str:
        """The registered secrets and anything shaped like ``Bearer <token>`` (messages,
        headers, logs: text the toolkit writes about a request)."""
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", self.exact(value))

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
