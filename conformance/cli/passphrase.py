"""Passphrases for encrypted keys: from a named environment variable, or a hidden prompt.
Never echoed, never logged, never written."""

from __future__ import annotations

import os
import sys

import typer

from conformance._core.errors import InputError, Problem


def passphrase(env: str | None, what: str, confirm: bool = False,
               flag: str = "--passphrase-env") -> bytes:
    """The passphrase from ``env``, else a prompt; ``flag`` is the option that names the
    variable (used in the hint)."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise InputError(f"environment variable {env} is not set", [Problem(
                f"no passphrase for the {what}", hint=f"export {env}=... or omit the option "
                "to be prompted")])
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        raise InputError(f"no passphrase for the {what}", [Problem(
            "stdin is not a terminal, so no prompt is possible",
            hint=f"name an environment variable with {flag}")])
    value = typer.prompt(f"Passphrase for the {what}", hide_input=True,
                         confirmation_prompt=confirm)
    return str(value).encode("utf-8")
