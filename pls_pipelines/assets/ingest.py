"""Ingest: product usage from the landing files and records from the CRM, into warehouse tables."""

import time
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pls_pipelines.assets.common import (
    DATA_TEAM,
    REVOPS_TEAM,
    USAGE_FRESHNESS,
    daily_partitions,
    partition_dates,
    schema_of,
    single_run_backfill,
    table_metadata,
)
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.crm_reads import READ_OVERLAP, full_read_due, replace_changed_rows
from pls_pipelines.lib.events import (
    USAGE_EVENTS,
    USAGE_EVENTS_COLUMNS,
    USAGE_EVENTS_REJECTED,
    reject_rate_summary,
    usage_event_tables,
)
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.event_loader import load_usage_events
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.usage_source import UsageSourceResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

INGEST = "ingest"


# A day with more than this share of lines quarantined usually means a tracking change broke something upstream.
REJECT_RATE_WARN = 0.02


@dg.asset(
    metadata=schema_metadata("usage_events"),
    group_name=INGEST,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    deps=["product_workspaces", ["product", "events"]],
    kinds={"duckdb", "sql"},
    owners=[DATA_TEAM],
    freshness_policy=USAGE_FRESHNESS,
    tags={"layer": "raw"},
)
def usage_events(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    usage_source: UsageSourceResource,
    rules: RulesResource,
) -> dg.MaterializeResult:
    """Every product event of the day, validated: the raw material of every score.

    Reads the day's landing files (JSON Lines, CSV or Parquet; our flat schema or Segment's track/identify/
    group/page calls) or the configured warehouse table. Well-formed events are kept; the rest go to
    `usage_events_rejected` with a reason per row (bad JSON, missing ids, bad or future timestamps, oversized
    properties, unknown workspace, duplicates). Re-running a day replaces that day, so backfills and late files
    never double-count. All of it runs as SQL in DuckDB or the warehouse, never row by row in Python.
    """
    start, end = partition_dates(context)
    source = usage_source.get_source()
    wh = warehouse.get_warehouse()
    clock = time.monotonic()
    report = load_usage_events(wh, source, rules.catalog(), start, end, datetime.now(UTC).replace(tzinfo=None))
    seconds = time.monotonic() - clock
    days = report.per_day()
    context.log.info(
        f"usage_events {start}..{end} from {source.describe()}: {len(report.files):,} files, {len(days):,} days, "
        f"{report.read:,} rows read in {seconds:.1f}s ({report.read / max(seconds, 1e-9):,.0f} rows/s); "
        f"{report.accepted:,} accepted, {report.rejected:,} rejected"
    )
    reject_counts = report.reject_counts()
    if report.rejected:
        context.log.warning(
            f"quarantined {report.rejected:,} of {report.read:,} rows in {USAGE_EVENTS_REJECTED}: "
            + ", ".join(f"{reason} {n:,}" for reason, n in reject_counts.items())
        )
    events_table, _ = usage_event_tables(sa.MetaData())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(report.accepted),
            "dagster/column_schema": schema_of(events_table, USAGE_EVENTS_COLUMNS),
            "window": f"{start} .. {end}",
            "source": source.describe(),
            "files_read": len(report.files),
            "rows_read": report.read,
            "accepted": report.accepted,
            "rejected": report.rejected,
            "reject_rate": round(report.rejected / report.read, 6) if report.read else 0.0,
            "rejected_by_reason": dg.MetadataValue.json(reject_counts),
            "quarantine_table": USAGE_EVENTS_REJECTED,
            "seconds": round(seconds, 2),
        }
    )


@dg.asset_check(
    asset=usage_events,
    description=f"Warns when over {REJECT_RATE_WARN:.0%} of the newest day is rejected.",
)
def usage_events_reject_rate(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """The reject rate of the newest loaded day, by reason: a tracking change that breaks events shows up the
    morning after, not weeks later as a mysteriously low score."""
    wh = warehouse.get_warehouse()
    # Only the newest day is counted: grouping the whole history by day would scan every event, every run.
    newest = {
        "day": wh.scalar(
            f"SELECT MAX(d) FROM (SELECT MAX(event_date) AS d FROM {USAGE_EVENTS} "
            f"UNION ALL SELECT MAX(event_date) FROM {USAGE_EVENTS_REJECTED}) newest"
        )
    }
    accepted = wh.read_sql(
        f"SELECT event_date, COUNT(*) AS n FROM {USAGE_EVENTS} WHERE event_date = :day GROUP BY event_date", newest
    )
    rejected = wh.read_sql(
        f"SELECT event_date, reason, COUNT(*) AS n FROM {USAGE_EVENTS_REJECTED} WHERE event_date = :day "
        "GROUP BY event_date, reason",
        newest,
    )
    summary = reject_rate_summary(accepted, rejected, newest_days=1)
    return dg.AssetCheckResult(
        passed=summary["reject_rate"] <= REJECT_RATE_WARN,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in summary.items()},
        description=(
            f"{summary['rejected']:,} of {summary['read']:,} rows rejected on {summary['day']} "
            f"({summary['reject_rate']:.2%}; threshold {REJECT_RATE_WARN:.0%})"
        ),
    )


def _landing_table_asset(name: str, table: str, description: str) -> dg.AssetsDefinition:
    """Product users / workspaces: small full-refresh tables from the landing folder or the source tables."""

    @dg.asset(
        name=name,
        metadata=schema_metadata(name),
        deps=[["product", table]],
        group_name=INGEST,
        kinds={"duckdb", "python"},
        owners=[DATA_TEAM],
        freshness_policy=USAGE_FRESHNESS,
        description=description,
    )
    def _asset(warehouse: WarehouseResource, usage_source: UsageSourceResource) -> dg.MaterializeResult:
        wh = warehouse.get_warehouse()
        frame = usage_source.get_source().read_table(table, wh)
        wh.replace_table(name, frame)
        return dg.MaterializeResult(metadata=table_metadata(frame, preview_rows=5))

    return _asset


product_workspaces = _landing_table_asset(
    "product_workspaces",
    "workspaces",
    "Product workspaces (the unit that signs up): plan, creation date and, when billing or an integration "
    "linked it, the CRM company id. Identity resolution starts here.",
)
product_users = _landing_table_asset(
    "product_users",
    "users",
    "People using the product: email, workspace, role and the job title they gave at signup. Their email "
    "domains tie workspaces to companies; their titles and behaviour identify buyers and champions.",
)


CRM_READ_STATE = "crm_read_state"
CRM_KEYS = {"companies": "company_id", "contacts": "contact_id", "deals": "deal_id"}


class CrmReadConfig(dg.Config):
    """Run config of the CRM ingest assets."""

    full_read: bool = False  # read every record now, instead of those modified since the last read


def crm_read_state_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        CRM_READ_STATE, metadata,
        sa.Column("object_type", sa.Text), sa.Column("last_read_at", sa.DateTime),
        sa.Column("last_full_read_at", sa.DateTime),
    )


def _crm_table_asset(object_type: str, description: str) -> dg.AssetsDefinition:
    """CRM companies / contacts / deals: read from the configured CRM into the warehouse, incrementally where
    the CRM's API can say what changed (HubSpot, Salesforce), in full every few days and on request."""
    name = f"crm_{object_type}"

    @dg.asset(
        name=name,
        metadata=schema_metadata(name),
        deps=[["crm", object_type]],
        group_name=INGEST,
        kinds={"duckdb", "python"},
        owners=[REVOPS_TEAM],
        freshness_policy=USAGE_FRESHNESS,
        description=description,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: CrmReadConfig,
        warehouse: WarehouseResource,
        crm: CrmResource,
        rules: RulesResource,
    ) -> dg.MaterializeResult:
        wh = warehouse.get_warehouse()
        started = datetime.now(UTC).replace(tzinfo=None)
        last_read, last_full = _read_state(wh, object_type)
        client = crm.get_client()
        incremental = (
            not config.full_read
            and callable(getattr(client, "read_modified_since", None))
            and wh.table_exists(name)
            and last_read is not None
            and not full_read_due(last_full, started, rules.crm_fields().full_read_every_days)
        )
        try:
            if incremental:
                changed = client.read_modified_since(object_type, last_read - READ_OVERLAP)
                frame = replace_changed_rows(wh.read_table(name), changed, CRM_KEYS[object_type])
            else:
                changed = frame = client.read(object_type)
        finally:
            client.close()
        wh.replace_table(name, frame)
        _write_state(wh, object_type, started, last_full if incremental else started)
        mode = f"incremental: {len(changed):,} modified since {last_read:%Y-%m-%d %H:%M}" if incremental else "full"
        context.log.info(f"{name}: {len(frame):,} records ({mode} read from {client.kind})")
        return dg.MaterializeResult(metadata=table_metadata(
            frame, preview_rows=5, crm=client.kind, read_mode="incremental" if incremental else "full",
            records_read=len(changed),
        ))

    return _asset


def _read_state(wh: Warehouse, object_type: str) -> tuple[datetime | None, datetime | None]:
    if not wh.table_exists(CRM_READ_STATE):
        return None, None
    rows = wh.read_table(CRM_READ_STATE)
    rows = rows[rows["object_type"] == object_type]
    if rows.empty:
        return None, None
    row = rows.iloc[-1]
    return _naive(row["last_read_at"]), _naive(row["last_full_read_at"])


def _naive(value) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def _write_state(wh: Warehouse, object_type: str, read_at: datetime, full_read_at: datetime | None) -> None:
    wh.ensure_tables([crm_read_state_table(sa.MetaData())])
    rows = wh.read_table(CRM_READ_STATE)
    rows = rows[rows["object_type"] != object_type]
    new = pd.DataFrame([{"object_type": object_type, "last_read_at": read_at, "last_full_read_at": full_read_at}])
    wh.replace_table(CRM_READ_STATE, pd.concat([rows, new], ignore_index=True) if not rows.empty else new)


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
