"""What the certificate (or self-assessment) shows, derived from results.json. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.bundle.builder import CertificateData
from conformance.certificate.levels import category_levels
from conformance.spec import Catalog

# Requirements whose first measurement is a headline figure, in display order.
KEY_REQUIREMENTS = ("PERF-001", "PERF-002", "PERF-004", "PERF-005", "STAB-002", "METER-001",
                    "STAB-006", "API-001")


@dataclass(frozen=True)
class Evaluator:
    name: str
    organisation: str


def _fmt(value: Any, unit: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        value = f"{value:.4g}"
    unit = {"ratio": "", "count": ""}.get(unit, unit)
    return f"{value} {unit}".strip()


def key_figures(results: dict[str, Any], limit: int = 6) -> list[dict[str, str]]:
    by_id = {r["id"]: r for r in results["requirements"]}
    order = [i for i in KEY_REQUIREMENTS if i in by_id] + [
        r["id"] for r in results["requirements"] if r["id"] not in KEY_REQUIREMENTS]
    out: list[dict[str, str]] = []
    for rid in order:
        r = by_id[rid]
        ms = [m for m in r.get("measurements", []) if m.get("value") is not None]
        if not ms:
            continue
        m = ms[0]
        bound = ""
        if m.get("upper") is not None:
            bound = f"≤ {_fmt(m['upper'], m['unit'])} (95% bound)"
        elif m.get("lower") is not None:
            bound = f"≥ {_fmt(m['lower'], m['unit'])} (95% bound)"
        out.append({"id": rid, "metric": f"{m['metric']} {m['stat']}",
                    "value": _fmt(m["value"], m["unit"]), "bound": bound,
                    "n": str(m["n"]) if m.get("n") is not None else ""})
        if len(out) >= limit:
            break
    return out


def build_view(results: dict[str, Any], catalog: Catalog, cert: CertificateData,
               evaluator: Evaluator | None, bundle_digest: str | None) -> dict[str, Any]:
    cats = category_levels(results["requirements"])
    titles = {c.id: c.title for c in catalog.categories}
    levels = dict(catalog.levels)
    summary = results["summary"]
    level = summary.get("level")
    counts: dict[str, int] = {}
    for r in results["requirements"]:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    cand = results["candidate"]
    return {
        "cert": cert.to_json(),
        "self_assessment": cert.kind == "self-assessment",
        "demo": cert.demo,
        "service": cand["name"],
        "vendor": cand["vendor"],
        "version": cand["version"],
        "models": cand["models"],
        "endpoint": cand["base_url"],
        "spec": results["spec"],
        "catalog_title": catalog.title,
        "profile": results["profile"]["id"],
        "level": level,
        "level_title": levels.get(level or "", "no level granted"),
        "certified": bool(summary.get("certified")),
        "summary_reason": summary.get("reason"),
        "categories": [{"id": c, "title": titles.get(c, c), "level": lv,
                        "level_title": levels.get(lv or "", {"met": "reviewed, met",
                                                             "n/a": "no MUST requirement"}
                                                  .get(lv or "", "—"))}
                       for c, lv in sorted(cats.items(),
                                           key=lambda kv: [c.id for c in catalog.categories]
                                           .index(kv[0]) if kv[0] in titles else 99)],
        "requirements": [{"id": r["id"], "title": r.get("title", ""),
                          "obligation": r["obligation"], "outcome": r["outcome"],
                          "level": ("reviewed" if r.get("method") == "manual" and
                                    r["outcome"] in ("pass", "fail") else
                                    r.get("level") or "—"),
                          "reason": r.get("reason") or ""}
                         for r in results["requirements"]],
        "counts": counts,
        "figures": key_figures(results),
        "evaluator": evaluator,
        "bundle_digest": bundle_digest,
        "run": {"started_at": results["started_at"], "finished_at": results["finished_at"],
                "tls": results["transport"].get("tls_version")},
    }
