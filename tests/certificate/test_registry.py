"""Certificate numbers: format, sequence, uniqueness under concurrency."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conformance.certificate import Registry


def test_numbers_follow_the_format_and_sequence(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry.json")
    a = reg.allocate("hqts-2026.1", 2026, {"candidate": "x"})
    b = reg.allocate("hqts-2026.1", 2026, {"candidate": "y"})
    c = reg.allocate("hqts-2026.1", 2027, {"candidate": "z"})
    assert (a, b, c) == ("HQTS-2026.1-2026-000001", "HQTS-2026.1-2026-000002",
                         "HQTS-2026.1-2027-000001")
    assert re.fullmatch(r"HQTS-2026\.1-\d{4}-\d{6}", a)
    reg.complete(a, bundle_digest="sha256:00")
    assert reg.entries()[0]["bundle_digest"] == "sha256:00"


def test_concurrent_allocation_never_repeats(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry.json")
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda i: reg.allocate("hqts-2026.1", 2026, {"i": i}),
                                range(40)))
    assert len(set(numbers)) == 40
    assert len(Registry(tmp_path / "registry.json").entries()) == 40


def test_body_prefixes_keep_two_bodies_apart(tmp_path: Path) -> None:
    a = Registry(tmp_path / "a.json").allocate("hqts-2026.1", 2026, {}, prefix="EXC")
    b = Registry(tmp_path / "b.json").allocate("hqts-2026.1", 2026, {}, prefix="ACME1")
    assert (a, b) == ("EXC-HQTS-2026.1-2026-000001", "ACME1-HQTS-2026.1-2026-000001")


def test_find_knows_only_completed_numbers(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.json")
    n = reg.allocate("hqts-2026.1", 2026, {}, prefix="EXC")
    assert reg.find(n) is None  # reserved, never issued (certify failed after allocating)
    reg.complete(n, bundle_digest="sha256:00")
    assert reg.find(n) is not None and reg.find("EXC-HQTS-2026.1-2026-000002") is None


def test_bad_prefixes_are_refused() -> None:
    import pytest

    from conformance._core.errors import InputError
    from conformance.certificate.roles import check_prefix

    for bad in ("", "x", "tc", "TOO-LONG", "ABCDEFGHIJKLM", "T C"):
        with pytest.raises(InputError):
            check_prefix(bad)
    assert check_prefix("TC") == "TC"
