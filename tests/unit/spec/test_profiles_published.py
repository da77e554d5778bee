"""Published profiles are append-only: spec/profiles/published.json lists every digest each
profile was ever published with, and each one still loads (the current file or its kept
version in spec/profiles/history/), so runs and certificates made with it re-judge."""

from __future__ import annotations

import json

import pytest

from conformance._core import resources
from conformance._core.errors import SpecError
from conformance.spec import load_profile

PUBLISHED = resources.spec_dir() / "profiles" / "published.json"


def _published() -> dict[str, list[str]]:
    data = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def test_every_current_profile_is_listed_as_published() -> None:
    names = sorted(p.stem for p in PUBLISHED.parent.glob("*.yaml"))
    assert set(names) == set(_published()), "a profile file without a published entry"
    for name in names:
        assert load_profile(name).digest in _published()[name], (
            f"spec/profiles/{name}.yaml was edited in place: keep its previous version in "
            "spec/profiles/history/NAME@DIGEST12.yaml and add the new digest to published.json")


@pytest.mark.parametrize(("name", "digest"),
                         [(n, d) for n, ds in _published().items() for d in ds])
def test_every_published_version_still_loads_by_its_digest(name: str, digest: str) -> None:
    assert load_profile(name, digest=digest).digest == digest


def test_an_unpublished_digest_is_a_clear_error() -> None:
    with pytest.raises(SpecError, match="never published with digest"):
        load_profile("quick", digest="sha256:" + "0" * 64)
