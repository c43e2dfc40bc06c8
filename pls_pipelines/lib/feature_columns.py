"""The account features table's contract: every column scoring may read, what it means, and which are required.

One table drives four things, so they cannot drift apart: which columns a scoring model may name (typos fail
when the YAML loads), the column descriptions Dagster shows for `account_usage_rollup`, the README's table for
teams that bring their own features (`pls score --features FILE`), and the check of such a file - a missing
required column fails with the list, a missing optional one is reported and scores as "no data".

Required columns are the ones no usage-based score means anything without: who the account is, how many people
use the product and how much. Everything else is optional because real product data often lacks it (no invite
tracking, no page views, less than two weeks of history for velocity).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureColumn:
    name: str
    description: str
    required: bool = False
    numeric: bool = True  # numeric columns are the ones a component may score or a reason may quote


FEATURE_COLUMNS: tuple[FeatureColumn, ...] = (
    FeatureColumn("account_id", "One row per account: a CRM company id or a product workspace (`ws:<id>`)",
                  required=True, numeric=False),
    FeatureColumn("is_customer", "Paying customer as of the scoring date (true/false); missing counts as a "
                  "prospect", numeric=False),
    FeatureColumn("segment", "smb / mid_market / enterprise; selects a model's segment overrides (derived from "
                  "employee_count when absent)", numeric=False),
    FeatureColumn("active_users_28d", "People active in the last 28 days", required=True),
    FeatureColumn("events_28d", "Product events in the last 28 days", required=True),
    FeatureColumn("active_users_1d", "People active on the scoring date"),
    FeatureColumn("active_users_7d", "People active in the last 7 days"),
    FeatureColumn("active_users_prior_28d", "People active in the 28 days before the last 28"),
    FeatureColumn("events_1d", "Product events on the scoring date"),
    FeatureColumn("events_7d", "Product events in the last 7 days"),
    FeatureColumn("events_prior_7d", "Product events in the 7 days before the last 7"),
    FeatureColumn("events_prior_28d", "Product events in the 28 days before the last 28"),
    FeatureColumn("invites_7d", "Teammates invited in the last 7 days"),
    FeatureColumn("invites_28d", "Teammates invited in the last 28 days"),
    FeatureColumn("users_added_28d", "Users added to the workspace in the last 28 days"),
    FeatureColumn("admin_changes_28d", "Admin and role changes in the last 28 days"),
    FeatureColumn("enterprise_page_views_28d", "Visits to pricing, security, SSO, terms or privacy pages, 28 days"),
    FeatureColumn("pricing_page_views_28d", "Visits to the pricing page, 28 days"),
    FeatureColumn("features_used_28d", "Distinct features used in the last 28 days"),
    FeatureColumn("core_features_used_28d", "Distinct core features used in the last 28 days"),
    FeatureColumn("advanced_features_used_28d", "Distinct advanced features (SSO, audit log, integrations ...) "
                  "used in the last 28 days"),
    FeatureColumn("velocity_7d", "Week-over-week change in events, (events_7d - events_prior_7d) / "
                  "events_prior_7d; empty when the prior week had none"),
    FeatureColumn("usage_trend_28d", "Change in events against the prior 28 days; empty when those had none"),
    FeatureColumn("active_user_trend_28d", "Change in active users against the prior 28 days; empty when "
                  "nobody was active then"),
    FeatureColumn("days_since_last_active", "Days from the last active day to the scoring date"),
    FeatureColumn("days_since_last_invite", "Days since a teammate was last invited (within 56 days)"),
    FeatureColumn("days_since_last_enterprise_page_view", "Days since the last pricing/security/SSO/terms/privacy "
                  "page visit (within 56 days)"),
    FeatureColumn("employee_count", "Company size from the CRM"),
    FeatureColumn("users_total", "Product users in the account's workspaces"),
    FeatureColumn("workspace_count", "Product workspaces of the account"),
    FeatureColumn("is_consolidation", "1 when one company has several workspaces (a consolidation deal)"),
)

FEATURE_COLUMNS_BY_NAME = {column.name: column for column in FEATURE_COLUMNS}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in FEATURE_COLUMNS if c.required)
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c.name for c in FEATURE_COLUMNS if c.numeric)


def feature_descriptions() -> dict[str, str]:
    """Column name -> description, for Dagster's column schema of the features table."""
    return {column.name: column.description for column in FEATURE_COLUMNS}
