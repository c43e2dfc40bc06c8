"""The report renders in a real browser: headless Debian Chromium loads it with no console errors, every chart
drawn with data, the top-accounts table filled and nothing fetched from the network.

Skipped only where Chromium or its driver is absent (a developer machine without them); with
PLS_REQUIRE_CHROMIUM=1 (CI, see .ci/run) a skip would hide a broken report, so it fails instead.
"""

import os
from datetime import UTC, datetime

import pytest

from pls_pipelines.report import build_report, read_inputs
from pls_pipelines.report.browser_check import check_report, chromium_missing
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from tests.report import sample_tables

CHARTS = {"tier_funnel", "pqas_per_month", "time_to_pqa", "pqas_per_day", "score_distribution",
          "conversion_by_tier", "motions_by_segment", "feature_adoption"}


@pytest.fixture
def chromium() -> None:
    why_not = chromium_missing()
    if why_not:
        if os.environ.get("PLS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"PLS_REQUIRE_CHROMIUM=1 but {why_not}")
        pytest.skip(f"the browser check needs Chromium: {why_not}")


def test_the_report_renders_in_chromium_with_every_chart_drawn(chromium, tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    try:
        for name, frame in sample_tables.all_tables().items():
            wh.replace_table(name, frame)
        report = build_report(read_inputs(wh), tmp_path / "report" / "index.html",
                              datetime(2026, 12, 3, tzinfo=UTC))
    finally:
        dispose_all_engines()
    assert set(report.charts_drawn) == CHARTS

    result = check_report(report.path, tmp_path / "report.png")

    assert result.console_errors == []
    assert {c.chart for c in result.charts} == CHARTS
    assert [c.chart for c in result.charts if not c.has_data] == []
    assert result.table_rows == 4
    assert result.network_requests == []
    assert result.ok, result.problems
    assert result.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_check_reports_a_broken_page(chromium, tmp_path):
    """The check itself must see failures, or a passing test above proves nothing."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body>"
        "<div data-chart='empty'><div id='e' class='plotly-graph-div js-plotly-plot'></div></div>"
        "<script>document.getElementById('e')._fullLayout = {};"
        "document.getElementById('e').innerHTML = \"<svg class='main-svg'></svg>\";"
        "throw new Error('boom');</script></body></html>",
        encoding="utf-8",
    )
    result = check_report(broken)
    assert any("boom" in error for error in result.console_errors)
    assert [c.chart for c in result.charts if not c.has_data] == ["empty"]
    assert not result.ok
