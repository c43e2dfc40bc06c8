"""Ingest: product usage from the landing files and records from the CRM, into warehouse tables."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pls_pipelines.assets.common import (
    DATA_TEAM,
    FRESHNESS_26H,
    REVOPS_TEAM,
    daily_partitions,
    partition_dates,
    single_run_backfill,
    table_metadata,
)
from pls_pipelines.lib.events import ParsedEvents, parse_event_lines
from pls_pipelines.lib.progress import Progress
from pls_pipelines.lib.rollup_sql import USAGE_EVENTS, USAGE_EVENTS_REJECTED, usage_event_tables
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.usage_source import UsageSourceResource
from pls_pipelines.resources.warehouse import WarehouseResource

INGEST = "ingest"


@dg.asset(
    group_name=INGEST,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    kinds={"duckdb", "sql", "python"},
    owners=[DATA_TEAM],
    freshness_policy=FRESHNESS_26H,
    tags={"layer": "raw"},
)
def usage_events(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    usage_source: UsageSourceResource,
    rules: RulesResource,
) -> dg.MaterializeResult:
    """Every product event of the day, validated: the raw material of every score.

    Reads the day's landing file (events/YYYY-MM-DD.jsonl), keeps well-formed events and quarantines the rest in
    `usage_events_rejected` with a reason per line (bad JSON, missing ids, bad or future timestamps, duplicates).
    Re-running a day replaces that day, so backfills and late files never double-count.
    """
    start, end = partition_dates(context)
    source, catalog = usage_source.get_source(), rules.catalog()
    days = pd.date_range(start, end, freq="D").date
    now = datetime.now(UTC).replace(tzinfo=None)
    progress = Progress(len(days), "usage_events", "days", context.log.info)
    accepted, rejected, seen = [], [], set()
    for day in days:
        parsed = parse_event_lines(
            source.read_event_lines(day), day, source.event_file(day).name, catalog, now, seen_event_ids=seen
        )
        accepted.append(parsed.accepted)
        rejected.append(parsed.rejected)
        progress.advance(items=parsed.read)
    result = ParsedEvents(_concat(accepted), _concat(rejected))

    wh = warehouse.get_warehouse()
    events_table, _ = usage_event_tables(sa.MetaData())  # both tables share one MetaData
    events_table.metadata.create_all(wh.engine)
    wh.replace_window(USAGE_EVENTS, result.accepted, "event_date", start, end)
    wh.replace_window(USAGE_EVENTS_REJECTED, result.rejected, "event_date", start, end)

    reject_counts = result.reject_counts()
    if result.rejected.shape[0]:
        context.log.warning(
            f"quarantined {len(result.rejected):,} of {result.read:,} lines in {USAGE_EVENTS_REJECTED}: "
            + ", ".join(f"{reason} {n}" for reason, n in reject_counts.items())
        )
    return dg.MaterializeResult(
        metadata={
            **table_metadata(result.accepted),
            "window": f"{start} .. {end}",
            "lines_read": result.read,
            "accepted": len(result.accepted),
            "rejected": len(result.rejected),
            "reject_rate": round(len(result.rejected) / result.read, 6) if result.read else 0.0,
            "rejected_by_reason": dg.MetadataValue.json(reject_counts),
            "quarantine_table": USAGE_EVENTS_REJECTED,
        }
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    non_empty = [f for f in frames if not f.empty]
    return pd.concat(non_empty, ignore_index=True) if non_empty else frames[0]


def _landing_table_asset(name: str, reader: str, description: str) -> dg.AssetsDefinition:
    """Product users / workspaces: small full-refresh tables copied from the landing folder."""

    @dg.asset(
        name=name,
        group_name=INGEST,
        kinds={"duckdb", "python"},
        owners=[DATA_TEAM],
        freshness_policy=FRESHNESS_26H,
        description=description,
    )
    def _asset(warehouse: WarehouseResource, usage_source: UsageSourceResource) -> dg.MaterializeResult:
        frame = getattr(usage_source.get_source(), reader)()
        warehouse.get_warehouse().replace_table(name, frame)
        return dg.MaterializeResult(metadata=table_metadata(frame, preview_rows=5))

    return _asset


product_workspaces = _landing_table_asset(
    "product_workspaces",
    "read_workspaces",
    "Product workspaces (the unit that signs up): plan, creation date and, when billing or an integration "
    "linked it, the CRM company id. Identity resolution starts here.",
)
product_users = _landing_table_asset(
    "product_users",
    "read_users",
    "People using the product: email, workspace, role and the job title they gave at signup. Their email "
    "domains tie workspaces to companies; their titles and behaviour identify buyers and champions.",
)


def _crm_table_asset(object_type: str, description: str) -> dg.AssetsDefinition:
    """CRM companies / contacts / deals: read from the configured CRM into the warehouse."""
    name = f"crm_{object_type}"

    @dg.asset(
        name=name,
        group_name=INGEST,
        kinds={"duckdb", "python"},
        owners=[REVOPS_TEAM],
        freshness_policy=FRESHNESS_26H,
        description=description,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    )
    def _asset(warehouse: WarehouseResource, crm: CrmResource) -> dg.MaterializeResult:
        client = crm.get_client()
        try:
            frame = client.read(object_type)
        finally:
            client.close()
        warehouse.get_warehouse().replace_table(name, frame)
        return dg.MaterializeResult(metadata=table_metadata(frame, preview_rows=5, crm=client.kind))

    return _asset


crm_companies = _crm_table_asset(
    "companies",
    "Companies in the CRM with domain, industry, employee count and lifecycle stage: the accounts sellers own. "
    "Employee count gives the segment; the domain matches product users to the company.",
)
crm_contacts = _crm_table_asset(
    "contacts",
    "People the CRM knows, with job titles. Matched to product users by email so a seller sees who in the "
    "account is a buyer and who is a champion.",
)
crm_deals = _crm_table_asset(
    "deals",
    "Deals with stage, amount and close date. Closed-won deals mark paying customers (expansion and churn "
    "plays instead of new business) and are the outcome that scores are validated against.",
)
