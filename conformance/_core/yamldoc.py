"""YAML documents that remember where every value came from.

``load_yaml`` returns the data plus a map from JSON path (tuple of keys/indices) to the
1-based (line, column) of that node, so any later complaint — schema violation, semantic
check — can name the file, line and column. Duplicate keys are an error (PyYAML silently
keeps the last one, which hides typos in catalogs and declarations).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance._core.errors import InputError, Problem

PathKey = tuple[str | int, ...]
MAX_YAML_BYTES = 1024 * 1024  # the largest catalog file is ~10 KB, a declaration ~3 KB


@dataclass(frozen=True)
class Document:
    """Parsed YAML with source positions."""

    data: Any
    file: str
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: PathKey) -> tuple[int | None, int | None]:
        """Best position for ``path``: the node itself or its nearest ancestor."""
        p = tuple(path)
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return (None, None)
            p = p[:-1]

    def problem(self, path: PathKey, message: str, hint: str | None = None) -> Problem:
        line, col = self.position(path)
        return Problem(
            message=message,
            file=self.file,
            line=line,
            column=col,
            json_path=json_path(path),
            hint=hint,
        )


def json_path(path: PathKey) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier() or part.replace("-", "_").isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


class _Loader(yaml.SafeLoader):
    """Safe loader; timestamps stay strings so documents round-trip through JSON Schema.
    Aliases are refused at the position they appear."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML's stubs omit it
            raise _AliasRefused(event.start_mark)
        node: yaml.Node | None = super().compose_node(parent, index)
        return node


class _AliasRefused(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("alias")
        self.mark = mark


# Dates such as 2026-01-01 stay strings: JSON Schema validates formats, not YAML.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def _construct(
    node: yaml.Node,
    loader: _Loader,
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    file: str,
) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise InputError(
                    f"duplicate key {key!r}",
                    [
                        Problem(
                            message=f"duplicate key {key!r} (first at line "
                            f"{positions[(*path, key)][0]})",
                            file=file,
                            line=key_node.start_mark.line + 1,
                            column=key_node.start_mark.column + 1,
                            json_path=json_path((*path, key)),
                            hint="remove one of the two entries; YAML would silently keep "
                            "only the last",
                        )
                    ],
                )
            out[key] = _construct(value_node, loader, (*path, key), positions, file)
            positions[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(child, loader, (*path, i), positions, file)
            for i, child in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _too_large(file: str, size: int, limit: int) -> InputError:
    return InputError(f"{file} is too large ({size:,} bytes; the limit is {limit:,})", [
        Problem(f"{size:,} bytes", file=file,
                hint="a catalog, profile or declaration is a few kilobytes: check that this "
                "is the file you meant")])


def parse_yaml(text: str, file: str = "<input>", max_bytes: int = MAX_YAML_BYTES) -> Document:
    """Parse one YAML document; syntax errors become an :class:`InputError` with a line."""
    if len(text) > max_bytes:
        raise _too_large(file, len(text.encode("utf-8", "replace")), max_bytes)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        positions: dict[PathKey, tuple[int, int]] = {}
        data = None if node is None else _construct(node, loader, (), positions, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InputError(
            f"{file} is not valid YAML",
            [
                Problem(
                    message=f"{exc.problem or 'syntax error'}"
                    + (f" ({exc.context})" if exc.context else ""),
                    file=file,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                    hint="check indentation and quoting around this position",
                )
            ],
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file} is not valid YAML", [Problem(str(exc), file=file)]) from None
    except _AliasRefused as exc:
        raise InputError(f"{file} uses a YAML alias", [Problem(
            "aliases (*name) are not accepted", file=file, line=exc.mark.line + 1,
            column=exc.mark.column + 1,
            hint="write the value out in full: these documents need no anchors or aliases")]
        ) from None
    except RecursionError:
        raise InputError(f"{file} is nested too deeply", [Problem(
            "nesting exceeds what the parser accepts", file=file,
            hint="a catalog, profile or declaration is a few levels deep")]) from None
    finally:
        loader.dispose()
    return Document(data=data, file=file, positions=positions)


def load_yaml(path: Path | str, max_bytes: int = MAX_YAML_BYTES) -> Document:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
            if len(raw) > max_bytes:
                size = os.fstat(fh.fileno()).st_size
                raise _too_large(str(p), max(size, len(raw)), max_bytes)
    except FileNotFoundError:
        raise InputError(
            f"file not found: {p}",
            [Problem("file not found", file=str(p), hint="check the path")],
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read {p}: {exc.strerror}", [Problem(str(exc), file=str(p))]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{p} is not UTF-8",
            [
                Problem(
                    f"invalid UTF-8 byte at offset {exc.start}",
                    file=str(p),
                    line=line,
                    hint="save the file as UTF-8",
                )
            ],
        ) from None
    return parse_yaml(text, str(p), max_bytes)
