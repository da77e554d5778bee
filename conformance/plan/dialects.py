"""How the catalog's requirements apply in each wire dialect (``spec/dialects/mapping.yaml``).

The mapping sits beside the catalog editions, so no edition's files or digests change: a
requirement it names as not applicable in the declared dialect is planned not applicable
with the mapping's reason; every other requirement applies through the dialect's client.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from conformance._core import resources
from conformance._core.errors import InputError
from conformance._core.yamldoc import load_yaml


@cache
def _mapping() -> Mapping[str, Any]:
    path = resources.spec_dir() / "dialects" / "mapping.yaml"
    doc = load_yaml(path).data
    if not isinstance(doc, dict) or not isinstance(doc.get("dialects"), dict):
        raise InputError(f"{path}: expected a mapping with a 'dialects' section")
    out: Mapping[str, Any] = doc["dialects"]
    return out


def dialect_names() -> tuple[str, ...]:
    return tuple(_mapping())


def not_applicable(dialect: str) -> Mapping[str, str]:
    """Requirement id → why it does not apply in ``dialect`` (empty for openai-chat)."""
    entry = _mapping().get(dialect)
    if not isinstance(entry, dict):
        raise InputError(f"dialect {dialect!r} has no entry in spec/dialects/mapping.yaml")
    na = entry.get("not_applicable") or {}
    return {str(k): str(v) for k, v in na.items()}


def maps(dialect: str) -> Mapping[str, str]:
    """Requirement id → how it reads in ``dialect`` (shown in reports and ``spec show``)."""
    entry = _mapping().get(dialect) or {}
    return {str(k): str(v) for k, v in (entry.get("maps") or {}).items()}
