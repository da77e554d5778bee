from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.report.html import render_html, write_report


def test_report_is_self_contained_with_plots(run_dir: Path) -> None:
    html = render_html(run_dir)
    assert html.count("<svg") >= 6
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', "").replace(
        "http://www.w3.org/", "").replace("http://purl.org/dc", "").replace(
        "http://creativecommons.org", "").replace("http://matplotlib.org", "")
    assert "<script" not in html and "src=\"http" not in html
    # vendor strings are escaped, not interpreted
    assert "参考令牌服务 &lt;b&gt;" in html and "示例云 &amp; Co" in html
    assert "PERF-001" in html and "ttft_ms p99: 180 ms [150, 210] (n=400)" in html
    assert "Self-assessment" in html
    assert "TTFT (ms)" in html and "L1 p99 limit 5000" in html
    # every plot has its data (an empty plot is an SVG too): the scaling plot reads the
    # planned concurrency of each phase and the sweep's levels (1, 2, 4, 8: no warning),
    # the metering plot METER's count observations
    assert "no scaling data" not in html and "no metering data" not in html
    assert "concurrency level(s) measured" not in html
    assert "log scale" in html  # latency on a log axis
    # Fix first: the profile's note, MUST fail before MUST inconclusive, the root cause
    assert 'id="fix-first"' in html and "quick profile cannot grant a level" in html
    fix = html[html.index('id="fix-first"'):html.index("<h2>Plots")]
    assert fix.index("API-002") < fix.index("PERF-002")
    assert "Streams end without the `data: [DONE]` terminator" in fix


def test_report_reads_the_shapes_a_run_writes(run_dir: Path) -> None:
    from conformance.report.html import collect

    data = collect(run_dir)
    assert data.concurrency == {"sustained": 8, "scaling": 1}
    # 20 requests observed by two METER-001 metrics are 20 errors, not 40
    assert sum(len(v) for v in data.metering_errors.values()) == 20
    assert sorted(data.metering_errors) == ["code", "en", "ja", "zh"]
    assert max(data.metering_errors["en"]) == 0.01


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_report_pdf(run_dir: Path) -> None:
    paths = write_report(run_dir)
    assert [p.name for p in paths] == ["report.html", "report.pdf"]
    # pdftotext (poppler): pypdf 7 mis-decodes WeasyPrint's CID fonts.
    text = subprocess.run(["pdftotext", str(paths[1]), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "PERF-001" in text and "Self-assessment" in text


def test_missing_results_is_a_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from conformance._core.errors import InputError
    from conformance.report.html import load_results

    with pytest.raises(InputError, match=r"no results\.json"):
        load_results(tmp_path)


def test_pinned_fonts_are_subset_and_inlined(run_dir: Path) -> None:
    from conformance.report.pdf import font_files

    if not font_files():
        pytest.skip("no pinned fonts shipped yet")
    html = render_html(run_dir)
    assert "data:font/woff2;base64," in html
    assert len(html) < 3_000_000  # subset, not whole CJK fonts


def test_report_command(cli, run_dir: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("report", str(run_dir), "--no-pdf", "--json")
    assert res.code == 0, res.err
    assert (run_dir / "report.html").is_file()
    assert cli("report", str(run_dir / "nope")).code == 2
