"""The account features table: one row per account, the documented input of scoring and routing.

Windowed usage comes from the warehouse (lib/rollup_sql.py); this module adds who the account is (CRM name,
domain, size, paying or not) and the derived measures (feature breadth, velocity), so that every account in
the account map gets a row - including accounts with no activity in the window, which score low rather than
silently disappearing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from pls_pipelines.lib.event_catalog import EventCatalog

WON_STAGE = "closedwon"

COUNT_COLUMNS = [
    "active_users_1d",
    "active_users_7d",
    "active_users_28d",
    "active_users_prior_28d",
    "events_1d",
    "events_7d",
    "events_28d",
    "events_prior_7d",
    "events_prior_28d",
    "invites_7d",
    "invites_28d",
    "users_added_28d",
    "admin_changes_28d",
    "enterprise_page_views_28d",
    "pricing_page_views_28d",
]


# The columns of account_usage_rollup, in order (then one used_<feature> column per catalog feature).
ROLLUP_COLUMNS = (
    "account_id",
    "account_name",
    "domain",
    "crm_company_id",
    "is_crm_matched",
    "employee_count",
    "industry",
    "owner_id",
    "is_customer",
    "workspace_count",
    "is_consolidation",
    "users_total",
    *COUNT_COLUMNS,
    "features_used_28d",
    "core_features_used_28d",
    "advanced_features_used_28d",
    "velocity_7d",
    "usage_trend_28d",
    "active_user_trend_28d",
    "days_since_last_active",
    "days_since_last_invite",
    "days_since_last_enterprise_page_view",
    "as_of_date",
)


def paying_company_ids(companies: pd.DataFrame, deals: pd.DataFrame, as_of: date | None = None) -> set[str]:
    """Companies paying on `as_of` (today when None): they get expansion/churn plays instead of a PQA score.

    A company paid on a day when it had a deal won on or before it. A company the CRM marks as a customer with
    no won deal at all (billing without a deal record) has no date to go by and counts as paying throughout.
    Scoring a past day (history, backtests) must not see a deal won later: that account was still a
    prospect then, and its later win is exactly what a backtest checks the score against.
    """
    since = paying_since(companies, deals)
    if as_of is None:
        return set(since)
    return {company for company, first_day in since.items() if first_day <= as_of}


def paying_since(companies: pd.DataFrame, deals: pd.DataFrame) -> dict[str, date]:
    """The first day each company counts as paying by paying_company_ids' rule (date.min: throughout); companies
    never paying are left out. The rule lives here once, so features for many days (the score history) read
    the deals once instead of once per day."""
    won_deals = deals[(deals["stage"] == WON_STAGE) & deals["company_id"].notna()]
    ids = won_deals["company_id"].astype(str)
    # a won deal without a readable close date (or no close dates at all) has no date to go by: throughout
    closed = _close_dates(won_deals) if "close_date" in won_deals.columns else pd.Series(pd.NaT, index=ids.index)
    since: dict[str, date] = {}
    for company, day in zip(ids, closed, strict=True):
        first_day = date.min if pd.isna(day) else day
        since[company] = min(since.get(company, first_day), first_day)
    marked = set(companies.loc[companies["lifecycle_stage"] == "customer", "company_id"].astype(str))
    since.update(dict.fromkeys(marked - set(since), date.min))  # marked customer, no won deal at all
    return since


def won_between(deals: pd.DataFrame, after: date, until: date) -> set[str]:
    """Companies with a deal closed-won after `after` and on or before `until`: the outcome a score given on
    `after` is checked against (did the account buy within the following days?)."""
    won = deals[deals["stage"] == WON_STAGE]
    closed = _close_dates(won)
    in_window = closed.notna() & (closed > after) & (closed <= until)
    return set(won.loc[in_window, "company_id"].dropna().astype(str))


def _close_dates(deals: pd.DataFrame) -> pd.Series:
    """Each deal's close date (a date; NaT where missing or unreadable). As objects: when no date parses at all,
    `.dt.date` keeps the datetime64 dtype, which refuses to compare with a date.

    Each value is parsed on its own (format="mixed", timestamps by their UTC day): pandas otherwise guesses one
    format from the first value and silently drops every date written another way ("2026-03-05" then
    "2026-03-31T23:30:00Z"), and a value like "-1" parsed as year -1, which `.dt.date` cannot hold (ValueError).
    """
    stamps = pd.to_datetime(deals["close_date"], errors="coerce", format="mixed", utc=True)
    return stamps.where(stamps.dt.year.between(1, 9999)).dt.date.astype(object)


def build_account_features(
    windows: pd.DataFrame,
    account_map: pd.DataFrame,
    workspaces: pd.DataFrame,
    companies: pd.DataFrame,
    deals: pd.DataFrame,
    catalog: EventCatalog,
    as_of: date,
) -> pd.DataFrame:
    """Join account windows (from account_window_query) with identity and CRM facts; derive breadth/velocity."""
    return build_account_features_by_day(
        windows.assign(as_of_date=as_of), account_map, workspaces, companies, deals, catalog, [as_of]
    )


def build_account_features_by_day(
    windows: pd.DataFrame,
    account_map: pd.DataFrame,
    workspaces: pd.DataFrame,
    companies: pd.DataFrame,
    deals: pd.DataFrame,
    catalog: EventCatalog,
    days: Sequence[date],
) -> pd.DataFrame:
    """build_account_features for each of `days` at once: one row per (as_of_date, account), sorted by both.

    `windows` has one row per (as_of_date, account) with activity (account_window_query_by_day). Who an account
    is (names, domain, size, workspaces) does not depend on the day and is worked out once; what does - the
    windows, paying or not by the deals won by that day, days since the last activity - is per row. Every
    account gets a row for every day, active or not, exactly as building each day on its own would give.
    """
    days = list(dict.fromkeys(days))
    accounts = _account_facts(account_map, workspaces, companies)
    n = len(accounts)
    frame = accounts.iloc[np.tile(np.arange(n), len(days))].reset_index(drop=True)
    frame["as_of_date"] = np.repeat(np.array(days, dtype=object), n)
    # paying on a day from the first day paying (paying_since, paying_company_ids' rule), as day numbers
    first_paying = {company: day.toordinal() for company, day in paying_since(companies, deals).items()}
    first_day = accounts["crm_company_id"].map(first_paying).to_numpy(dtype="float64", na_value=np.inf)
    day_number = np.array([day.toordinal() for day in days], dtype="float64")
    frame["is_customer"] = np.tile(first_day, len(days)) <= np.repeat(day_number, n)

    windows = windows.assign(as_of_date=_dates(windows["as_of_date"]))
    frame = frame.merge(windows, on=["as_of_date", "account_id"], how="left")
    for column in COUNT_COLUMNS + [f"used_{f.key}" for f in catalog.features]:
        if column not in frame.columns:
            frame[column] = 0
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype("int64")

    core = [f"used_{f.key}" for f in catalog.features if f.tier == "core"]
    advanced = [f"used_{f.key}" for f in catalog.features if f.tier == "advanced"]
    frame["core_features_used_28d"] = frame[core].sum(axis=1) if core else 0
    frame["advanced_features_used_28d"] = frame[advanced].sum(axis=1) if advanced else 0
    frame["features_used_28d"] = frame["core_features_used_28d"] + frame["advanced_features_used_28d"]
    frame["velocity_7d"] = relative_change(frame["events_7d"], frame["events_prior_7d"])
    frame["usage_trend_28d"] = relative_change(frame["events_28d"], frame["events_prior_28d"])
    frame["active_user_trend_28d"] = relative_change(frame["active_users_28d"], frame["active_users_prior_28d"])
    as_of = pd.to_datetime(frame["as_of_date"])
    for days_since, last_date in (
        ("days_since_last_active", "last_active_date"),
        ("days_since_last_invite", "last_invite_date"),
        ("days_since_last_enterprise_page_view", "last_enterprise_page_view_date"),
    ):
        last = pd.to_datetime(frame[last_date], errors="coerce") if last_date in frame else None
        frame[days_since] = (as_of - last).dt.days.astype("Int64") if last is not None else pd.NA

    ordered = list(ROLLUP_COLUMNS)
    # which features each account used in the last 28 days (feature adoption by segment reads them)
    ordered += [f"used_{f.key}" for f in catalog.features]
    return frame[ordered].sort_values(["as_of_date", "account_id"], kind="stable").reset_index(drop=True)


def _account_facts(account_map: pd.DataFrame, workspaces: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """Who each account is, whatever the day: identity's account map joined with workspace and CRM company."""
    accounts = (
        account_map.merge(workspaces[["workspace_id", "name"]], on="workspace_id", how="left")
        .sort_values("workspace_id")
        .groupby("account_id", sort=True)
        .agg(
            crm_company_id=("crm_company_id", "first"),
            workspace_name=("name", "first"),
            proposed_domain=("domain", "first"),
            # Workspace count and consolidation are identity's call (lib/identity.py); carried, not recomputed.
            workspace_count=("workspace_count", "first"),
            is_consolidation=("is_consolidation", "first"),
            users_total=("member_count", "sum"),
        )
        .reset_index()
    )
    company_facts = companies.rename(columns={"company_id": "crm_company_id", "name": "company_name"})[
        ["crm_company_id", "company_name", "domain", "employee_count", "industry", "owner_id"]
    ]
    frame = accounts.merge(company_facts, on="crm_company_id", how="left")
    frame["account_name"] = frame["company_name"].fillna(frame["workspace_name"])
    frame["domain"] = frame["domain"].fillna(frame["proposed_domain"])
    frame["is_crm_matched"] = frame["crm_company_id"].notna()
    frame["is_consolidation"] = frame["is_consolidation"].astype(bool)
    frame["employee_count"] = whole_counts(frame["employee_count"])
    return frame


def whole_counts(values: pd.Series) -> pd.Series:
    """A CRM number field as whole numbers (Int64): fractions rounded down, text, infinities and numbers beyond
    int64 missing. CRMs hold what people typed ("12.5", "1e400"), and a plain cast of such a value to Int64
    raised and failed the whole rollup for one company."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    sane = np.isfinite(numbers) & (numbers.abs() < 2.0**63)
    return np.floor(numbers.where(sane)).astype("Int64")


def _dates(values: pd.Series) -> pd.Series:
    """Calendar days as datetime.date objects (the as_of_date the features carry), whatever the driver returned
    (date, datetime, Timestamp or text), so windows join the days they were computed for."""
    return pd.Series(pd.to_datetime(values).dt.date.to_numpy(dtype=object), index=values.index, dtype=object)


def relative_change(now: pd.Series, before: pd.Series) -> pd.Series:
    """(now - before) / before, rounded to 4 places; NaN when there is nothing before to compare with."""
    prior = pd.to_numeric(before, errors="coerce").astype(float)
    change = (pd.to_numeric(now, errors="coerce").astype(float) - prior) / prior.where(prior > 0)
    return change.round(4)
