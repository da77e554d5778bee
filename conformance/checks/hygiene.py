"""SEC-003 and SEC-006: scanners over every response body and header seen during a run."""

from __future__ import annotations

import re
from collections.abc import Iterable

from conformance.checks.findings import Observation, failed, passed
from conformance.run.records import RequestRecord

# Patterns of internal detail that must never reach a client.
_LEAKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("stack frame", re.compile(r'File "[^"]+", line \d+')),
    ("java/js stack frame", re.compile(r"\bat [\w$.]+\([\w$]+\.(?:java|js|ts|kt):\d+\)")),
    ("go panic", re.compile(r"goroutine \d+ \[running\]|panic: ")),
    ("exception class", re.compile(r"\b\w+(?:Error|Exception): .*\n\s+at ")),
    ("unix path", re.compile(r"(?<![\w/])/(?:home|usr|var|opt|srv|root|etc|app|tmp)/[\w./-]+")),
    ("windows path", re.compile(r"\b[A-Z]:\\\\?(?:[\w .-]+\\\\?)+")),
    ("private address", re.compile(
        r"\b(?:10\.\d{1,3}|172\.(?:1[6-9]|2\d|3[01])|192\.168)\.\d{1,3}\.\d{1,3}\b")),
    ("internal hostname", re.compile(r"\b[\w-]+\.(?:internal|local|svc\.cluster\.local)\b")),
    ("secret-looking token", re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}")),
)


def leaks_in(text: str) -> list[str]:
    return [name for name, rx in _LEAKS if rx.search(text)]


def _surfaces(rec: RequestRecord) -> Iterable[tuple[str, str]]:
    for k, v in rec.headers.items():
        yield f"header {k}", f"{k}: {v}"
    if rec.body is not None:
        yield "body", rec.body.decode("utf-8", "replace")
    for i, ev in enumerate(rec.events):
        yield f"event {i}", ev.data.decode("utf-8", "replace")


def error_hygiene(records: Iterable[RequestRecord]) -> list[Observation]:
    """SEC-003: no stack traces, paths, internal addresses or secrets in error answers.

    Only error responses (status >= 400) are scanned: a model may legitimately write a path
    in its generated text."""
    out = []
    for r in records:
        if r.status is None or r.status < 400:
            continue
        found = [f"{where}: {name}" for where, text in _surfaces(r) for name in leaks_in(text)]
        out.append(failed("errors_clean", "; ".join(found[:5]), evidence=(r.request_id,))
                   if found else passed("errors_clean", evidence=(r.request_id,)))
    return out


def key_not_echoed(records: Iterable[RequestRecord], secrets: Iterable[str]) -> list[Observation]:
    """SEC-006: no response body or header contains an API key (nor a long piece of one).

    Must run on records *before* redaction (the recorder redacts what it writes)."""
    probes = []
    for s in secrets:
        if len(s) >= 8:
            probes.append(s)
            probes.extend(s[i:i + 16] for i in range(0, max(1, len(s) - 16), 8))
    out = []
    for r in records:
        hits = [where for where, text in _surfaces(r) if any(p in text for p in probes)]
        out.append(failed("key_not_echoed", f"API key echoed in {', '.join(hits[:3])}",
                          evidence=(r.request_id,))
                   if hits else passed("key_not_echoed", evidence=(r.request_id,)))
    return out
