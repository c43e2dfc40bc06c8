"""What every asset module shares: the daily partitions, freshness defaults, owners and metadata helpers."""

import warnings
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pls_pipelines.lib.privacy import mask_frame_emails
from pls_pipelines.settings import freshness_hours

# Static so the asset graph never depends on when or where the code is loaded.
PARTITIONS_START = "2025-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
# A backfill of 90 days runs as one run that reads and writes the whole window at once: one transaction per
# table instead of 90 run launches, which is what makes `make run` and large backfills fast.
single_run_backfill = dg.BackfillPolicy.single_run()
# backfill_policy on @asset is marked beta in Dagster 1.13, and each asset using it printed a BetaWarning at
# import - in `make run`'s output and every test run. The policy is deliberate (a partition range is one run):
# the notice is silenced for that one parameter only, other beta and deprecation warnings still show.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function `asset` is currently in beta")

def freshness_policy(kind: str) -> dg.FreshnessPolicy:
    """How old `kind` (usage, scores, sync) may get before Dagster marks it late: PLS_FRESHNESS_<KIND>_HOURS,
    default 26 (a day plus a 2 h grace: the daily schedule runs at 06:00). Read when the definitions load -
    the policy is part of each asset's definition, so a change takes a code-location reload."""
    hours = freshness_hours(kind)
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=hours), warn_window=timedelta(hours=hours - 1))


USAGE_FRESHNESS = freshness_policy("usage")
SCORES_FRESHNESS = freshness_policy("scores")
SYNC_FRESHNESS = freshness_policy("sync")

DATA_TEAM = "team:data"
REVOPS_TEAM = "team:revops"


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """First and last day (inclusive) covered by this run's partition or partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def column_schema(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(c), type=str(frame[c].dtype), description=descriptions.get(str(c)))
            for c in frame.columns
        ]
    )


def schema_of(table: sa.Table, descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    """Column schema of a table the SQL defines (types from its DDL, not guessed from a sample)."""
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c.name, type=str(c.type), description=descriptions.get(c.name))
            for c in table.columns
        ]
    )


def lineage(deps: Mapping[str, Sequence[tuple[str, str]]]) -> dg.TableColumnLineage:
    """{output column: [(upstream asset, upstream column), ...]} -> Dagster column lineage."""
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=col) for asset, col in sources
            ]
            for column, sources in deps.items()
        }
    )


def table_metadata(
    frame: pd.DataFrame,
    *,
    preview_rows: int = 0,
    column_lineage: dg.TableColumnLineage | None = None,
    descriptions: Mapping[str, str] | None = None,
    **extra: object,
) -> dict[str, object]:
    """Row count, column schema (with column descriptions when given), optional lineage and an email-masked
    preview for a table an asset wrote."""
    metadata: dict[str, object] = {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": column_schema(frame, descriptions),
    }
    if column_lineage is not None:
        metadata["dagster/column_lineage"] = column_lineage
    if preview_rows and not frame.empty:
        preview = mask_frame_emails(frame.head(preview_rows))
        metadata["preview"] = dg.MetadataValue.md(preview.to_markdown(index=False))
    metadata.update(extra)
    return metadata
