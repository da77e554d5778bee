"""JSON Schema validation (draft 2020-12) with errors that point into the source file.

The schemas in ``spec/schemas`` are the single source of truth; code validates raw data
against them first and only then builds typed models.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from typing import Any, cast

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from conformance._core import resources
from conformance._core.errors import Problem
from conformance._core.yamldoc import Document, PathKey

SCHEMA_NAMES = ("catalog", "declaration", "profile", "results")


@cache
def load_schema(name: str) -> dict[str, Any]:
    with resources.schema_path(name).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


# referencing's Registry is generic in some releases and not in others: the ignore covers both.
@cache
def _registry() -> Registry:  # type: ignore[type-arg,unused-ignore]
    reg: Registry = Registry()  # type: ignore[type-arg,unused-ignore]
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        reg = reg.with_resource(schema["$id"], Resource.from_contents(schema))
    return reg


@cache
def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _subschema_properties(error: ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return sorted(cast(dict[str, Any], props))


def _explain(error: ValidationError) -> tuple[PathKey, str, str | None]:
    path: PathKey = tuple(error.absolute_path)
    hint: str | None = None
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = _subschema_properties(error)
        extras = [k for k in error.instance if k not in allowed]
        if extras:
            key = str(extras[0])
            path = (*path, key)
            message = f"unknown key {key!r}"
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"allowed keys here: {', '.join(allowed)}"
            )
    elif error.validator == "enum":
        options = [str(o) for o in cast(list[Any], error.validator_value)]
        close = difflib.get_close_matches(str(error.instance), options, n=1, cutoff=0.4)
        message = f"{error.instance!r} is not one of {', '.join(map(repr, options))}"
        hint = f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(options)}"
    elif error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        message = f"missing required key {missing!r}"
        title = error.schema.get("title") if isinstance(error.schema, dict) else None
        hint = f"add `{missing}:` here" + (f" (see the {title} schema)" if title else "")
    elif error.validator == "type":
        message = (
            f"expected {error.validator_value}, got {type(error.instance).__name__} "
            f"{error.instance!r}"
        )
        if error.validator_value == "string" and isinstance(error.instance, int | float):
            hint = "quote the value (money and versions are strings, to stay exact)"
    elif error.validator in ("pattern", "format"):
        desc = error.schema.get("description") if isinstance(error.schema, dict) else None
        hint = desc
    elif error.validator in ("oneOf", "anyOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return _explain(best)
    return path, message, hint


def validate_document(name: str, doc: Document) -> list[Problem]:
    """All schema violations of ``doc`` against schema ``name``, each with file:line."""
    problems: list[Problem] = []
    for error in sorted(
        validator(name).iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))
    ):
        path, message, hint = _explain(error)
        problems.append(doc.problem(path, message, hint))
    return problems


def validate_data(name: str, data: Any, file: str = "<data>") -> list[Problem]:
    """Validate plain data (no positions), e.g. a results.json being re-read."""
    return validate_document(name, Document(data=data, file=file))


def validate_subschema(name: str, pointer: str, doc: Document) -> list[Problem]:
    """Validate against a subschema of ``name`` given by a JSON pointer (``/$defs/x``)."""
    schema = load_schema(name)
    sub = Draft202012Validator(
        {"$ref": f"{schema['$id']}#{pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    problems: list[Problem] = []
    for error in sorted(sub.iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))):
        path, message, hint = _explain(error)
        problems.append(doc.problem(path, message, hint))
    return problems
