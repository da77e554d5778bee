"""The local registry of certificate numbers: ``PREFIX-HQTS-2026.1-YYYY-NNNNNN`` (the body's
prefix, from its ``body.json``, keeps two bodies' numbers apart).

One JSON file, updated under an exclusive file lock and replaced atomically (write a
temporary file, then rename), so two concurrent ``certify`` never get the same number.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance._core.errors import InputError, Problem


def prefix_for(edition: str) -> str:
    """``hqts-2026.1`` → ``HQTS-2026.1``."""
    return edition.upper()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / (path.name + ".lock")).open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"format": "tokencert-registry/1", "counters": {}, "issued": []}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"registry {path} is not JSON", [Problem(
            exc.msg, file=str(path), line=exc.lineno, hint="restore it from backup")]) from None
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


@dataclass(frozen=True)
class Registry:
    path: Path

    def allocate(self, edition: str, year: int, record: dict[str, Any],
                 prefix: str | None = None) -> str:
        """Reserve the next number of ``year`` and record ``record`` under it."""
        with _locked(self.path):
            data = _read(self.path)
            key = (f"{prefix}-" if prefix else "") + f"{prefix_for(edition)}-{year:04d}"
            n = int(data["counters"].get(key, 0)) + 1
            if n > 999_999:
                raise InputError(f"registry {self.path}: numbers of {key} exhausted")
            data["counters"][key] = n
            number = f"{key}-{n:06d}"
            data["issued"].append({"number": number, **record})
            _write(self.path, data)
        return number

    def complete(self, number: str, **fields: Any) -> None:
        """Add fields (bundle digest, paths) to an allocated entry."""
        with _locked(self.path):
            data = _read(self.path)
            for entry in data["issued"]:
                if entry["number"] == number:
                    entry.update(fields)
            _write(self.path, data)

    def find(self, number: str) -> dict[str, Any] | None:
        """The registry entry of ``number`` (None: never issued here)."""
        return next((e for e in self.entries() if e.get("number") == number
                     and e.get("bundle_digest")), None)

    def entries(self) -> list[dict[str, Any]]:
        issued: list[dict[str, Any]] = _read(self.path)["issued"]
        return issued
