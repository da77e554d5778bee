"""One exception tree for the whole toolkit.

Every error a user can cause derives from :class:`TokencertError` and carries enough
context (file, line, JSON path, hint) to be fixed without reading code. The CLI maps
the classes to exit codes in exactly one place (``conformance.cli.app``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One precise complaint about an input document."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    json_path: str = "$"
    hint: str | None = None

    def location(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def render(self) -> str:
        if self.file is None and self.json_path == "$":
            text = self.message
        else:
            text = f"{self.location()}: {self.json_path}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class TokencertError(Exception):
    """Base class of every error the toolkit raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems or [])

    def render(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message]
        lines.extend(p.render() for p in self.problems)
        return "\n".join(lines)


class InputError(TokencertError):
    """Bad user input: a file that does not parse or violates its schema."""


class SpecError(InputError):
    """The requirement catalog or a profile is invalid."""


class DeclarationError(InputError):
    """The candidate declaration is invalid."""


class RunError(TokencertError):
    """A run could not complete (exit code 3); what was recorded stays on disk."""

    exit_code = 3


class EvidenceError(TokencertError):
    """Evidence on disk is unreadable or inconsistent."""

    exit_code = 3


class CertificateError(TokencertError):
    """Certification refused or failed; the message says why."""

    exit_code = 1


class VerificationError(TokencertError):
    """A certificate or bundle could not be read for verification."""

    exit_code = 2


@dataclass
class ProblemList:
    """Accumulates problems so one pass reports all of them, not just the first."""

    items: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.items.append(problem)

    def __bool__(self) -> bool:
        return bool(self.items)
