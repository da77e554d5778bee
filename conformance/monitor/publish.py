"""Publishing: the static HTML ranking with per-target pages and plots, and the signed
monthly monitoring report (PDF + evidence bundle, see ``signed.py``)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from conformance.monitor.figures import Interval, TargetFigures, Window
from conformance.monitor.store import Store

Say = Callable[[str], None]
METRIC_LABEL = {"output_tps": "output speed (tokens/s)", "ttft_ms": "time to first token",
                "e2e_ms": "end-to-end latency"}


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined)


def fmt(i: Interval, digits: int = 0, bounds: bool = True) -> str:
    if i.point is None:
        return "–"
    text = f"{i.point:.{digits}f}"
    if bounds and i.lower is None and i.upper is None:
        return text + " (too few for an interval)"
    if bounds:
        lo = "?" if i.lower is None else f"{i.lower:.{digits}f}"
        hi = "?" if i.upper is None else f"{i.upper:.{digits}f}"
        text += f" [{lo}–{hi}]"
    return text


def _pct(i: Interval) -> str:
    if i.point is None:
        return "–"
    return (f"{100 * i.point:.1f}% [{100 * (i.lower or 0):.1f}–"
            f"{100 * (i.upper if i.upper is not None else 1):.1f}]")


def row_view(x: TargetFigures) -> dict[str, Any]:
    diff = x.billed_tokens - x.audited_tokens
    share = "–" if x.honesty.point is None else f"{100 * x.honesty.point:.0f}%"
    honesty = f"{x.metering}: {share} billed exactly, {diff:+d} tok"
    return {
        "target": x.target, "page": f"target-{x.target}.html", "n": x.n,
        "rank_text": "–" if x.rank is None else f"{'=' if x.tied else ''}{x.rank}",
        "speed": fmt(x.median["output_tps"]), "speed90": fmt(x.p90["output_tps"], bounds=False),
        "ttft": fmt(x.median["ttft_ms"]), "ttft90": fmt(x.p90["ttft_ms"], bounds=False),
        "e2e": fmt(x.median["e2e_ms"], bounds=False), "avail": _pct(x.availability),
        "metering": x.metering, "honesty": honesty, "honesty_detail": (
            f"{_pct(x.honesty)} of probes billed exactly the audited prompt tokens; billed "
            f"{x.billed_tokens} vs audited {x.audited_tokens} tokens"),
        "price": "–" if x.effective_price_per_m is None else f"{x.effective_price_per_m:.3f}",
        "trend": "–" if x.trend is None else f"{100 * (x.trend - 1):+.1f}%",
    }


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class Image:
    alt: str
    src: str


def render(w: Window, title: str, *, images_inline: bool, out: Path | None = None,
           links: bool = True, number: str | None = None, font_css: str = "",
           only_target: str | None = None) -> tuple[str, dict[str, bytes]]:
    """HTML of the ranking (or one target's page) and the PNG files it references."""
    from conformance.monitor import plots

    files: dict[str, bytes] = {}

    def image(name: str, png: bytes, alt: str) -> Image:
        if images_inline:
            return Image(alt, _data_uri(png))
        files[name] = png
        return Image(alt, name)

    rankings = []
    for r in w.rankings:
        rows = [x for x in r.rows if only_target is None or x.target == only_target]
        if not rows:
            continue
        imgs = []
        if only_target is None:
            tag = f"{r.workload}-{r.scenario}"
            imgs.append(image(f"plots/price-{tag}.png", plots.latency_vs_price(
                rows, f"latency vs price · {r.workload} · {r.scenario}"), "latency vs price"))
            imgs.append(image(f"plots/availability-{tag}.png", plots.availability(
                rows, f"availability · {r.workload} · {r.scenario}"), "availability"))
        rankings.append({"workload": r.workload, "scenario": r.scenario,
                         "rows": [row_view(x) for x in rows], "images": imgs})
    html = _env().get_template("report.html.j2").render(
        title=title, w={"start": w.start.isoformat(), "end": w.end.isoformat(),
                        "campaign": w.campaign, "prober": w.prober,
                        "confidence": w.confidence},
        metric_label=METRIC_LABEL[w.metric], rankings=rankings, links=links, number=number,
        images=[], font_css=font_css)
    return html, files


def write_static(store: Store, w: Window, out: Path, title: str) -> list[Path]:
    """index.html (the ranking) and target-NAME.html (time series) under ``out``."""
    from conformance.monitor import plots

    out.mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    html, files = render(w, title, images_inline=False)
    written = [out / "index.html"]
    (out / "index.html").write_text(html, encoding="utf-8")
    targets = sorted({x.target for r in w.rankings for x in r.rows})
    for tg in targets:
        rows = store.requests(w.start, w.end, w.campaign, ("sent_at", "ttft_ms", "output_tps"),
                              target=tg, prober=w.prober)
        series = sorted((r["sent_at"], r["ttft_ms"], r["output_tps"]) for r in rows)
        png = plots.time_series(series, f"{tg}: every probe in the window")
        files[f"plots/series-{tg}.png"] = png
        page, more = render(w, f"{title} · {tg}", images_inline=False, only_target=tg,
                            links=False)
        files.update(more)
        page = page.replace("</body>", f'<p><img alt="time series" src="plots/series-{tg}.png">'
                            '</p>\n<p><a href="index.html">← ranking</a></p></body>')
        (out / f"target-{tg}.html").write_text(page, encoding="utf-8")
        written.append(out / f"target-{tg}.html")
    for name, data in files.items():
        (out / name).write_bytes(data)
    return written


def ranking_rows(w: Window) -> Sequence[dict[str, Any]]:
    """Flat rows for JSON consumers (dashboard, CLI)."""
    return [{"workload": r.workload, "scenario": r.scenario, **row_view(x),
             "median_output_tps": x.median["output_tps"].point,
             "median_ttft_ms": x.median["ttft_ms"].point, "rank": x.rank, "tied": x.tied,
             "speed_lo": x.median["output_tps"].lower, "speed_hi": x.median["output_tps"].upper}
            for r in w.rankings for x in r.rows]
