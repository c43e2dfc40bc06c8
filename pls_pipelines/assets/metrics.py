"""PLS metrics: product (PQA creation, time to PQA, adoption), sales (PQA conversion, product-qualified
revenue) and shared (expansion ARR, net revenue and logo retention), computed by lib/metrics.py."""

import dagster as dg
import pandas as pd

from pls_pipelines.assets.common import REVOPS_TEAM, SCORES_FRESHNESS, table_metadata
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.metrics import (
    BREAKDOWN_COLUMNS,
    feature_adoption,
    format_value,
    metrics_frame,
    product_metrics,
    revenue_metrics,
    sales_metrics,
    signup_dates,
    tier_breakdowns,
)
from pls_pipelines.lib.score_history import SCORE_HISTORY, pqa_milestones
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

PLS_METRICS = "pls_metrics"
PLS_METRIC_BREAKDOWNS = "pls_metric_breakdowns"
METRICS_GROUP = "metrics"


def _table(wh: Warehouse, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A warehouse table, or an empty frame when an optional input does not exist yet."""
    if not wh.table_exists(name):
        return pd.DataFrame(columns=columns or [])
    return wh.read_table(name, columns)


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata("pls_metrics"),
    group_name=METRICS_GROUP,
    deps=[SCORE_HISTORY, "account_routing", "account_usage_rollup", "crm_deals", "crm_companies", "account_map",
          "product_workspaces", "score_validation"],
    kinds={"python", "pandas"},
    owners=[REVOPS_TEAM],
)
def pls_metrics(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """The Product-Led Sales scorecard. Product: PQAs created per month, time from signup to PQA (median,
    p75), share of accounts reaching PQA, feature adoption by segment. Sales: PQA -> closed-won conversion,
    time from PQA to close, conversion and lift by tier, pipeline and won amount from PQAs (product-qualified
    revenue). Shared: expansion ARR, net revenue retention, logo retention. Headline figures in pls_metrics
    (each with its definition and source columns), series in pls_metric_breakdowns."""
    wh = warehouse.get_warehouse()
    routing = wh.read_table("account_routing")
    as_of = pd.to_datetime(routing["as_of_date"]).max().date()
    model = rules.scoring().primary_models[0]
    signups = signup_dates(wh.read_table("account_map", ["workspace_id", "account_id"]),
                           wh.read_table("product_workspaces", ["workspace_id", "created_at"]))
    milestones = pqa_milestones(_table(wh, SCORE_HISTORY), model, signups)
    deals = wh.read_table("crm_deals")

    product, product_series = product_metrics(milestones, int(routing["is_pqa"].fillna(False).astype(bool).sum()))
    metrics = metrics_frame([
        *product,
        *sales_metrics(milestones, deals, as_of),
        *revenue_metrics(deals, wh.read_table("crm_companies"), as_of),
    ])
    metrics["as_of_date"] = as_of
    feature_keys = [f.key for f in rules.catalog().features]
    breakdowns = pd.concat([
        product_series,
        feature_adoption(wh.read_table("account_usage_rollup"), feature_keys),
        tier_breakdowns(_table(wh, "score_validation", ["kind", "name", "conversion_rate", "lift"])),
    ], ignore_index=True)[BREAKDOWN_COLUMNS]
    wh.replace_table(PLS_METRICS, metrics)
    wh.replace_table(PLS_METRIC_BREAKDOWNS, breakdowns)

    shown = metrics.assign(shown=[format_value(v, u) for v, u in zip(metrics["value"], metrics["unit"], strict=True)])
    context.log.info("; ".join(f"{r.label}: {r.shown}" for r in shown.itertuples(index=False)))
    return dg.MaterializeResult(
        metadata={
            **table_metadata(metrics, descriptions={
                "metric": "Metric id", "label": "Plain-words name", "value": "The figure (NaN: not computable)",
                "unit": "share, days, count, currency or ratio", "detail": "What it was computed from, or why not",
                "definition": "What the metric means", "sources": "Warehouse columns it reads",
            }),
            "scorecard": dg.MetadataValue.md(
                shown[["label", "shown", "detail"]].rename(columns={"shown": "value"}).to_markdown(index=False)
            ),
            "definitions": dg.MetadataValue.md(
                metrics[["metric", "definition", "sources"]].to_markdown(index=False)
            ),
            "breakdown_rows": len(breakdowns),
        }
    )
