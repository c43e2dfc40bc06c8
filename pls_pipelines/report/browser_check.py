"""Open a report in headless Chromium and say whether it really renders: no console errors, every chart drawn
with data, the top-accounts table filled, nothing fetched from the network. Optionally save a full-page
screenshot.

Shared by tests/report/test_report_browser.py and scripts/report_screenshot.py. selenium is a test extra, so it
is imported inside `check_report`: importing this module never needs it.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium and chromium-driver packages
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Per plotly div: which chart, whether plotly drew it, its traces and the points they hold. _fullData holds
# the decoded arrays (plotly 6+ ships numpy arrays base64-encoded in `data`); _length is plotly's own count.
_CHARTS_JS = """
const out = [];
for (const gd of document.querySelectorAll('.plotly-graph-div')) {
  const section = gd.closest('[data-chart]');
  let points = 0;
  for (const t of (gd._fullData || [])) {
    let n = (typeof t._length === 'number') ? t._length : 0;
    for (const k of ['x', 'y', 'z', 'values']) {
      const v = t[k];
      if (v && typeof v.length === 'number') n = Math.max(n, v.length);
    }
    points += n;
  }
  out.push({chart: section ? section.dataset.chart : gd.id,
            drawn: gd.classList.contains('js-plotly-plot') && !!gd._fullLayout && !!gd.querySelector('.main-svg'),
            traces: (gd.data || []).length, points: points});
}
return out;
"""
_ALL_DRAWN_JS = """
return document.readyState === 'complete' && Array.from(document.querySelectorAll('.plotly-graph-div'))
  .every(gd => gd.classList.contains('js-plotly-plot') && gd._fullLayout && gd.querySelector('.main-svg'));
"""
_NETWORK_JS = """
return performance.getEntriesByType('resource').map(e => e.name).filter(n => /^(https?|wss?):/i.test(n));
"""


@dataclass(frozen=True)
class ChartCheck:
    chart: str
    drawn: bool
    traces: int
    points: int

    @property
    def has_data(self) -> bool:
        return self.drawn and self.traces > 0 and self.points > 0


@dataclass
class BrowserCheck:
    console_errors: list[str] = field(default_factory=list)
    charts: list[ChartCheck] = field(default_factory=list)
    table_rows: int = 0
    network_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        found = [f"console error: {e}" for e in self.console_errors]
        found += [f"chart {c.chart} has no data (drawn={c.drawn}, traces={c.traces}, points={c.points})"
                  for c in self.charts if not c.has_data]
        found += [f"the page fetched {url} (a report must render offline)" for url in self.network_requests]
        if not self.charts:
            found.append("the page has no charts")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems


def chromium_missing(browser: Path = CHROMIUM, driver: Path = CHROMEDRIVER) -> str | None:
    """Why the check cannot run here (no browser or no driver), or None when it can."""
    missing = [str(p) for p in (browser, driver) if not p.exists()]
    if missing:
        return f"{' and '.join(missing)} not found (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def headless_chrome(browser: Path = CHROMIUM, driver: Path = CHROMEDRIVER, width: int = 1440) -> object:
    """A headless Debian Chromium driven by its chromedriver, quiet (no first-run, sync or background network),
    with the browser console log kept - shared by the report check and the asset-graph screenshot."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},1000", "--hide-scrollbars", "--force-device-scale-factor=1",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path keeps Selenium Manager from looking for (or downloading) a driver.
    return webdriver.Chrome(service=Service(executable_path=str(driver)), options=options)


def check_report(
    report: Path,
    screenshot: Path | None = None,
    *,
    width: int = 1440,
    timeout: float = 60.0,
    browser: Path = CHROMIUM,
    driver: Path = CHROMEDRIVER,
) -> BrowserCheck:
    """Load `report` in headless Chromium, wait for plotly to draw every chart, and collect what went wrong."""
    from selenium.webdriver.support.ui import WebDriverWait

    chrome = headless_chrome(browser, driver, width)
    try:
        chrome.set_page_load_timeout(timeout)
        chrome.get(report.resolve().as_uri())
        WebDriverWait(chrome, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(_ALL_DRAWN_JS))
        time.sleep(0.3)  # let plotly's async work (responsive relayout, late console errors) finish
        result = BrowserCheck(
            charts=[ChartCheck(c["chart"], bool(c["drawn"]), int(c["traces"]), int(c["points"]))
                    for c in chrome.execute_script(_CHARTS_JS)],
            table_rows=int(chrome.execute_script(
                "return document.querySelectorAll('table.accounts tbody tr').length;")),
            network_requests=list(chrome.execute_script(_NETWORK_JS)),
        )
        if screenshot is not None:
            result.screenshot = _full_page_screenshot(chrome, screenshot, width)
        result.console_errors = [e["message"] for e in chrome.get_log("browser") if e.get("level") == "SEVERE"]
        return result
    finally:
        chrome.quit()


def _full_page_screenshot(chrome: object, path: Path, width: int) -> Path:
    height = int(chrome.execute_script(  # type: ignore[attr-defined]
        "return Math.ceil(document.documentElement.scrollHeight);"))
    shot = chrome.execute_cdp_cmd("Page.captureScreenshot", {  # type: ignore[attr-defined]
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
