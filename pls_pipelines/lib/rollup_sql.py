"""SQL for the heavy part of the pipeline, generated with SQLAlchemy Core so it runs inside any warehouse.

events -> user-days -> account windows is pushed down to the warehouse (DuckDB, PostgreSQL, or a
distributed engine) instead of pulling raw events into pandas. Column lists come from the event catalog,
so a feature added to config/product_events.yaml becomes a column here without a code change. Dates are
bound as parameters rather than computed with dialect-specific date arithmetic, which keeps the SQL portable.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from pls_pipelines.lib.event_catalog import EventCatalog
from pls_pipelines.lib.events import TRAIT_CALL_EVENTS

USER_DAILY_ACTIVITY = "user_daily_activity"

# Rolling windows (days) the account rollup reports; the prior windows give velocity.
WINDOWS = (1, 7, 28)


def _feature_column(key: str) -> str:
    return f"f_{key}"


def user_daily_activity_table(metadata: sa.MetaData, catalog: EventCatalog) -> sa.Table:
    counters = [
        "events",
        "invites",
        "users_added",
        "admin_changes",
        "enterprise_page_views",
        "pricing_page_views",
        "core_feature_events",
        "advanced_feature_events",
        *(_feature_column(f.key) for f in catalog.features),
    ]
    return sa.Table(
        USER_DAILY_ACTIVITY,
        metadata,
        sa.Column("activity_date", sa.Date, nullable=False),
        sa.Column("workspace_id", sa.String, nullable=False),
        sa.Column("user_id", sa.String, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in counters),
    )


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    # COUNT(*) FILTER (WHERE ...) is standard SQL (DuckDB, PostgreSQL) and ~20% faster in DuckDB than SUM(CASE).
    return sa.func.count().filter(condition)


def user_daily_activity_insert(events: sa.Table, activity: sa.Table, catalog: EventCatalog) -> sa.Insert:
    """INSERT INTO user_daily_activity SELECT ... GROUP BY day, workspace, user for :start..:end."""
    e = events.c
    feature_events = {f.key: list(f.events) for f in catalog.features}
    core = [name for f in catalog.features if f.tier == "core" for name in f.events]
    advanced = [name for f in catalog.features if f.tier == "advanced" for name in f.events]
    is_page_view = e.event == catalog.page_view_event
    enterprise_pages = list(catalog.enterprise_pages) or ["pricing"]
    measures = {
        "events": _count_if(e.event.not_in(TRAIT_CALL_EVENTS)),
        "invites": _count_if(e.event.in_(catalog.signal_events("invites") or ["-"])),
        "users_added": _count_if(e.event.in_(catalog.signal_events("users_added") or ["-"])),
        "admin_changes": _count_if(e.event.in_(catalog.signal_events("admin_changes") or ["-"])),
        "enterprise_page_views": _count_if(sa.and_(is_page_view, e.page.in_(enterprise_pages))),
        "pricing_page_views": _count_if(sa.and_(is_page_view, e.page == "pricing")),
        "core_feature_events": _count_if(e.event.in_(core or ["-"])),
        "advanced_feature_events": _count_if(e.event.in_(advanced or ["-"])),
        **{_feature_column(k): _count_if(e.event.in_(names)) for k, names in feature_events.items()},
    }
    select = (
        sa.select(
            e.event_date.label("activity_date"),
            e.workspace_id,
            e.user_id,
            *(expr.label(name) for name, expr in measures.items()),
        )
        .where(e.event_date.between(sa.bindparam("start"), sa.bindparam("end")))
        .group_by(e.event_date, e.workspace_id, e.user_id)
    )
    return activity.insert().from_select(["activity_date", "workspace_id", "user_id", *measures], select)


def delete_window(table: sa.Table, date_column: str) -> sa.Delete:
    return table.delete().where(table.c[date_column].between(sa.bindparam("start"), sa.bindparam("end")))


def window_bounds(as_of: date) -> dict[str, date]:
    """First day of each window ending at `as_of` (inclusive), plus the prior windows for velocity."""
    bounds = {f"d{n}": as_of - timedelta(days=n - 1) for n in WINDOWS}
    bounds["prior7_start"] = as_of - timedelta(days=13)
    bounds["prior28_start"] = as_of - timedelta(days=55)
    bounds["as_of"] = as_of
    return bounds


def _window_measures(a: sa.Table, catalog: EventCatalog, group_user: bool) -> list[sa.Label]:
    day = a.c.activity_date
    in_window = {n: day >= sa.bindparam(f"d{n}") for n in WINDOWS}
    prior7 = sa.and_(day >= sa.bindparam("prior7_start"), day < sa.bindparam("d7"))
    prior28 = sa.and_(day >= sa.bindparam("prior28_start"), day < sa.bindparam("d28"))

    def total(column: str, condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(a.c[column]).filter(condition), 0)

    measures = [
        *(total("events", in_window[n]).label(f"events_{n}d") for n in WINDOWS),
        total("events", prior7).label("events_prior_7d"),
        total("events", prior28).label("events_prior_28d"),
        total("invites", in_window[7]).label("invites_7d"),
        total("invites", in_window[28]).label("invites_28d"),
        total("users_added", in_window[28]).label("users_added_28d"),
        total("admin_changes", in_window[28]).label("admin_changes_28d"),
        total("enterprise_page_views", in_window[28]).label("enterprise_page_views_28d"),
        total("pricing_page_views", in_window[28]).label("pricing_page_views_28d"),
        sa.func.max(day).label("last_active_date"),
        # within the 56 days read; time decay of the invite and evaluation-page signals counts from these
        sa.func.max(day).filter(a.c.invites > 0).label("last_invite_date"),
        sa.func.max(day).filter(a.c.enterprise_page_views > 0).label("last_enterprise_page_view_date"),
    ]
    if not group_user:
        measures += [
            sa.func.count(sa.distinct(a.c.user_id)).filter(in_window[n]).label(f"active_users_{n}d")
            for n in WINDOWS
        ]
        measures.append(sa.func.count(sa.distinct(a.c.user_id)).filter(prior28).label("active_users_prior_28d"))
        measures += [
            sa.func.max(sa.case((sa.and_(in_window[28], a.c[_feature_column(f.key)] > 0), 1), else_=0)).label(
                f"used_{f.key}"
            )
            for f in catalog.features
        ]
    return measures


def account_window_query(activity: sa.Table, account_map: sa.Table, catalog: EventCatalog) -> sa.Select:
    """Per-account rolling windows from user-days (never from raw events). Bind window_bounds(as_of)."""
    a = activity
    return (
        sa.select(account_map.c.account_id, *_window_measures(a, catalog, group_user=False))
        .select_from(a.join(account_map, a.c.workspace_id == account_map.c.workspace_id))
        .where(a.c.activity_date.between(sa.bindparam("prior28_start"), sa.bindparam("as_of")))
        .group_by(account_map.c.account_id)
    )


def user_window_query(activity: sa.Table, catalog: EventCatalog) -> sa.Select:
    """Per-user rolling windows (invites, admin changes, page views) for buyer and champion evidence."""
    a = activity
    return (
        sa.select(a.c.user_id, *_window_measures(a, catalog, group_user=True))
        .where(a.c.activity_date.between(sa.bindparam("prior28_start"), sa.bindparam("as_of")))
        .group_by(a.c.user_id)
    )


def account_map_table(metadata: sa.MetaData) -> sa.Table:
    """Just the columns the rollup joins on; the full table is written from a frame by the identity asset."""
    return sa.Table(
        "account_map", metadata, sa.Column("workspace_id", sa.String), sa.Column("account_id", sa.String)
    )
