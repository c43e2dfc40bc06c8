"""The report page: every section, escaped and masked text, figures formatted by unit, plotly.js inlined once,
nothing fetched from the network, "no data yet" for missing tables, atomic writes, and the Dagster asset."""

import math
import re
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from pls_pipelines.report import page
from pls_pipelines.report.page import ReportInputs, format_figure, read_inputs, render_report
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from tests.report import sample_tables

CHARTS = ["tier_funnel", "pqas_per_month", "time_to_pqa", "pqas_per_day", "score_distribution", "conversion_by_tier",
          "motions_by_segment", "feature_adoption"]
GENERATED = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def full_inputs() -> ReportInputs:
    return ReportInputs(
        routing=sample_tables.routing(), daily_tiers=sample_tables.daily_tiers(),
        validation=sample_tables.validation(), metrics=sample_tables.metrics(),
        breakdowns=sample_tables.breakdowns(),
    )


@pytest.fixture(scope="module")
def full_page() -> str:
    return render_report(full_inputs(), GENERATED)


def test_the_page_has_every_section(full_page):
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in full_page
        assert f'id="chart-{chart}"' in full_page, f"{chart} has no plot"
    assert full_page.count('<p class="how">') == len(CHARTS) + 1  # every chart and the table say how to read them
    assert 'id="headline"' in full_page and 'id="top-accounts"' in full_page
    assert "As of <strong>2026-12-02</strong>" in full_page
    assert "pqa <code>v-pqa</code>" in full_page and "expansion <code>v-expansion</code>" in full_page
    assert "Does the score predict wins?" in full_page and "ROC AUC 0.67" in full_page
    assert page.NO_DATA not in full_page
    footer = full_page[full_page.index("<footer>"):]
    assert all(table in footer for table in page.INPUT_TABLES)


def test_plotly_js_is_inlined_exactly_once_and_nothing_comes_from_the_network(full_page):
    assert full_page.count(get_plotlyjs()[:300]) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", full_page, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", full_page, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", page.CSS)
    assert "cdn.plot.ly/plotly" not in full_page.replace(get_plotlyjs(), "")


def test_text_from_the_tables_is_escaped_and_emails_masked(full_page):
    assert "<script>alert(" not in full_page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; 9 active users" in full_page
    assert "Atlas Bio &amp; Co" in full_page
    assert 'title="sales because &lt;rules&gt;"' in full_page  # the motion's reason, on hover
    assert sample_tables.EMAIL not in full_page
    assert "d***@acme.com" in full_page


def test_the_top_accounts_table_lists_the_pqas_by_score_with_their_buyers(full_page):
    table = full_page[full_page.index('<table class="accounts">'):full_page.index("</table>")]
    names = re.findall(r'<td class="account">([^<]+)', table)
    assert names == ["Atlas Bio &amp; Co", "Oak Commerce", "Slate Energy", "Quartz Logistics"]  # PQAs of both models
    assert "Nora Patel<div class=\"sub\">Chief Data Officer</div>" in table
    assert "Chen Okafor" in table and "atlas-bio.co" in table
    assert table.count("none found") == 2  # Oak Commerce has no champion, Quartz no economic buyer
    assert len(page.top_accounts(pd.concat([sample_tables.routing()] * 10), limit=25)) == 25


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(0.177, "share", "18%"), (0.045, "share", "4.5%"), (0.0, "share", "0%"), (1204500.0, "currency", "1,204,500"),
     (34.0, "days", "34 days"), (1.0, "days", "1 day"), (1.08, "ratio", "1.08x"), (1961.0, "count", "1,961"),
     (math.nan, "share", "n/a"), (None, "days", "n/a")],
)
def test_figures_are_formatted_by_unit(value, unit, text):
    assert format_figure(value, unit) == text


def test_headline_cards_in_reading_order_with_formatted_values(full_page):
    cards = re.findall(r'data-metric="([a-z_0-9]+)"', full_page)
    assert cards[:3] == ["pqas_current", "pqa_share", "time_to_pqa_days_median"]
    assert cards[-1] == "accounts"
    for text in ("18%", "34 days", "4.5%", "1,204,500", "1.08x", "1,961"):
        assert f">{text}</div>" in full_page
    assert '<div class="card-value na">n/a</div>' in full_page


def test_missing_tables_give_no_data_notes_not_a_crash():
    html = render_report(ReportInputs(missing=page.INPUT_TABLES), GENERATED)
    assert html.count(f"<strong>{page.NO_DATA}.</strong>") == len(CHARTS) + 2  # charts, headline, table
    assert "plotly-graph-div" not in html
    assert get_plotlyjs()[:300] not in html  # no chart: no 4 MB of JavaScript either
    assert "Not there yet: pls_metrics" in html


def test_a_partial_warehouse_draws_what_it_can(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        wh.replace_table("account_routing", sample_tables.routing())
        wh.replace_table("pls_metric_breakdowns", sample_tables.breakdowns().iloc[0:0])  # exists, but empty
        inputs = read_inputs(wh)
    finally:
        dispose_all_engines()
    assert inputs.missing == ("pls_metrics", "pqa_score_history", "score_validation")
    assert inputs.breakdowns is None
    result = page.build_report(inputs, tmp_path / "out" / "index.html", GENERATED)
    assert set(result.charts_drawn) == {"tier_funnel", "score_distribution", "motions_by_segment"}
    assert result.top_accounts == 4
    html = result.path.read_text(encoding="utf-8")
    assert html.count(get_plotlyjs()[:300]) == 1
    assert "pls_metric_breakdowns has no rows for this yet" in html


def test_read_inputs_counts_the_history_per_day_and_tier_for_the_prospect_model(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        for name, frame in sample_tables.all_tables().items():
            wh.replace_table(name, frame)
        inputs = read_inputs(wh, model="pqa")
    finally:
        dispose_all_engines()
    assert inputs.missing == ()
    daily = inputs.daily_tiers.sort_values(["snapshot_date", "tier"]).reset_index(drop=True)
    expected = sample_tables.daily_tiers("pqa").sort_values(["snapshot_date", "tier"]).reset_index(drop=True)
    assert daily["accounts"].tolist() == expected["accounts"].tolist()
    assert "model_version" in inputs.routing.columns and "recommended_contacts" not in inputs.routing.columns


def test_write_report_replaces_the_file_atomically(tmp_path):
    target = tmp_path / "report" / "index.html"
    page.write_report("first", target)
    page.write_report("second", target)
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]  # no temp file left behind
    assert target.stat().st_mode & 0o044 == 0o044  # readable by others, unlike a bare temp file


def test_headline_markdown_links_the_report_and_lists_the_figures():
    md = page.headline_markdown(full_inputs(), "file:///srv/report/index.html")
    assert md.startswith("**Report:** [file:///srv/report/index.html](file:///srv/report/index.html)")
    assert "| PQAs now | 87 | accounts at or above the PQA threshold today |" in md
    assert "| Accounts reaching PQA | 18% |" in md
    assert sample_tables.EMAIL not in md
    assert "pls_metrics is missing" in page.headline_markdown(ReportInputs())


def test_the_asset_writes_the_report_and_puts_its_link_and_figures_in_the_metadata(tmp_path):
    from pls_pipelines.assets.report import pls_report
    from pls_pipelines.resources.report import ReportResource
    from pls_pipelines.resources.rules import RulesResource
    from pls_pipelines.resources.warehouse import WarehouseResource

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    wh = Warehouse(url)
    for name, frame in sample_tables.all_tables().items():
        wh.replace_table(name, frame)
    target = tmp_path / "site" / "pls.html"
    try:
        result = dg.materialize(
            [pls_report],
            resources={"warehouse": WarehouseResource(url=url), "rules": RulesResource(),
                       "report": ReportResource(path=str(target))},
        )
    finally:
        dispose_all_engines()
    assert result.success
    assert target.exists() and 'data-chart="conversion_by_tier"' in target.read_text(encoding="utf-8")
    metadata = result.asset_materializations_for_node("pls_report")[0].metadata
    assert metadata["dagster/uri"].value == target.resolve().as_uri()
    assert metadata["open_report"].value == target.resolve().as_uri()
    assert Path(metadata["report_path"].value) == target.resolve()
    assert "| PQAs now | 87 |" in metadata["headline"].value
    assert metadata["charts_drawn"].value == len(CHARTS)
    assert metadata["charts_without_data"].value == "none"
    assert metadata["top_accounts"].value == 4
