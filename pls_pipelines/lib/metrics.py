"""The Product-Led Sales metrics: is the product creating qualified accounts, do they close, do customers grow.

Each metric is a `Metric` with its definition and the source columns it reads, so the warehouse table, the
Dagster metadata, the report and the README say the same thing. A metric that the data cannot support (no
deals yet, no churn recorded) is NaN with a `detail` saying why, never a misleading zero.

Inputs are the warehouse tables as DataFrames: PQA milestones from the score history (lib/score_history), the
CRM's deals and companies, the account features. Accounts are CRM companies or `ws:` workspaces; deals belong
to CRM companies, so only matched accounts can convert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pls_pipelines.lib.accounts import WON_STAGE

LOST_STAGE = "closedlost"
# Deal kinds. CRMs name them differently (HubSpot's default types are only newbusiness / existingbusiness),
# so a renewal is a renewal type or an existing-business deal named "... Renewal"; other existing business
# is expansion.
NEW_BUSINESS, EXPANSION, RENEWAL = "new_business", "expansion", "renewal"
EXISTING_BUSINESS_TYPES = ("existingbusiness", "existing business", "expansion", "upsell", "cross-sell")
RENEWAL_TYPES = ("renewal",)
CHURNED_STAGES = ("former customer", "former_customer", "churned")
METRIC_COLUMNS = ["metric", "label", "value", "unit", "detail", "definition", "sources"]
BREAKDOWN_COLUMNS = ["metric", "dimension", "key", "value", "unit"]
RETENTION_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Metric:
    metric: str
    label: str
    value: float
    unit: str  # share | days | count | currency | ratio
    detail: str
    definition: str
    sources: str


def metrics_frame(metrics: Iterable[Metric]) -> pd.DataFrame:
    return pd.DataFrame([asdict(m) for m in metrics], columns=METRIC_COLUMNS)


def breakdown_rows(metric: str, dimension: str, values: Mapping[str, float], unit: str) -> pd.DataFrame:
    return pd.DataFrame(
        [(metric, dimension, str(k), float(v), unit) for k, v in values.items()], columns=BREAKDOWN_COLUMNS
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _of(part: int, whole: int, what: str) -> str:
    return f"{part:,} of {whole:,} {what}"


# --- product ----------------------------------------------------------------------------------------------


def product_metrics(milestones: pd.DataFrame, current_pqas: int) -> tuple[list[Metric], pd.DataFrame]:
    """PQA share, current PQAs, time from signup to PQA (median, p75), and the breakdowns: PQAs created per
    month and each account's days to PQA. `milestones`: lib/score_history.pqa_milestones with days_to_pqa."""
    accounts = len(milestones)
    reached = int(milestones["became_pqa_at"].notna().sum()) if accounts else 0
    days = pd.to_numeric(milestones.get("days_to_pqa", pd.Series(dtype=float)), errors="coerce").dropna()
    days = days[days >= 0]
    already = int(milestones["pqa_on_first_snapshot"].fillna(False).astype(bool).sum()) if accounts else 0
    median = float(days.median()) if len(days) else math.nan
    p75 = float(days.quantile(0.75)) if len(days) else math.nan
    timing = (f"from {len(days):,} accounts that became a PQA while the history was kept"
              + (f" ({already:,} were PQAs before it began: their time is unknown)" if already else ""))
    metrics = [
        Metric("accounts", "Accounts scored", float(accounts), "count", f"{accounts:,} accounts in the history",
               "Accounts the new-business model scored at least once in the score history.",
               "pqa_score_history.account_id"),
        Metric("pqas_current", "PQAs now", float(current_pqas), "count", "accounts at or above the PQA threshold "
               "today", "Accounts whose primary score is at or above its model's PQA threshold today.",
               "account_routing.is_pqa"),
        Metric("pqa_share", "Accounts reaching PQA", _share(reached, accounts), "share",
               _of(reached, accounts, "accounts were a PQA on at least one day"),
               "Share of scored accounts that were a PQA on at least one day of the score history.",
               "pqa_score_history.is_pqa"),
        Metric("time_to_pqa_days_median", "Signup to PQA (median)", median, "days", timing,
               "Median days from the account's first workspace signup to the first day it was a PQA.",
               "product_workspaces.created_at, pqa_score_history.snapshot_date, pqa_score_history.is_pqa"),
        Metric("time_to_pqa_days_p75", "Signup to PQA (75th percentile)", p75, "days", timing,
               "75th percentile of the days from first signup to the first day as a PQA.",
               "product_workspaces.created_at, pqa_score_history.snapshot_date, pqa_score_history.is_pqa"),
    ]
    new = milestones[milestones["became_pqa_at"].notna() & ~milestones["pqa_on_first_snapshot"].fillna(False)
                     .astype(bool)] if accounts else milestones
    months = pd.to_datetime(new["became_pqa_at"]).dt.to_period("M").astype(str).value_counts().sort_index()
    per_account = milestones.loc[days.index, "account_id"] if len(days) else pd.Series(dtype=object)
    breakdowns = pd.concat([
        breakdown_rows("pqas_created", "month", months.to_dict(), "count"),
        breakdown_rows("time_to_pqa_days", "account", dict(zip(per_account, days, strict=True)), "days"),
    ], ignore_index=True)
    return metrics, breakdowns


def feature_adoption(features: pd.DataFrame, feature_keys: Iterable[str]) -> pd.DataFrame:
    """Share of accounts using each feature in the last 28 days, per segment ("all" for every account):
    which features the accounts of each size actually adopt. Rows: feature_adoption / <segment> / <feature>."""
    keys = [k for k in feature_keys if f"used_{k}" in features.columns]
    if features.empty or not keys:
        return pd.DataFrame(columns=BREAKDOWN_COLUMNS)
    used = features[[f"used_{k}" for k in keys]].fillna(0).astype(bool)
    used.columns = keys
    segments = features["segment"].fillna("unknown") if "segment" in features.columns else pd.Series(
        "unknown", index=features.index)
    parts = [breakdown_rows("feature_adoption", "all", used.mean().to_dict(), "share")]
    for segment, rows in used.groupby(segments, sort=True):
        parts.append(breakdown_rows("feature_adoption", str(segment), rows.mean().to_dict(), "share"))
    return pd.concat(parts, ignore_index=True)


# --- sales ------------------------------------------------------------------------------------------------


def sales_metrics(milestones: pd.DataFrame, deals: pd.DataFrame, as_of: date) -> list[Metric]:
    """What PQAs are worth to sales: PQA -> closed-won conversion, days from PQA to close, and the pipeline
    and won amount of deals that followed the PQA (product-qualified revenue).

    A deal counts for a PQA when it belongs to the account's CRM company and was closed (won) or created
    (open pipeline) on or after the day the account first was a PQA - deals before that were not product-led.
    """
    pqas = milestones[milestones["became_pqa_at"].notna()][["account_id", "became_pqa_at"]].copy()
    pqas["became_pqa_at"] = pd.to_datetime(pqas["became_pqa_at"], errors="coerce")
    frame = deals.copy()
    frame["company_id"] = frame["company_id"].astype(str)
    frame["close"] = pd.to_datetime(frame["close_date"], errors="coerce")
    frame["created"] = pd.to_datetime(frame["created_at"], errors="coerce", utc=True).dt.tz_localize(None)
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0)
    joined = frame.merge(pqas, left_on="company_id", right_on="account_id", how="inner")
    as_of_ts = pd.Timestamp(as_of)
    won = joined[(joined["stage"] == WON_STAGE) & (joined["close"] >= joined["became_pqa_at"])
                 & (joined["close"] <= as_of_ts)]
    open_stage = ~joined["stage"].isin([WON_STAGE, LOST_STAGE])
    pipeline = joined[open_stage & (joined["created"].dt.normalize() >= joined["became_pqa_at"])]
    first_win = won.sort_values("close").drop_duplicates("account_id")
    days_to_close = (first_win["close"] - first_win["became_pqa_at"]).dt.days
    converted = int(first_win["account_id"].nunique())
    sources = "pqa_score_history.is_pqa, crm_deals.stage, crm_deals.close_date, crm_deals.amount"
    return [
        Metric("pqa_to_won_conversion", "PQA to closed-won", _share(converted, len(pqas)), "share",
               _of(converted, len(pqas), "PQAs won a deal after becoming a PQA"),
               "Share of accounts that became a PQA and then won a deal (closed on or after that day).", sources),
        Metric("pqa_to_close_days_median", "PQA to close (median)",
               float(days_to_close.median()) if len(days_to_close) else math.nan, "days",
               f"from {len(days_to_close):,} won PQAs",
               "Median days from an account's first day as a PQA to its first won deal after it.", sources),
        Metric("pq_pipeline_amount", "Open pipeline from PQAs", float(pipeline["amount"].sum()), "currency",
               f"{len(pipeline):,} open deals created after the account became a PQA",
               "Amount of open deals created on or after the account's first day as a PQA.",
               "crm_deals.amount, crm_deals.created_at, crm_deals.stage, pqa_score_history.is_pqa"),
        Metric("pq_won_amount", "Won from PQAs (product-qualified revenue)", float(won["amount"].sum()),
               "currency", f"{len(won):,} won deals closed after the account became a PQA",
               "Amount of won deals closed on or after the account's first day as a PQA.", sources),
    ]


def tier_breakdowns(validation: pd.DataFrame) -> pd.DataFrame:
    """Conversion and lift per tier from the point-in-time backtest (score_validation), as breakdown rows."""
    tiers = validation[validation["kind"] == "tier"] if not validation.empty else validation
    if tiers.empty:
        return pd.DataFrame(columns=BREAKDOWN_COLUMNS)
    return pd.concat([
        breakdown_rows("conversion_by_tier", "tier", dict(zip(tiers["name"], tiers["conversion_rate"],
                                                              strict=True)), "share"),
        breakdown_rows("lift_by_tier", "tier", dict(zip(tiers["name"], tiers["lift"], strict=True)), "ratio"),
    ], ignore_index=True)


# --- revenue ----------------------------------------------------------------------------------------------


def revenue_metrics(
    deals: pd.DataFrame, companies: pd.DataFrame, as_of: date, window_days: int = RETENTION_WINDOW_DAYS
) -> list[Metric]:
    """Expansion ARR, net revenue retention and logo retention over the `window_days` before `as_of`.

    A won deal's amount is taken as annual contract value (ARR). A company's ARR on a day is the sum of its won
    new-business and expansion deals closed by then (a renewal keeps the ARR, it does not add to it), or 0 once
    it churned. Churn is what the CRM records: a lost renewal deal closed in the window, or a lifecycle stage
    of former customer / churned (a stage has no date: such a company counts as churned within the window).
    Without any churn record in the CRM the retention figures are still computed - they then only reflect
    expansion - and `detail` says so.
    """
    start = pd.Timestamp(as_of - timedelta(days=window_days))
    end = pd.Timestamp(as_of)
    frame = deals.copy()
    frame["company_id"] = frame["company_id"].astype(str)
    frame["close"] = pd.to_datetime(frame["close_date"], errors="coerce")
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0)
    frame["kind"] = deal_kinds(frame)
    won = frame[(frame["stage"] == WON_STAGE) & frame["close"].notna() & (frame["kind"] != RENEWAL)]
    churn_deals = frame[(frame["kind"] == RENEWAL) & (frame["stage"] == LOST_STAGE)
                        & (frame["close"] > start) & (frame["close"] <= end)]
    churned = set(churn_deals["company_id"])
    if "lifecycle_stage" in companies.columns:
        stages = companies["lifecycle_stage"].astype(str).str.lower()
        churned |= set(companies.loc[stages.isin(CHURNED_STAGES), "company_id"].astype(str))

    arr_start = won[won["close"] <= start].groupby("company_id")["amount"].sum()
    arr_end = won[won["close"] <= end].groupby("company_id")["amount"].sum()
    cohort = arr_start[arr_start > 0].index
    cohort_end = arr_end.reindex(cohort).fillna(0.0).where(~cohort.isin(list(churned)), 0.0)
    expansion = won[(won["kind"] == EXPANSION) & (won["close"] > start) & (won["close"] <= end)]
    retained = int((cohort_end > 0).sum())
    churn_note = (f"{len(churned & set(cohort)):,} of them churned" if churned else
                  "no churn recorded in the CRM (no lost renewal deals, no former-customer stage): "
                  "this reflects expansion only")
    period = f"{start.date()} to {end.date()}"
    sources = "crm_deals.amount, crm_deals.stage, crm_deals.deal_type, crm_deals.name, crm_deals.close_date"
    return [
        Metric("expansion_arr", "Expansion ARR (12 months)", float(expansion["amount"].sum()), "currency",
               f"{len(expansion):,} won expansion deals, {period}",
               "Amount of won expansion deals (existing business that is not a renewal) closed in the last 12 "
               "months.", sources),
        Metric("net_revenue_retention", "Net revenue retention", _share(float(cohort_end.sum()),
               float(arr_start[cohort].sum())) if len(cohort) else math.nan, "ratio",
               f"{len(cohort):,} customers paying on {start.date()}; {churn_note}",
               "ARR today of the customers who were paying 12 months ago, over their ARR then (won deals as "
               "annual value; churned customers count 0).", sources + ", crm_companies.lifecycle_stage"),
        Metric("logo_retention", "Logo retention", _share(retained, len(cohort)), "share",
               _of(retained, len(cohort), f"customers of {start.date()} still paying; ") + churn_note,
               "Share of the customers paying 12 months ago that still pay today.",
               sources + ", crm_companies.lifecycle_stage"),
    ]


def deal_kinds(deals: pd.DataFrame) -> pd.Series:
    """new_business, expansion or renewal per deal, from its type and (for HubSpot's generic existing-business
    type) its name."""
    kind = deals["deal_type"].fillna("").astype(str).str.strip().str.lower()
    named_renewal = deals["name"].fillna("").astype(str).str.contains("renewal", case=False) if "name" in deals \
        else pd.Series(False, index=deals.index)
    return pd.Series(np.select(
        [kind.isin(RENEWAL_TYPES) | (kind.isin(EXISTING_BUSINESS_TYPES) & named_renewal),
         kind.isin(EXISTING_BUSINESS_TYPES)],
        [RENEWAL, EXPANSION], NEW_BUSINESS,
    ), index=deals.index)


def signup_dates(account_map: pd.DataFrame, workspaces: pd.DataFrame) -> pd.Series:
    """account_id -> the first signup of its workspaces (the account's start in the product)."""
    joined = account_map[["workspace_id", "account_id"]].merge(
        workspaces[["workspace_id", "created_at"]], on="workspace_id", how="left"
    )
    created = pd.to_datetime(joined["created_at"], errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()
    return created.groupby(joined["account_id"]).min()


def format_value(value: float, unit: str) -> str:
    """A metric value as people read it: 34%, 1.08x, 12 days, 1,204,500, or n/a."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "ratio":
        return f"{value:.2f}x"
    if unit == "days":
        return f"{value:,.0f} days"
    return f"{value:,.0f}"
