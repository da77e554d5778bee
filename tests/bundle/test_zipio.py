"""Reproducible zips, and every way a hostile zip is refused."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from conformance.bundle.zipio import UnsafeZipError, ZipLimits, read_zip, write_zip


def _raw_zip(entries: list[tuple[str, bytes]], mode: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def test_same_files_same_bytes_whatever_the_order() -> None:
    a = write_zip({"b": b"2", "a/x.json": b"1"})
    b = write_zip({"a/x.json": b"1", "b": b"2"})
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a/x.json", "b"]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert all(stat.S_IMODE(i.external_attr >> 16) == 0o644 for i in infos)
    assert read_zip(a) == {"a/x.json": b"1", "b": b"2"}


@pytest.mark.parametrize(("name", "why"), [
    ("../evil.txt", "traversal"), ("a/../../evil", "traversal"), ("/etc/passwd", "absolute"),
    ("C:/x", "absolute"), ("a\\..\\b", "backslash"), ("./a", "traversal"),
])
def test_bad_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(UnsafeZipError, match=why):
        read_zip(_raw_zip([(name, b"x")]))


def test_symlink_entry_is_refused() -> None:
    data = _raw_zip([("link", b"/etc/passwd")], mode=stat.S_IFLNK | 0o777)
    with pytest.raises(UnsafeZipError, match="symlink"):
        read_zip(data)


def test_duplicate_names_are_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("results.json", b"1")
        zf.writestr("results.json", b"2")
    with pytest.raises(UnsafeZipError, match="duplicate"):
        read_zip(buf.getvalue())


def test_case_folded_duplicates_are_refused() -> None:
    with pytest.raises(UnsafeZipError, match="duplicate"):
        read_zip(_raw_zip([("Results.json", b"1"), ("results.json", b"2")]))


def test_zip_bomb_ratio_is_refused() -> None:
    with pytest.raises(UnsafeZipError, match="ratio"):
        read_zip(_raw_zip([("zeros.bin", bytes(20 * 1024 * 1024))]))


def test_size_and_count_limits() -> None:
    data = _raw_zip([(f"f{i}", b"abc") for i in range(5)])
    with pytest.raises(UnsafeZipError, match="entry limit"):
        read_zip(data, ZipLimits(max_entries=4))
    with pytest.raises(UnsafeZipError, match="limit"):
        read_zip(_raw_zip([("big", bytes(range(256)) * 64)]), ZipLimits(max_entry_bytes=1000))
    with pytest.raises(UnsafeZipError, match="total"):
        read_zip(data, ZipLimits(max_total_bytes=10))


def test_forged_header_size_is_caught_while_reading() -> None:
    data = bytearray(_raw_zip([("a.txt", b"hello world, hello world")]))
    # Lower the uncompressed size in the central directory (offset 24 of the header).
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (5).to_bytes(4, "little")
    with pytest.raises(UnsafeZipError):
        read_zip(bytes(data))


def test_not_a_zip() -> None:
    with pytest.raises(UnsafeZipError, match="not a zip"):
        read_zip(b"PK but not really")
