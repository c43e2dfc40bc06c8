"""The static HTML report: the run's results as charts and a call list, written to a file on every run."""

from pathlib import Path

import dagster as dg

from pls_pipelines.assets.common import REVOPS_TEAM, SCORES_FRESHNESS
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.report import build_report, read_inputs
from pls_pipelines.report.page import INPUT_TABLES
from pls_pipelines.resources.report import ReportResource
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import WarehouseResource


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata("pls_report"),
    group_name="metrics",
    deps=["pls_metrics", "account_routing", "pqa_score_history", "score_validation"],
    kinds={"html", "plotly"},
    owners=[REVOPS_TEAM],
)
def pls_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    rules: RulesResource,
    report: ReportResource,
) -> dg.MaterializeResult:
    """The report RevOps opens instead of reading tables: headline figures (PQAs, time to PQA, PQA to won,
    product-qualified revenue, retention), charts of the score distribution by tier, the tier funnel, new PQAs
    per month, time to PQA, conversion by tier, motions by segment and feature adoption, and the top 25 PQAs
    with their reasons, economic buyer and champion. One self-contained HTML file (plotly.js inlined), so it
    opens offline; a section whose table is missing or empty says "no data yet" instead of failing the run.
    """
    scoring = rules.scoring()
    model = scoring.model(scoring.primary_models[0])
    inputs = read_inputs(
        warehouse.get_warehouse(),
        model=model.name,
        tiers=[t.name for t in model.tiers],
        thresholds={t.name: t.min_score for t in model.tiers if t.min_score > 0},
    )
    result = build_report(inputs, Path(report.path))
    context.log.info(f"Report written: {result.uri} ({len(result.charts_drawn)} charts, "
                     f"{result.top_accounts} top accounts)")
    if result.charts_without_data:
        context.log.warning(f"No data yet for: {', '.join(result.charts_without_data)}"
                            + (f" (missing tables: {', '.join(result.missing_tables)})"
                               if result.missing_tables else ""))
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": result.uri,
            "report_path": dg.MetadataValue.path(str(result.path.resolve())),
            "open_report": dg.MetadataValue.url(result.uri),
            "headline": dg.MetadataValue.md(result.headline_markdown),
            "charts_drawn": len(result.charts_drawn),
            "charts_without_data": ", ".join(result.charts_without_data) or "none",
            "top_accounts": result.top_accounts,
            "tables_read": ", ".join(t for t in INPUT_TABLES if t not in result.missing_tables),
            "tables_missing": ", ".join(result.missing_tables) or "none",
            "model": model.name,
            "model_version": model.version,
        }
    )
