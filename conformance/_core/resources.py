"""Packaged data (schemas, catalogs, profiles, templates, fonts).

In a wheel, ``spec/`` and ``certificates/`` are packaged as ``conformance/_data/``; in a
source checkout (editable install) they are read from the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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


def profile_path(name: str) -> Path:
    return spec_dir() / "profiles" / f"{name}.yaml"


def certificates_dir() -> Path:
    return data_root() / "certificates"


def test_suites_dir() -> Path:
    """The conformance tests run against a candidate."""
    packaged = _PKG / "_data" / "test_suites"
    return packaged if packaged.is_dir() else _PKG.parent / "test_suites"


DEFAULT_EDITION = "hqts-2026.1"
