"""Why ``certify`` refuses a run. Every reason is collected, not just the first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance._core import resources
from conformance._core.errors import Problem, SpecError
from conformance._core.schema import validate_data
from conformance.spec import Profile, load_edition, load_profile


@dataclass(frozen=True)
class Preflight:
    problems: tuple[Problem, ...]
    waived: tuple[Problem, ...]  # refusals a demo certificate proceeds past
    profile: Profile | None


def _p(msg: str, path: str, hint: str, file: str) -> Problem:
    return Problem(msg, file=file, json_path=path, hint=hint)


def _saturated(r: dict[str, Any]) -> bool:
    reasons = [r.get("reason")] + [v.get("reason") for v in r.get("levels", {}).values()]
    return "client_saturated" in reasons


def check_run(results: dict[str, Any], results_file: Path) -> Preflight:
    f = str(results_file)
    hard: list[Problem] = list(validate_data("results", results, f))
    if hard:  # nothing else can be trusted in a document that violates its schema
        return Preflight(tuple(hard), (), None)
    soft: list[Problem] = []
    if results["status"] != "complete":
        hard.append(_p("the run is incomplete", "$.status",
                       "resume or re-run until `tokencert run` reports complete", f))
    edition = resources.edition_of(results)
    if edition not in resources.editions():
        hard.append(_p(f"the run used edition {edition!r}, which this tokencert does not ship",
                       "$.spec.edition", f"editions shipped: {', '.join(resources.editions())}",
                       f))
    elif results["spec"]["digest"] != (shipped := load_edition(edition).digest):
        hard.append(_p(f"the run used catalog {results['spec']['digest']}, not the shipped "
                       f"edition {edition} {shipped}", "$.spec.digest",
                       "re-run with the catalog shipped with this tokencert", f))
    if results["transport"]["scheme"] != "https":
        hard.append(_p("the run was made over plain http", "$.transport.scheme",
                       "a certificate needs the service over TLS (SEC-002); use https", f))
    profile = None
    try:
        profile = load_profile(results["profile"]["id"])
    except SpecError:
        hard.append(_p(f"unknown profile {results['profile']['id']!r}", "$.profile.id",
                       "use a profile shipped with tokencert", f))
    if profile is not None and results["profile"].get("digest") != profile.digest:
        # an earlier version (spec/profiles/history) still re-judges, so old certificates
        # verify; a new certificate needs the profile as published now
        hard.append(_p(f"the run used an earlier version of profile {profile.id!r} "
                       f"({results['profile'].get('digest')}; published now {profile.digest})",
                       "$.profile.digest", "re-run with the profile shipped with this tokencert",
                       f))
    if profile is not None and not profile.eligible:
        soft.append(_p(f"profile {profile.id!r} is not eligible for certification",
                       "$.profile.id", "run the `certification` profile", f))
    for i, r in enumerate(results["requirements"]):
        at = f"$.requirements[{i}]"
        if r["obligation"] != "MUST":
            continue
        if _saturated(r):
            # Waivable for a DEMO certificate only: the requirement stays inconclusive (never
            # a pass) in the signed results, and the certificate says `demo: true`.
            soft.append(_p(f"{r['id']}: the load generator was saturated (client_saturated)",
                           at, "re-run on a machine that keeps up with the declared load", f))
        if r["method"] == "manual" and r["outcome"] not in ("pass", "fail", "not_applicable"):
            hard.append(_p(f"{r['id']}: manual requirement not yet decided", at,
                           f"record the decision: tokencert review RUN_DIR {r['id']} "
                           "--verdict pass|fail --note ...", f))
        elif r["method"] == "manual" and r["outcome"] == "fail":
            soft.append(_p(f"{r['id']}: failed the evaluator's review", at,
                           "the service does not meet this mandatory requirement", f))
        elif r["outcome"] == "inconclusive" and r.get("level") is None:
            soft.append(_p(f"{r['id']}: inconclusive at L1 ({r.get('reason')}); no level can "
                           "be granted", at, "collect more evidence (a longer profile)", f))
    summary = results["summary"]
    if not summary.get("certified") or summary.get("level") is None:
        soft.append(_p(f"the run is not certified ({summary.get('reason') or 'no level'})",
                       "$.summary", "fix the failing MUST requirements and re-run", f))
    return Preflight(tuple(hard), tuple(soft), profile)
