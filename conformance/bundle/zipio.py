"""Reproducible zip writing and defensive zip reading.

Writing: entries sorted by name, a fixed timestamp (1980-01-01), fixed permissions
(regular file, 0644), deflate level 9 — the same files give the same bytes.

Reading: a bundle comes from anyone, so every entry is checked before a byte is used:
no absolute paths, no ``..``, no backslashes, no symlinks or special files, no duplicate
names, no encryption, and bounded count, sizes and compression ratio (zip bombs). The
decompressed size is enforced while reading, not taken from the (forgeable) header.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = stat.S_IFREG | 0o644


def write_zip(files: Mapping[str, bytes]) -> bytes:
    """A deterministic zip of ``files`` (name → content)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            check_name(name)
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.create_system = 3
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


class UnsafeZipError(ValueError):
    """The archive is refused; the message names the entry and the rule it breaks."""


@dataclass(frozen=True)
class ZipLimits:
    """Bounds for reading an untrusted archive."""

    max_entries: int = 20_000
    max_entry_bytes: int = 256 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024  # small entries may compress well (JSON padding)


def check_name(name: str) -> None:
    if not name or "\x00" in name:
        raise UnsafeZipError(f"entry {name!r}: empty name or NUL byte")
    if "\\" in name:
        raise UnsafeZipError(f"entry {name!r}: backslash in path")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeZipError(f"entry {name!r}: absolute path")
    parts = name.rstrip("/").split("/")
    if any(p in ("..", ".", "") for p in parts):
        raise UnsafeZipError(f"entry {name!r}: path traversal ('..' or '.' component)")


def _check_info(info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    name = info.filename
    check_name(name.rstrip("/") if info.is_dir() else name)
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG,
                                                                       stat.S_IFDIR):
        kind = "symlink" if stat.S_ISLNK(mode) else "special file"
        raise UnsafeZipError(f"entry {name!r}: {kind} entries are refused")
    if info.flag_bits & 0x1:
        raise UnsafeZipError(f"entry {name!r}: encrypted entries are refused")
    if info.file_size > limits.max_entry_bytes:
        raise UnsafeZipError(
            f"entry {name!r}: {info.file_size} bytes uncompressed exceeds the "
            f"{limits.max_entry_bytes}-byte limit (zip bomb?)")
    if info.file_size > limits.ratio_floor_bytes and (
        info.file_size > limits.max_ratio * max(info.compress_size, 1)
    ):
        raise UnsafeZipError(
            f"entry {name!r}: compression ratio {info.file_size / max(info.compress_size, 1):.0f}"
            f":1 exceeds {limits.max_ratio:.0f}:1 (zip bomb?)")


def read_zip(data: bytes, limits: ZipLimits | None = None) -> dict[str, bytes]:
    """All regular files of an untrusted zip, after the safety checks; raise UnsafeZipError."""
    lim = limits or ZipLimits()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnsafeZipError(f"not a zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > lim.max_entries:
            raise UnsafeZipError(f"{len(infos)} entries exceed the {lim.max_entries}-entry limit")
        seen: set[str] = set()
        declared = 0
        for info in infos:
            _check_info(info, lim)
            key = info.filename.rstrip("/")
            if key in seen or key.casefold() in seen:
                raise UnsafeZipError(f"entry {info.filename!r}: duplicate name")
            seen.update((key, key.casefold()))
            declared += info.file_size
        if declared > lim.max_total_bytes:
            raise UnsafeZipError(
                f"{declared} bytes uncompressed in total exceed the "
                f"{lim.max_total_bytes}-byte limit "
                "(zip bomb?)")
        out: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            try:
                with zf.open(info) as fh:
                    content = fh.read(min(info.file_size, lim.max_entry_bytes) + 1)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
                raise UnsafeZipError(f"entry {info.filename!r}: unreadable ({exc})") from None
            if len(content) != info.file_size:
                raise UnsafeZipError(f"entry {info.filename!r}: size differs from its header")
            total += len(content)
            if total > lim.max_total_bytes:
                raise UnsafeZipError("archive expands beyond the total size limit (zip bomb?)")
            out[info.filename] = content
        return out
