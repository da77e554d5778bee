"""The run report: one self-contained HTML file (inline CSS and SVG plots, no remote assets),
and the same document as PDF. Re-rendered from a run directory's saved results and evidence,
without re-running anything.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from conformance import __version__
from conformance._core import resources
from conformance._core.errors import InputError, Problem
from conformance.plan import sweep
from conformance.report import plots
from conformance.run.records import RequestRecord
from conformance.spec import Catalog, load_catalog

TEMPLATE = "report.html.j2"


@dataclass
class ReportData:
    results: dict[str, Any]
    records: dict[str, list[RequestRecord]] = field(default_factory=dict)
    metering_errors: dict[str, list[float]] = field(default_factory=dict)
    concurrency: dict[str, int] = field(default_factory=dict)  # planned, per phase


def load_results(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "results.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no results.json in {run_dir}", [Problem(
            "file not found", file=str(path),
            hint="pass a run directory written by `tokencert run`")]) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON",
                         [Problem(exc.msg, file=str(path), line=exc.lineno)]) from None
    return data


def iter_request_records(run_dir: Path) -> Iterable[RequestRecord]:
    """Every request record kept under ``evidence/`` (JSONL lines that carry a request)."""
    for path in sorted((run_dir / "evidence").rglob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line of a killed run
                rec = obj.get("record") if isinstance(obj.get("record"), dict) else obj
                if isinstance(rec, dict) and "request_id" in rec and "phase" in rec:
                    try:
                        yield RequestRecord.from_json(
                            {k: v for k, v in rec.items()
                             if k in RequestRecord.__dataclass_fields__})
                    except (TypeError, ValueError):
                        continue


def iter_metering_observations(run_dir: Path) -> Iterable[tuple[str, float]]:
    """(group, signed relative error) of every prompt-token count the METER checks
    recorded: the ``data`` of each measurement observation carrying ``field:
    prompt_tokens``, ``reported``, ``reference`` (and ``lang``), once per evidence record."""
    path = run_dir / "evidence" / "measurements.jsonl"
    if not path.is_file():
        return
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of a killed run
            obs = obj.get("observations") if isinstance(obj, dict) else None
            for o in obs if isinstance(obs, list) else ():
                data = o.get("data") if isinstance(o, dict) else None
                if not isinstance(data, dict) or data.get("field") != "prompt_tokens":
                    continue
                ref, rep = data.get("reference"), data.get("reported")
                key = ",".join(map(str, o.get("evidence") or [])) or line
                if key in seen or not isinstance(ref, int | float) or not ref \
                        or not isinstance(rep, int | float):
                    continue
                seen.add(key)
                yield str(data.get("lang", "all")), float((rep - ref) / ref)


def phase_concurrency(run_dir: Path) -> dict[str, int]:
    """Each planned phase's concurrency, from the run manifest (evidence/run.json)."""
    try:
        manifest = json.loads((run_dir / "evidence" / "run.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    phases = manifest.get("plan", {}).get("phases", {}) if isinstance(manifest, dict) else {}
    return {name: int(p["concurrency"]) for name, p in phases.items()
            if isinstance(p, dict) and isinstance(p.get("concurrency"), int)}


def collect(run_dir: Path) -> ReportData:
    data = ReportData(results=load_results(run_dir))
    if (run_dir / "evidence").is_dir():
        for rec in iter_request_records(run_dir):
            data.records.setdefault(rec.phase, []).append(rec)
        for group, err in iter_metering_observations(run_dir):
            data.metering_errors.setdefault(group, []).append(err)
        data.concurrency = phase_concurrency(run_dir)
    return data


def _thresholds(catalog: Catalog, rid: str, metric: str) -> dict[str, float]:
    try:
        req = catalog.get(rid)
    except KeyError:
        return {}
    out: dict[str, float] = {}
    for lvl, conds in req.thresholds.items():
        for c in conds:
            if c.metric == metric and c.stat in ("p99",) and not isinstance(c.value, bool):
                out[lvl] = float(c.value)
    return out


def _window(times: list[float]) -> float:
    """1-minute windows as in STAB-005 when the phase is long enough to show several."""
    span = max(times, default=0.0)
    return 60.0 if span >= 180 else max(1.0, round(span / 6))


def _phase_start(records: list[RequestRecord]) -> int:
    return min((r.sent_ns or r.scheduled_ns) for r in records) if records else 0


def build_plots(data: ReportData, catalog: Catalog) -> dict[str, str]:
    sustained = data.records.get("sustained", [])
    ok = [r for r in sustained if r.ok]
    ttft = [v for r in ok if (v := r.ttft_ms()) is not None]
    tpot = [v for r in ok if (v := r.tpot_ms()) is not None]
    t0 = _phase_start(sustained)
    times, ttft_t = [], []
    for r in ok:
        v = r.ttft_ms()
        if v is not None and r.sent_ns is not None:
            times.append((r.sent_ns - t0) / 1e9)
            ttft_t.append(v)
    out = {
        "ttft_cdf": plots.cdf(ttft, "TTFT at declared concurrency (CDF)", "TTFT (ms)",
                              _thresholds(catalog, "PERF-001", "ttft_ms")),
        "tpot_cdf": plots.cdf(tpot, "TPOT at declared concurrency (CDF)", "TPOT (ms/token)",
                              _thresholds(catalog, "PERF-002", "tpot_ms")),
        "ttft_time": plots.over_time(times, ttft_t, "TTFT over the sustained phase",
                                     "TTFT (ms)", window_s=_window(times)),
    }
    by_conc: dict[int, list[RequestRecord]] = defaultdict(list)
    for phase, recs in data.records.items():
        conc = data.concurrency.get(phase) if phase in SCALING_PHASES else sweep.level_of(phase)
        for r in recs:
            if conc is not None and r.ok:
                by_conc[conc].append(r)
    points: dict[int, tuple[float, float]] = {}
    for conc, recs in by_conc.items():
        span_ns = max((r.last_byte_ns or 0) for r in recs) - min((r.sent_ns or 0) for r in recs)
        toks = sum(r.output_tokens() or 0 for r in recs)
        ttfts = sorted(v for r in recs if (v := r.ttft_ms()) is not None)
        if span_ns > 0 and ttfts:
            points[conc] = (toks / (span_ns / 1e9), ttfts[len(ttfts) // 2])
    out["scaling"] = plots.versus_concurrency(points, "Throughput and TTFT vs concurrency")
    out["metering"] = plots.error_histogram(
        data.metering_errors, "Prompt-token metering error by language",
        "(reported − reference) / reference")
    counts, provoked = status_counts(data.records)
    out["status"] = plots.status_breakdown(counts, "Responses by status / error class",
                                           provoked)
    return out


# phases whose probes provoke refusals on purpose: the overload burst (429), the security
# probes (401 without a key, 400/413 for bad input), the protocol probes (400 for bad JSON
# or an over-long prompt); a 4xx there is the expected answer, a 5xx never is
PROVOKING_PHASES = ("burst", "security", "protocol")
# phases run at one concurrency with the sustained phase's workload (with the sweep's
# segments, sweep-<level>: conformance.plan.sweep)
SCALING_PHASES = ("scaling", "sustained")


def status_counts(records: Mapping[str, list[RequestRecord]]
                  ) -> tuple[dict[str, int], list[str]]:
    """Responses by class (``200``, ``429 provoked (burst)``, ``500``, ``timeout``) and the
    classes that are provoked refusals."""
    counts: Counter[str] = Counter()
    provoked: set[str] = set()
    for phase, recs in records.items():
        base = phase.split("-", 1)[0]
        for r in recs:
            if r.error:
                counts[r.error] += 1
                continue
            if r.status is None:
                continue  # not a request (a phase marker)
            key = str(r.status)
            if 400 <= r.status < 500 and base in PROVOKING_PHASES:
                key = f"{r.status} provoked ({base})"
                provoked.add(key)
            counts[key] += 1
    return dict(counts), sorted(provoked)


def _fmt_measurement(m: Mapping[str, Any]) -> str:
    v = m.get("value")
    unit = m.get("unit", "")
    if isinstance(v, bool) or v is None:
        text = str(v).lower()
    elif unit == "ratio":
        text = f"{v:.4%}" if isinstance(v, int | float) else str(v)
    else:
        text = f"{v:.4g} {unit}".strip()
    lo, hi = m.get("lower"), m.get("upper")
    if isinstance(lo, int | float) or isinstance(hi, int | float):
        def f(x: Any) -> str:
            if not isinstance(x, int | float):
                return "–"
            return f"{x:.4%}" if unit == "ratio" else f"{x:.4g}"
        text += f" [{f(lo)}, {f(hi)}]"
    n = m.get("n")
    if n is not None:
        text += f" (n={n})"
    return f"{m.get('metric')} {m.get('stat')}: {text}"


def render_html(run_dir: Path, catalog: Catalog | None = None) -> str:
    data = collect(run_dir)
    catalog = catalog or load_catalog(resources.catalog_dir(resources.edition_of(data.results)))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.certificates_dir() / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.ChainableUndefined,  # optional fields of results.json render empty
    )
    env.filters["measurement"] = _fmt_measurement
    reqs = data.results.get("requirements", [])
    thresholds = {}
    for r in reqs:
        try:
            req = catalog.get(r["id"])
        except KeyError:
            continue
        per_level: dict[str, str] = {
            lvl: "; ".join(c.describe(req.metric(c.metric).unit) for c in conds)
            for lvl, conds in req.thresholds.items()
        }
        if len(set(per_level.values())) == 1 and len(per_level) == 3:
            per_level = {"all levels": next(iter(per_level.values()))}
        thresholds[r["id"]] = per_level
    titles = {r.id: r.title for r in catalog}
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in reqs:
        by_cat[r["category"]].append(r)
    sustained = data.records.get("sustained", [])
    template = env.get_template(TEMPLATE)
    from conformance.report.triage import fix_first, profile_expectation

    context = dict(
        fix_first=fix_first(data.results), expectation=profile_expectation(data.results),
        results=data.results, categories=[c for c in catalog.categories if c.id in by_cat],
        by_cat=by_cat, thresholds=thresholds, titles=titles, plots=build_plots(data, catalog),
        tool_version=__version__, n_records=sum(len(v) for v in data.records.values()),
        n_sustained=len(sustained),
    )
    first = template.render(**context, font_css="", font_stack="sans-serif")
    from conformance.report.fonts import inline_font_css

    font_css, font_stack = inline_font_css("".join(sorted(set(first))))
    return template.render(**context, font_css=font_css, font_stack=font_stack)


def write_report(run_dir: Path, out_html: Path | None = None, pdf: bool = True) -> list[Path]:
    """Write ``report.html`` (and ``report.pdf``) into the run directory; return the paths."""
    html = render_html(run_dir)
    html_path = out_html or run_dir / "report.html"
    html_path.write_text(html, encoding="utf-8")
    written = [html_path]
    if pdf:
        from conformance.report.pdf import html_to_pdf

        pdf_path = html_path.with_suffix(".pdf")
        html_to_pdf(html, pdf_path)
        written.append(pdf_path)
    return written
