"""The live dashboard in headless system Chromium (Selenium, the system chromedriver; no
browser download): leaderboard rows, sorting, filters, and charts that drew. The screenshot
goes to docs/images/monitor-dashboard.png when TOKENCERT_DOCS_IMAGES=1 (else tmp)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.monitor.dashboard import serve_in_thread
from conformance.monitor.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
DOCS_IMAGE = Path(__file__).parents[2] / "docs" / "images" / "monitor-dashboard.png"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="system chromium/chromedriver not installed (.ci/run installs chromium)")]

# Pixels drawn on a canvas (not transparent): a chart that rendered has thousands.
_DRAWN = """const c = document.getElementById(arguments[0]);
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n;"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1600,900", "--hide-scrollbars", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_in_chromium(demo_store: Store, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    server, url = serve_in_thread(demo_store, refresh_s=3600)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        wait.until(lambda d: d.execute_script("return document.body.dataset.loaded") == "6")
        rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
        assert len(rows) == 6
        cells = [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]
        par = [c for c in cells if c[0] == "short · parallel-4"]
        assert [c[2] for c in par] == ["fast", "overbilling", "slow"]
        assert [c[1] for c in par] == ["1", "2", "3"]
        assert "over-bills" in next(c for c in par if c[2] == "overbilling")[10]
        assert browser.execute_script(_DRAWN, "medians") > 2000
        assert browser.execute_script(_DRAWN, "series") > 500
        shot = DOCS_IMAGE if os.environ.get("TOKENCERT_DOCS_IMAGES") == "1" else \
            tmp_path / "monitor-dashboard.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 30_000

        # sorting by a column, then filtering by scenario
        browser.find_element(By.CSS_SELECTOR, "th[data-k=target]").click()

        def names(d: Any) -> list[str]:
            return [str(x) for x in d.execute_script(
                "return [...document.querySelectorAll('#leaderboard tbody tr')]"
                ".map(r => r.cells[2].textContent)")]

        wait.until(lambda d: names(d) == sorted(names(d)))
        assert names(browser)[:2] == ["fast", "fast"]
        Select(browser.find_element(By.ID, "scenario")).select_by_value("single")
        wait.until(lambda d: d.execute_script("return document.body.dataset.loaded") == "3")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")) == 3
        # no request left the machine: the page loaded only its own assets
        logs = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert logs and all(n.startswith(url.rstrip("/")) for n in logs), logs
    finally:
        server.should_exit = True
