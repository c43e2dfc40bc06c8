"""The account features table: one row per account, the documented input of scoring and routing.

Windowed usage comes from the warehouse (lib/rollup_sql.py); this module adds who the account is (CRM name,
domain, size, paying or not) and the derived measures (feature breadth, velocity), so that every account in
the account map gets a row - including accounts with no activity in the window, which score low rather than
silently disappearing.
"""

from __future__ import annotations

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


def paying_company_ids(companies: pd.DataFrame, deals: pd.DataFrame) -> set[str]:
    """Companies with a won deal or marked as customers in the CRM: they get expansion/churn plays."""
    won = set(deals.loc[deals["stage"] == WON_STAGE, "company_id"].dropna().astype(str))
    marked = set(companies.loc[companies["lifecycle_stage"] == "customer", "company_id"].astype(str))
    return won | marked


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
    frame["is_customer"] = frame["crm_company_id"].isin(paying_company_ids(companies, deals))
    frame["employee_count"] = pd.to_numeric(frame["employee_count"], errors="coerce").astype("Int64")

    frame = frame.merge(windows, on="account_id", how="left")
    for column in COUNT_COLUMNS + [f"used_{f.key}" for f in catalog.features]:
        if column not in frame.columns:
            frame[column] = 0
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype("int64")

    core = [f"used_{f.key}" for f in catalog.features if f.tier == "core"]
    advanced = [f"used_{f.key}" for f in catalog.features if f.tier == "advanced"]
    frame["core_features_used_28d"] = frame[core].sum(axis=1) if core else 0
    frame["advanced_features_used_28d"] = frame[advanced].sum(axis=1) if advanced else 0
    frame["features_used_28d"] = frame["core_features_used_28d"] + frame["advanced_features_used_28d"]
    prior = frame["events_prior_7d"].astype(float)
    frame["velocity_7d"] = np.where(prior > 0, (frame["events_7d"] - prior) / prior.where(prior > 0), np.nan)
    frame["velocity_7d"] = frame["velocity_7d"].round(4)
    last_active = pd.to_datetime(frame.get("last_active_date"), errors="coerce")
    frame["days_since_last_active"] = (
        (pd.Timestamp(as_of) - last_active).dt.days.astype("Int64") if last_active is not None else pd.NA
    )
    frame["as_of_date"] = as_of

    ordered = [
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
        "days_since_last_active",
        "as_of_date",
    ]
    return frame[ordered].sort_values("account_id").reset_index(drop=True)


def primary_scores(scores: pd.DataFrame, preferred_model: str = "pqa") -> pd.DataFrame:
    """One score row per account for routing and the CRM: the preferred model's where it applies (prospects),
    else the first other model that scored the account (e.g. an expansion model for paying customers)."""
    ranked = scores.assign(_rank=(scores["model"] != preferred_model).astype(int))
    ranked = ranked.sort_values(["account_id", "_rank", "model"])
    return ranked.drop_duplicates("account_id").drop(columns="_rank").reset_index(drop=True)
