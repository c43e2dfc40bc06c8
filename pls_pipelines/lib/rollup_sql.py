"""SQL for the heavy part of the pipeline, generated with SQLAlchemy Core so it runs inside any warehouse.

events -> user-days -> account windows is pushed down to the warehouse (DuckDB, PostgreSQL, or a
distributed engine) instead of pulling raw events into pandas. Column lists come from the event catalog,
so a feature added to config/product_events.yaml becomes a column here without a code change. Dates are
bound as parameters rather than computed with dialect-specific date arithmetic, which keeps the SQL portable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


# The names window_bounds returns, in a fixed order: the columns of a calendar of as-of days.
BOUND_NAMES = ("as_of", *(f"d{n}" for n in WINDOWS), "prior7_start", "prior28_start")

Bounds = Mapping[str, sa.ColumnElement[date]]


def _bound_params() -> dict[str, sa.BindParameter[date]]:
    """The bounds as bind parameters, for one as-of day (bind window_bounds(as_of))."""
    return {name: sa.bindparam(name) for name in BOUND_NAMES}


def window_calendar(days: Sequence[date]) -> sa.Values:
    """One row per as-of day with its window_bounds as columns, for computing the windows of many days at once.

    A VALUES list rather than date arithmetic in SQL (`as_of - INTERVAL '27 days'` is spelt differently in
    every warehouse): the bounds come from window_bounds, so the multi-day query cuts exactly the windows the
    single-day query does, and the dates travel as bind parameters like everywhere else in this module.
    """
    if not days:
        raise ValueError("window_calendar needs at least one day")
    rows = [tuple(window_bounds(day)[name] for name in BOUND_NAMES) for day in dict.fromkeys(days)]
    return sa.values(*(sa.column(name, sa.Date) for name in BOUND_NAMES), name="calendar").data(rows)


# The groups of measures _window_measures builds: sums and last dates (accounts and users), distinct active
# users and feature use (accounts).
TOTALS, ACTIVE_USERS, FEATURES = "totals", "active_users", "features"
ACCOUNT_MEASURES = (TOTALS, ACTIVE_USERS, FEATURES)


def _window_measures(
    a: sa.FromClause,
    catalog: EventCatalog,
    parts: Sequence[str] = ACCOUNT_MEASURES,
    bounds: Bounds | None = None,
    next_active: sa.ColumnElement[date] | None = None,
) -> list[sa.Label]:
    """The window aggregates over user-days `a` (`parts`: which groups), the one list of them for every query.

    `bounds` holds the BOUND_NAMES expressions: bind parameters by default (one as-of day), or the columns of
    a calendar joined in (many days). TOTALS and FEATURES only sum and compare the counters, so `a` may also be
    user-days already summed per account and day. `next_active`, each row's next active day of the same user
    and account (null: none), switches ACTIVE_USERS from COUNT(DISTINCT user_id) to counting each user's last
    row in the window - the same number as a plain count, which many as-of days at once can afford.
    """
    b = bounds if bounds is not None else _bound_params()
    day = a.c.activity_date
    in_window = {n: day >= b[f"d{n}"] for n in WINDOWS}
    prior7 = sa.and_(day >= b["prior7_start"], day < b["d7"])
    prior28 = sa.and_(day >= b["prior28_start"], day < b["d28"])

    def total(column: str, condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(a.c[column]).filter(condition), 0)

    def active_users(window: sa.ColumnElement[bool], first_day_after: str, inclusive: bool) -> sa.ColumnElement[int]:
        """Users with a user-day in `window`, which ends before bound `first_day_after` (inclusive: on it)."""
        if next_active is None:
            return sa.func.count(sa.distinct(a.c.user_id)).filter(window)
        after = b[first_day_after]
        left_window = next_active > after if inclusive else next_active >= after
        return sa.func.count().filter(sa.and_(window, sa.or_(next_active.is_(None), left_window)))

    measures = []
    if TOTALS in parts:
        measures += [
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
    if ACTIVE_USERS in parts:
        measures += [active_users(in_window[n], "as_of", inclusive=True).label(f"active_users_{n}d") for n in WINDOWS]
        measures.append(active_users(prior28, "d28", inclusive=False).label("active_users_prior_28d"))
    if FEATURES in parts:
        measures += [
            sa.func.max(sa.case((sa.and_(in_window[28], a.c[_feature_column(f.key)] > 0), 1), else_=0)).label(
                f"used_{f.key}"
            )
            for f in catalog.features
        ]
    return measures


def _bigint(measure: sa.Label) -> sa.Label:
    """An integer measure cast to BIGINT. SUM(BIGINT) is HUGEINT in DuckDB, whose Python client converts it ~10x
    slower than BIGINT (a second per 50,000 account-days), and NUMERIC (Decimal objects) in PostgreSQL."""
    if isinstance(measure.type, sa.Integer):
        return sa.cast(measure.element, sa.BigInteger).label(measure.name)
    return measure


def account_window_query(activity: sa.Table, account_map: sa.Table, catalog: EventCatalog) -> sa.Select:
    """Per-account rolling windows from user-days (never from raw events). Bind window_bounds(as_of)."""
    a = activity
    return (
        sa.select(account_map.c.account_id, *_window_measures(a, catalog))
        .select_from(a.join(account_map, a.c.workspace_id == account_map.c.workspace_id))
        .where(a.c.activity_date.between(sa.bindparam("prior28_start"), sa.bindparam("as_of")))
        .group_by(account_map.c.account_id)
    )


def account_window_query_by_day(
    activity: sa.Table, account_map: sa.Table, catalog: EventCatalog, days: Sequence[date]
) -> sa.Select:
    """account_window_query for every day of `days` in one statement: one row per (as_of_date, account) with
    activity in that day's 56 days, the same measures (_window_measures) over the same window edges
    (window_bounds, via window_calendar). Nothing to bind: the days travel inside the statement.

    One query per day cost ~0.3 s each on the demo data; joining every user-day to each as-of day it counts for
    aggregates user-days x 56 rows, most of them for COUNT(DISTINCT). So the measures are split, each half
    over as few rows as give the same numbers (4.7M instead of 8.7M rows for the demo's 90 days):
    - sums, last dates and feature use over user-days summed per account and day (a fifth of the rows);
    - active users over each user's last user-day on or before the window's end (LEAD gives every row its
      user's next active day): a user-day joins only the as-of days for which it is that last row, and a
      plain count of them is the distinct count.
    Integer measures come back as BIGINT (_bigint). Rows grow with days x accounts: pass bounded chunks of days.
    """
    calendar = window_calendar(days)
    bounds: Bounds = {name: calendar.c[name] for name in BOUND_NAMES}
    edges = [window_bounds(day) for day in days]
    first = sa.bindparam("first_day", min(e["prior28_start"] for e in edges), type_=sa.Date)
    last = sa.bindparam("last_day", max(e["as_of"] for e in edges), type_=sa.Date)
    a = activity
    user_days = a.join(account_map, a.c.workspace_id == account_map.c.workspace_id)
    counters = [c for c in a.c if c.name not in ("activity_date", "workspace_id", "user_id")]

    account_days = (
        sa.select(account_map.c.account_id, a.c.activity_date, *(sa.func.sum(c).label(c.name) for c in counters))
        .select_from(user_days)
        .where(a.c.activity_date.between(first, last))
        .group_by(account_map.c.account_id, a.c.activity_date)
        .subquery("account_days")
    )
    total_measures = _window_measures(account_days, catalog, (TOTALS,), bounds)
    feature_measures = _window_measures(account_days, catalog, (FEATURES,), bounds)
    totals = _per_day_and_account(
        account_days, calendar, _in_56_days(account_days, bounds), [*total_measures, *feature_measures]
    ).subquery("totals")

    user_rows = (
        sa.select(
            account_map.c.account_id,
            a.c.activity_date,
            sa.func.lead(a.c.activity_date)
            .over(partition_by=(account_map.c.account_id, a.c.user_id), order_by=a.c.activity_date)
            .label("next_active_date"),
        )
        .select_from(user_days)
        .where(a.c.activity_date.between(first, last))
        .subquery("user_rows")
    )
    day, next_active = user_rows.c.activity_date, user_rows.c.next_active_date
    # the user's last row in the current 28 days, or in the prior 28 days: the only rows ACTIVE_USERS counts
    last_row = sa.or_(
        sa.and_(day >= bounds["d28"], sa.or_(next_active.is_(None), next_active > bounds["as_of"])),
        sa.and_(day < bounds["d28"], sa.or_(next_active.is_(None), next_active >= bounds["d28"])),
    )
    user_measures = _window_measures(user_rows, catalog, (ACTIVE_USERS,), bounds, next_active)
    users = _per_day_and_account(
        user_rows, calendar, sa.and_(_in_56_days(user_rows, bounds), last_row), user_measures
    ).subquery("users")

    # every (day, account) with user-days has both a totals and a users row; the outer join is belt and braces
    same_key = sa.and_(users.c.as_of_date == totals.c.as_of_date, users.c.account_id == totals.c.account_id)
    return sa.select(
        totals.c.as_of_date,
        totals.c.account_id,
        *(totals.c[m.name] for m in total_measures),
        *(sa.func.coalesce(users.c[m.name], 0).label(m.name) for m in user_measures),
        *(totals.c[m.name] for m in feature_measures),
    ).select_from(totals.outerjoin(users, same_key))


def _in_56_days(rows: sa.Subquery, bounds: Bounds) -> sa.ColumnElement[bool]:
    """A row of a day joins the as-of days whose 56 days (28 and the prior 28) it falls in."""
    return rows.c.activity_date.between(bounds["prior28_start"], bounds["as_of"])


def _per_day_and_account(
    rows: sa.Subquery, calendar: sa.Values, on: sa.ColumnElement[bool], measures: list[sa.Label]
) -> sa.Select:
    """`measures` of `rows` joined to `calendar` on `on`, per (as_of_date, account_id), integers as BIGINT."""
    return (
        sa.select(calendar.c.as_of.label("as_of_date"), rows.c.account_id, *map(_bigint, measures))
        .select_from(rows.join(calendar, on))
        .group_by(calendar.c.as_of, rows.c.account_id)
    )


def user_window_query(activity: sa.Table, catalog: EventCatalog) -> sa.Select:
    """Per-user rolling windows (invites, admin changes, page views) for buyer and champion evidence."""
    a = activity
    return (
        sa.select(a.c.user_id, *_window_measures(a, catalog, (TOTALS,)))
        .where(a.c.activity_date.between(sa.bindparam("prior28_start"), sa.bindparam("as_of")))
        .group_by(a.c.user_id)
    )


def account_map_table(metadata: sa.MetaData) -> sa.Table:
    """Just the columns the rollup joins on; the full table is written from a frame by the identity asset."""
    return sa.Table(
        "account_map", metadata, sa.Column("workspace_id", sa.String), sa.Column("account_id", sa.String)
    )
