"""Rollups: events -> user-days (incremental per day) -> account rolling windows, computed in the warehouse."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pls_pipelines.assets.common import (
    DATA_TEAM,
    USAGE_FRESHNESS,
    daily_partitions,
    lineage,
    partition_dates,
    single_run_backfill,
    table_metadata,
)
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.accounts import build_account_features, build_account_features_by_day
from pls_pipelines.lib.event_catalog import EventCatalog
from pls_pipelines.lib.events import usage_event_tables
from pls_pipelines.lib.feature_columns import feature_descriptions
from pls_pipelines.lib.rollup_sql import (
    USER_DAILY_ACTIVITY,
    account_map_table,
    account_window_query,
    account_window_query_by_day,
    delete_window,
    user_daily_activity_insert,
    user_daily_activity_table,
    window_bounds,
)
from pls_pipelines.lib.segments import SegmentThresholds, assign_segments
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

ROLLUPS = "rollups"
ACCOUNT_USAGE_ROLLUP = "account_usage_rollup"


def _activity_table(wh: Warehouse, catalog: EventCatalog) -> sa.Table:
    """The user_daily_activity table for the current catalog, (re)created when the catalog's features change."""
    metadata = sa.MetaData()
    table = user_daily_activity_table(metadata, catalog)
    if wh.table_exists(USER_DAILY_ACTIVITY):
        existing = set(wh.columns(USER_DAILY_ACTIVITY))
        if existing != set(table.c.keys()):
            # A feature was added to or removed from the catalog: the old layout cannot take the new columns.
            wh.execute(f'DROP TABLE "{USER_DAILY_ACTIVITY}"')
    metadata.create_all(wh.engine, tables=[table])
    return table


def latest_activity_date(wh: Warehouse) -> date:
    """The day the account windows end: the newest day with user activity (deterministic for a data set)."""
    as_of = wh.scalar(f'SELECT MAX(activity_date) FROM "{USER_DAILY_ACTIVITY}"')
    if as_of is None:
        raise dg.Failure(
            "user_daily_activity is empty: materialize usage_events and user_daily_activity for at least one day "
            "first (`make run` does this for the demo data)."
        )
    return as_of.date() if isinstance(as_of, datetime) else as_of


def refresh_user_days(wh: Warehouse, catalog: EventCatalog, start: date, end: date) -> int:
    """Replace [start, end] of user_daily_activity from usage_events in one transaction; user-days written."""
    activity = _activity_table(wh, catalog)
    events, _ = usage_event_tables(sa.MetaData())
    params = {"start": start, "end": end}
    wh.run_in_transaction(
        [
            (delete_window(activity, "activity_date"), params),
            (user_daily_activity_insert(events, activity, catalog), params),
        ]
    )
    return wh.scalar(
        f'SELECT COUNT(*) FROM "{USER_DAILY_ACTIVITY}" WHERE activity_date BETWEEN :start AND :end', params
    )


def account_windows(wh: Warehouse, catalog: EventCatalog, as_of: date) -> pd.DataFrame:
    """Per-account rolling windows ending at `as_of`, aggregated in the warehouse from user-days."""
    metadata = sa.MetaData()
    query = account_window_query(user_daily_activity_table(metadata, catalog), account_map_table(metadata), catalog)
    return wh.read_sql(query, window_bounds(as_of))


@dataclass(frozen=True)
class AccountFacts:
    """Who the accounts are (identity and CRM), read once and reused for every day features are built for."""

    account_map: pd.DataFrame
    workspaces: pd.DataFrame
    companies: pd.DataFrame
    deals: pd.DataFrame

    @classmethod
    def read(cls, wh: Warehouse) -> "AccountFacts":
        return cls(
            wh.read_table("account_map"),
            wh.read_table("product_workspaces", ["workspace_id", "name"]),
            wh.read_table("crm_companies"),
            wh.read_table("crm_deals", ["deal_id", "company_id", "stage", "close_date"]),
        )


def account_features_as_of(
    wh: Warehouse, facts: AccountFacts, catalog: EventCatalog, segments: SegmentThresholds, as_of: date
) -> pd.DataFrame:
    """The account features table as it looked at the end of `as_of`: usage windows ending that day, and paying
    customers by the deals won by then. The current table, the score history and backtests all come from here,
    so a score of any day is computed the same way."""
    features = build_account_features(
        account_windows(wh, catalog, as_of), facts.account_map, facts.workspaces, facts.companies, facts.deals,
        catalog, as_of,
    )
    features.insert(
        features.columns.get_loc("employee_count") + 1, "segment", assign_segments(features["employee_count"], segments)
    )
    return features


def account_windows_for_days(wh: Warehouse, catalog: EventCatalog, days: Sequence[date]) -> pd.DataFrame:
    """account_windows for each of `days` in one query: one row per (as_of_date, account) with activity."""
    metadata = sa.MetaData()
    query = account_window_query_by_day(
        user_daily_activity_table(metadata, catalog), account_map_table(metadata), catalog, days
    )
    return wh.read_sql(query)


def account_features_for_days(
    wh: Warehouse, facts: AccountFacts, catalog: EventCatalog, segments: SegmentThresholds, days: Sequence[date]
) -> pd.DataFrame:
    """account_features_as_of for each of `days` at once: one row per (as_of_date, account), sorted by both,
    each day's rows equal to that day's account_features_as_of. One warehouse query for all the days instead of
    one each, and the per-account facts worked out once: what makes a 90-day score history take seconds.
    Memory grows with days x accounts, so callers pass bounded chunks of days."""
    if not days:
        raise ValueError("account_features_for_days needs at least one day")
    features = build_account_features_by_day(
        account_windows_for_days(wh, catalog, days), facts.account_map, facts.workspaces, facts.companies,
        facts.deals, catalog, days,
    )
    features.insert(
        features.columns.get_loc("employee_count") + 1, "segment", assign_segments(features["employee_count"], segments)
    )
    return features


@dg.asset(
    freshness_policy=USAGE_FRESHNESS,
    metadata=schema_metadata("user_daily_activity"),
    group_name=ROLLUPS,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    deps=["usage_events"],
    kinds={"sql"},
    owners=[DATA_TEAM],
)
def user_daily_activity(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """One row per user per active day: events, feature use, invites, admin changes and visits to pricing,
    security, terms and privacy pages. Computed by SQL inside the warehouse for the run's days only, so a daily
    run costs one day of events and a backfill replaces exactly the days it covers.
    """
    start, end = partition_dates(context)
    wh = warehouse.get_warehouse()
    rows = refresh_user_days(wh, rules.catalog(), start, end)
    context.log.info(f"user_daily_activity {start}..{end}: {rows:,} user-days")
    schema_frame = wh.read_sql(f'SELECT * FROM "{USER_DAILY_ACTIVITY}" WHERE 1 = 0')  # types for metadata
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                schema_frame,
                column_lineage=lineage(
                    {
                        "activity_date": [("usage_events", "event_date")],
                        "user_id": [("usage_events", "user_id")],
                        "events": [("usage_events", "event_id")],
                        "enterprise_page_views": [("usage_events", "page")],
                    }
                ),
            ),
            "dagster/row_count": dg.MetadataValue.int(int(rows)),
            "window": f"{start} .. {end}",
        }
    )


@dg.asset(
    freshness_policy=USAGE_FRESHNESS,
    metadata=schema_metadata("account_usage_rollup"),
    group_name=ROLLUPS,
    deps=["user_daily_activity", "account_map", "product_workspaces", "crm_companies", "crm_deals"],
    kinds={"sql", "pandas"},
    owners=[DATA_TEAM],
)
def account_usage_rollup(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """The account features table scoring reads: per account, users and active users (1/7/28 days), events,
    feature breadth (core and advanced), velocity against the prior week, invites, admin changes and
    enterprise page views, plus CRM facts (size, segment, paying customer, several workspaces).
    Aggregated in the warehouse from user-days, never from raw events.
    """
    wh = warehouse.get_warehouse()
    as_of = latest_activity_date(wh)
    features = account_features_as_of(wh, AccountFacts.read(wh), rules.catalog(), rules.routing().segments, as_of)
    wh.replace_table(ACCOUNT_USAGE_ROLLUP, features)
    active = int((features["active_users_28d"] > 0).sum())
    context.log.info(f"{len(features):,} accounts as of {as_of}; {active:,} active in the last 28 days")
    return dg.MaterializeResult(
        metadata=table_metadata(
            features,
            preview_rows=5,
            descriptions=feature_descriptions(),
            column_lineage=lineage(
                {
                    "active_users_28d": [("user_daily_activity", "user_id")],
                    "events_28d": [("user_daily_activity", "events")],
                    "invites_28d": [("user_daily_activity", "invites")],
                    "enterprise_page_views_28d": [("user_daily_activity", "enterprise_page_views")],
                    "account_id": [("account_map", "account_id")],
                    "employee_count": [("crm_companies", "employee_count")],
                    "is_customer": [("crm_deals", "stage"), ("crm_companies", "lifecycle_stage")],
                }
            ),
            as_of_date=str(as_of),
            active_accounts_28d=active,
        )
    )
