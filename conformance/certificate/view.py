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
    if unit == "ratio" and isinstance(value, int | float):
        return f"{value * 100:.2f} %"  # rates as percentages
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
            bound = f"≤ {_fmt(m['upper'], m['unit'])} (upper 95% bound decides)"
        elif m.get("lower") is not None:
            bound = f"≥ {_fmt(m['lower'], m['unit'])} (lower 95% bound decides)"
        out.append({"id": rid, "metric": f"{m['metric']} {m['stat']}",
                    "value": _fmt(m["value"], m["unit"]), "bound": bound,
                    "n": str(m["n"]) if m.get("n") is not None else ""})
        if len(out) >= limit:
            break
    return out


def scope(results: dict[str, Any], declaration: dict[str, Any] | None) -> list[list[str]]:
    """The conditions the levels hold under: (label, value) rows."""
    cand = results["candidate"]
    rows = [["Models", ", ".join(cand["models"])], ["Endpoint", cand["base_url"]]]
    if declaration is not None:
        perf = declaration.get("performance", {})
        rows.append(["Declared concurrency", str(perf.get("declared_concurrency", "—"))])
        rows.append(["Declared capacity", f"{perf.get('output_tokens_per_s', '—')} output "
                     "tokens/s"])
        limits = declaration.get("limits", {})
        if limits:
            rows.append(["Declared limits", ", ".join(f"{k} {v}" for k, v in
                                                      sorted(limits.items()))])
        gov = declaration.get("data_governance", {})
        if "DATA-001" in gov:
            rows.append(["Region (DATA-001)", str(gov["DATA-001"].get("statement", ""))])
    reviewed = [r["id"] for r in results["requirements"]
                if r.get("method") == "manual" and r.get("outcome") in ("pass", "fail")]
    rows.append(["Statements reviewed", ", ".join(reviewed) or "none"])
    if results.get("only"):
        rows.append(["Selection", f"only {results['only']} (partial run)"])
    return rows


def register_link(cert: CertificateData, bundle_digest: str | None) -> str:
    """What the QR code holds: the body's public register entry, number and digest."""
    base = str((cert.body or {}).get("register_url") or "")
    query = f"number={cert.number}" + (f"&digest={bundle_digest}" if bundle_digest else "")
    return f"{base.rstrip('?')}?{query}" if base else f"{cert.number}\n{bundle_digest or ''}"


def build_view(results: dict[str, Any], catalog: Catalog, cert: CertificateData,
               evaluator: Evaluator | None, bundle_digest: str | None,
               declaration: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "dialect": cand.get("dialect"),  # absent in results from before dialects
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
        "body": cert.body,
        "scope": scope(results, declaration),
        "register_link": register_link(cert, bundle_digest),
        "bundle_digest": bundle_digest,
        "run": {"started_at": results["started_at"], "finished_at": results["finished_at"],
                "tls": results["transport"].get("tls_version")},
    }
