"""What to fix first: the failed and undecided requirements of a run, ordered and grouped.

Order: MUST failures, then problems of the client (a saturated load generator makes
latency verdicts inconclusive), then undecided MUST requirements, then SHOULD failures.
Requirements that fail for one root cause form one item: a known cause (a stream without
``data: [DONE]`` fails API-002's framing and STAB-002's completeness alike), else the same
finding text (numbers aside), and undecided ones by their reason code. Pure over a
``results.json`` document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.report.junit import measurement_line

Req = Mapping[str, Any]


@dataclass(frozen=True)
class FixItem:
    rank: int  # 1 MUST fail, 2 client, 3 MUST inconclusive, 4 SHOULD fail
    kind: str
    cause: str
    requirements: tuple[str, ...]
    figures: tuple[str, ...]  # what was measured, against which limit
    action: str  # what to change
    expected: bool = False  # what this profile cannot avoid (e.g. quick: too few samples)


@dataclass(frozen=True)
class RootCause:
    key: str
    cause: str
    action: str
    matches: Callable[[Req], bool]


def _detail(r: Req) -> str:
    return str(r.get("detail") or "")


ROOT_CAUSES: tuple[RootCause, ...] = (
    RootCause(
        "no_done", "Streams end without the `data: [DONE]` terminator",
        "End every stream with `data: [DONE]` after the last chunk (and the usage chunk); "
        "a stream without it counts as cut off, so this one fix clears each requirement "
        "listed here.",
        lambda r: "[DONE]" in _detail(r)
        or (r.get("id") == "STAB-002" and "stream_complete" in _detail(r))),
    RootCause(
        "no_usage", "Responses carry no usage to meter or bill from",
        "Return `usage` in every non-streaming response and, with "
        "`stream_options.include_usage`, as the last chunk of every stream.",
        lambda r: "usage" in _detail(r).lower() and ("no usage" in _detail(r).lower()
                                                     or "missing" in _detail(r).lower())),
)

CATEGORY_ACTION = {
    "API": "Fix the response format the finding names; the evidence ids lead to the raw "
           "request and response.",
    "PERF": "The measured figure is beyond the limit: add capacity, shorten queues, or "
            "declare the concurrency the service sustains; look up the slow requests in "
            "the evidence.",
    "STAB": "Find the failed or cut-off requests in the evidence (status and error class); "
            "fix the cause on the service side before re-running.",
    "METER": "Count tokens with the declared tokenizer and chat template, and report them "
             "exactly in `usage`; the evidence shows reported against reference counts.",
    "BILL": "Make the billing export and the price list match what `usage` reports, "
            "request by request.",
    "SEC": "Fix the security control the finding names, then re-run the SEC checks "
           "(`--only 'SEC-*'`).",
}

REASON_ACTION = {
    "insufficient_samples": "Collect more requests: run the standard or certification "
                            "profile (`tokencert plan` shows what each phase sends).",
    "insufficient_duration": "Run long enough: the certification profile sustains the load "
                             "for the duration the higher levels require.",
    "client_saturated": "The load generator lagged, not (necessarily) the service: give it "
                        "more cores or workers (`tokencert plan` says how many; "
                        "`--ray-workers N`), or run it on another machine.",
    "check_error": "A check crashed (the instrument's fault, not the service's): the "
                   "traceback is in the requirement's detail; report it.",
    "no_test": "No test of this suite records evidence for it: use the packaged suite.",
    "no_evidence": "Nothing was recorded: the phase it needs did not run (see --only and "
                   "the run status).",
    "nondeterministic": "Answers to identical requests differed where they must not; make "
                        "the service deterministic for the probed parameters.",
}


def normalised_finding(r: Req) -> str:
    """The finding of a failed check with numbers blanked: ``3 of 3 do not hold; first:
    stream did not end…`` → ``stream did not end…``; ``p99(ttft_ms) 5585.87 is not <=
    5000`` → ``p99(ttft_ms) # is not <= #``."""
    d = _detail(r).strip().splitlines()[0] if _detail(r).strip() else str(r.get("reason"))
    if "first: " in d:
        d = d.split("first: ", 1)[1]
    return re.sub(r"\d+(\.\d+)?", "#", d)


def figures(r: Req, with_detail: bool = False) -> tuple[str, ...]:
    out = []
    d = _detail(r).strip()
    if d and with_detail:
        out.append(d.splitlines()[0][:300])
    out += [measurement_line(m) for m in list(r.get("measurements", []))[:2]]
    return tuple(out)


def _group_failures(reqs: Sequence[Req], rank: int, kind: str) -> list[FixItem]:
    groups: dict[str, list[Req]] = {}
    causes: dict[str, tuple[str, str]] = {}
    for r in reqs:
        rc = next((c for c in ROOT_CAUSES if c.matches(r)), None)
        if rc is not None:
            key = "rc:" + rc.key
            causes[key] = (rc.cause, rc.action)
        else:
            key = f"f:{r.get('category')}:{normalised_finding(r)}"
            first = _detail(r).strip().splitlines()
            text = first[0] if first else str(r.get("reason"))
            title = str(r.get("title") or "")
            causes.setdefault(key, ((f"{title}: " if title else "")
                                    + text.split("first: ", 1)[-1],
                                    CATEGORY_ACTION.get(str(r.get("category")), "")))
        groups.setdefault(key, []).append(r)
    out = []
    for key, members in groups.items():
        cause, action = causes[key]
        figs = tuple(f"{m['id']}: {f}" for m in members
                     for f in figures(m, with_detail=key.startswith("rc:"))[:2])
        out.append(FixItem(rank, kind, cause, tuple(str(m["id"]) for m in members), figs,
                           action))
    return out


def _client_items(doc: Mapping[str, Any]) -> list[FixItem]:
    client = doc.get("client") or {}
    bad = {ph: h for ph, h in client.items() if isinstance(h, dict) and h.get("saturated")}
    sat = [r for r in doc.get("requirements", []) if r.get("reason") == "client_saturated"]
    if not bad and not sat:
        return []
    figs = tuple(f"phase {ph}: " + "; ".join(map(str, h.get("reasons", [])))
                 for ph, h in bad.items())
    return [FixItem(2, "client problem", "The load generator was saturated: its own lag "
                    "would show up as the service's latency",
                    tuple(str(r["id"]) for r in sat), figs or tuple(
                        f"{r['id']}: {_detail(r)[:200]}" for r in sat),
                    REASON_ACTION["client_saturated"])]


def _inconclusive_items(reqs: Sequence[Req], eligible: bool, profile: str) -> list[FixItem]:
    by_reason: dict[str, list[Req]] = {}
    for r in reqs:
        if r.get("reason") == "client_saturated":
            continue  # told under the client problem
        by_reason.setdefault(str(r.get("reason")), []).append(r)
    out = []
    for reason, members in by_reason.items():
        expected = not eligible and reason in ("insufficient_samples", "insufficient_duration")
        cause = f"{reason.replace('_', ' ')}"
        if expected:
            cause += f" — expected of the {profile} profile"
        out.append(FixItem(3, "MUST inconclusive", cause,
                           tuple(str(m["id"]) for m in members),
                           tuple(f"{m['id']}: {_detail(m).splitlines()[0][:200]}"
                                 for m in members if _detail(m)),
                           REASON_ACTION.get(reason, "See the requirement's detail."),
                           expected))
    return out


def fix_first(doc: Mapping[str, Any]) -> list[FixItem]:
    """The items to fix, most urgent first."""
    reqs = list(doc.get("requirements", []))
    must = [r for r in reqs if r.get("obligation") == "MUST"]
    should = [r for r in reqs if r.get("obligation") != "MUST"]
    eligible = bool(doc.get("profile", {}).get("eligible", True))
    profile = str(doc.get("profile", {}).get("id", ""))
    items = _group_failures([r for r in must if r.get("outcome") == "fail"], 1, "MUST fail")
    items += _client_items(doc)
    items += _inconclusive_items([r for r in must if r.get("outcome") == "inconclusive"],
                                 eligible, profile)
    items += _group_failures([r for r in should if r.get("outcome") == "fail"], 4,
                             "SHOULD fail")
    return sorted(items, key=lambda i: (i.rank, i.expected))


def profile_expectation(doc: Mapping[str, Any]) -> str | None:
    """What the run's profile can grant, said up front (a quick run grants no level)."""
    p = doc.get("profile", {})
    notes = []
    if not p.get("eligible", True):
        notes.append(f"The {p.get('id')} profile cannot grant a level: it is a smoke run, too "
                     "short for the L1 sample sizes and durations, so PERF and STAB "
                     "requirements come out inconclusive (insufficient samples) by design. "
                     "Use it to find protocol, metering and security failures; run the "
                     "standard profile to rehearse, certification to certify.")
    if doc.get("only"):
        notes.append(f"Only {doc['only']} was run: a partial run grants no level.")
    return " ".join(notes) or None
