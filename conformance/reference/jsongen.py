"""Schema-valid JSON for the simulator's tool calls and structured answers (hqts-2026.2).

:func:`instance` draws a value that validates against a JSON Schema, seeded (the same
schema and seed give the same value). It covers the keywords tool schemas use: ``type``
(one or a list), ``enum``, ``const``, ``properties`` / ``required`` (optional properties
drawn half the time), ``items`` with ``minItems`` / ``maxItems``, ``minLength`` /
``maxLength``, ``pattern`` (a string matching it drawn by ``rstr``), ``minimum`` /
``maximum`` and their exclusive forms, ``anyOf`` / ``oneOf`` (the first branch). Strings are
ASCII (so every token of the answer decodes on its own).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Mapping
from typing import Any

import rstr

_LETTERS = string.ascii_lowercase
MAX_DEPTH = 6


class UnsupportedSchema(ValueError):
    """A schema this generator cannot satisfy (answered as a 400 by the gateway)."""


def instance(schema: Mapping[str, Any], seed: int) -> Any:
    """A value valid against ``schema``, drawn with ``seed``."""
    return _value(schema, random.Random(seed), 0)


def dumps(value: Any) -> str:
    """The JSON text the simulator delivers (compact, ASCII)."""
    return json.dumps(value, ensure_ascii=True, separators=(", ", ": "))


def _value(s: Mapping[str, Any], rng: random.Random, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise UnsupportedSchema("schema nested too deeply")
    if "const" in s:
        return s["const"]
    if "enum" in s:
        return rng.choice(list(s["enum"]))
    for key in ("anyOf", "oneOf"):
        if isinstance(s.get(key), list) and s[key]:
            return _value(s[key][0], rng, depth + 1)
    t = s.get("type")
    if isinstance(t, list):
        t = rng.choice(t) if t else None
    if t is None:
        t = "object" if "properties" in s else "string"
    if t == "object":
        return _object(s, rng, depth)
    if t == "array":
        lo = int(s.get("minItems", 1))
        hi = max(lo, min(int(s.get("maxItems", lo + 2)), lo + 3))
        items: Mapping[str, Any] = s["items"] if isinstance(s.get("items"), Mapping) else {}
        return [_value(items, rng, depth + 1) for _ in range(rng.randint(lo, hi))]
    if t == "string":
        return _string(s, rng)
    if t in ("integer", "number"):
        return _number(s, rng, t == "integer")
    if t == "boolean":
        return rng.random() < 0.5
    if t == "null":
        return None
    raise UnsupportedSchema(f"type {t!r} is not supported")


def _object(s: Mapping[str, Any], rng: random.Random, depth: int) -> dict[str, Any]:
    props: Mapping[str, Any] = s.get("properties") or {}
    required = set(s.get("required") or ())
    out: dict[str, Any] = {}
    for name, sub in props.items():
        if name in required or rng.random() < 0.5:
            out[name] = _value(sub, rng, depth + 1)
    return out


def _string(s: Mapping[str, Any], rng: random.Random) -> str:
    if isinstance(s.get("pattern"), str):
        return str(rstr.Rstr(rng).xeger(s["pattern"]))
    lo = int(s.get("minLength", 1))
    hi = max(lo, min(int(s.get("maxLength", lo + 12)), lo + 12))
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(lo, hi)))


def _number(s: Mapping[str, Any], rng: random.Random, integer: bool) -> int | float:
    lo = s.get("minimum", s.get("exclusiveMinimum", 0))
    hi = s.get("maximum", s.get("exclusiveMaximum", lo + 100))
    if integer:
        a = int(lo) + (1 if "exclusiveMinimum" in s and "minimum" not in s else 0)
        b = int(hi) - (1 if "exclusiveMaximum" in s and "maximum" not in s else 0)
        if a > b:
            raise UnsupportedSchema("empty integer range")
        return rng.randint(a, b)
    return round(rng.uniform(float(lo), float(hi)), 2)
