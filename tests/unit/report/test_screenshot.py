"""The report opens in headless Chromium and shows its plots (a real browser, a real PNG)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conformance.report.html import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_report_screenshot_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    html = write_report(run_dir, pdf=False)[0]
    shot = tmp_path / "report.png"
    assert CHROMIUM is not None
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1280,2000", f"--screenshot={shot}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert _png_size(shot) == (1280, 2000)
    # A blank page compresses to almost nothing; plots and tables do not.
    assert shot.stat().st_size > 60_000
