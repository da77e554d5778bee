"""Packaged data (schemas, catalogs, profiles, templates, fonts).

In a wheel, ``spec/`` and ``certificates/`` are packaged as ``conformance/_data/``; in a
source checkout (editable install) they are read from the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

_PKG = Path(__file__).resolve().parent.parent


@cache
def data_root() -> Path:
    packaged = _PKG / "_data"
    if (packaged / "spec").is_dir():
        return packaged
    return _PKG.parent


def spec_dir() -> Path:
    return data_root() / "spec"


def schema_path(name: str) -> Path:
    return spec_dir() / "schemas" / f"{name}.schema.json"


def catalog_dir(edition: str = "hqts-2026.1") -> Path:
    return spec_dir() / "catalogs" / edition


def editions() -> tuple[str, ...]:
    """The published catalog editions shipped with this tokencert, oldest first."""
    root = spec_dir() / "catalogs"
    return tuple(sorted(p.name for p in root.iterdir() if (p / "catalog.yaml").is_file()))


def edition_of(doc: dict[str, Any]) -> str:
    """The edition a run (its run.json manifest or results.json) names; runs made before
    editions were chosen are on the default one."""
    spec = doc.get("spec")
    return str(spec.get("edition", DEFAULT_EDITION)) if isinstance(spec, dict) \
        else DEFAULT_EDITION


def profile_path(name: str) -> Path:
    return spec_dir() / "profiles" / f"{name}.yaml"


def certificates_dir() -> Path:
    return data_root() / "certificates"


def test_suites_dir() -> Path:
    """The conformance tests run against a candidate."""
    packaged = _PKG / "_data" / "test_suites"
    return packaged if packaged.is_dir() else _PKG.parent / "test_suites"


# The default stays hqts-2026.1 while tool calling and structured output are new in
# hqts-2026.2 (docs/catalog.md, "Editions"): ``tokencert run --edition hqts-2026.2`` opts in.
DEFAULT_EDITION = "hqts-2026.1"
